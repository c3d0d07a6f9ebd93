"""Where a manager is in the active server's events (getEvents), across server changes and restarts.

An event id means something only on the server that gave it: after a takeover the new active server numbers its
events on from what it had replicated, so the ids of the events the dead server never passed on are given again to
new events; and a restarted server may start again at 1. Following one position across servers skipped those new
events (alarms lost). So a position belongs to one server URL, and whenever the manager starts following a server
(its own start, a takeover, a failback, a server whose ids went backwards) it reads that server's last events
again from a little before it lost sight of the events (`REPLAY_MARGIN`), and lets through only the events it has
not forwarded already. The alarms themselves are made once however often an event is seen (the `alarmseen` key in
etcd, docs/workflows-protocol.md), so reading an event again costs nothing but a look-up.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from xml.etree.ElementTree import Element

from ..sense import fields
from ..sense.events import utc_seconds, utc_text
from .alarms import EVENT_FIELDS, alarm_id

log = logging.getLogger(__name__)

REPLAY_MARGIN = 120.0  # seconds read again before the last good poll (or the start): covers a poll cycle and skew
REPLAY_LIMIT = 500  # the last events a server is asked for when the manager starts following it
RECENT = 4096  # events forwarded lately, remembered so a read-again forwards none twice
FIELDS = (*EVENT_FIELDS, "eventdescription", "divaid", "serverdescription", "devicedescription")


class EventFollower:
    """The getEvents request to send next, and which events of an answer are new."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.url: str | None = None
        self.last: int | None = None  # the last event id seen on `url`; None: read its last events again
        self.seen_until = clock()  # wall clock of the last good answer (or the start): a replay goes back from here
        self._recent: OrderedDict[str, None] = OrderedDict()
        self.replays = 0

    def request(self, url: str, wait_ms: int) -> dict[str, str]:
        if url != self.url:
            self.url, self.last = url, None
        if self.last is None:
            # The last events, oldest first (startid 1: getEvents gives nothing without a startid > 0).
            return {"command": "getEvents", "startid": "1", "limit": str(-REPLAY_LIMIT)}
        return {"command": "getEvents", "startid": str(self.last), "limit": "500", "wait": str(wait_ms)}

    def take(self, url: str, events: Element) -> list[dict[str, str]]:
        """The events of a getEvents answer from `url` not forwarded before, in the server's order."""
        server_last = int(events.get("lasteventid", "0"))
        if url != self.url:
            return []  # an answer of a server no longer followed
        if self.last is not None and server_last < self.last:
            self.last = None  # the server started its ids again (restarted with an empty log): read it again
            return []
        replay = self.last is None
        cutoff = self.seen_until - REPLAY_MARGIN
        newest = self.last or 0
        out = []
        for e in events.iterfind("event"):
            fields = {k: e.findtext(k) or "" for k in FIELDS}
            try:
                newest = max(newest, int(fields["eventid"] or 0))
            except ValueError:
                continue
            if replay:
                at = utc_seconds(fields["eventtime"])
                if at is None or at < cutoff:
                    continue  # before the window: the managers had it then, or nobody followed that server
            key = alarm_id(fields)
            if key in self._recent:
                self._recent.move_to_end(key)
                continue
            self._recent[key] = None
            if len(self._recent) > RECENT:
                self._recent.popitem(last=False)
            out.append(fields)
        if replay:
            self.replays += 1
            newest = max(newest, server_last)
            log.info(
                "following the events of %s from %s UTC: %d not forwarded before",
                url,
                utc_text(cutoff),
                len(out),
            )
        self.last = newest
        self.seen_until = self._clock()
        return out

    def status_xml(self) -> Element:
        """`<serverevents>` in getManagerStatus: which server's events this manager follows and from where."""
        return fields(
            "serverevents",
            {"server": self.url or "", "lasteventid": "" if self.last is None else self.last, "replays": self.replays},
        )
