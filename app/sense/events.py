"""An event log with getEvents semantics: ids that grow, the documented filters, and a `wait=` long poll.

The simulator keeps its events here, and a manager keeps its merged events (its own and its server's)."""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from .xml import Element, el, fields

SENSE_UTC = "%Y-%m-%d %H:%M:%S"  # how Sense writes a UTC time (eventtime, streamed events)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime(SENSE_UTC)


def utc_text(seconds: float) -> str:
    """Seconds since the epoch as a Sense UTC time."""
    return time.strftime(SENSE_UTC, time.gmtime(seconds))


def utc_seconds(utc: object) -> float | None:
    """A Sense UTC time as seconds since the epoch; None when it is not one."""
    try:
        return float(calendar.timegm(time.strptime(str(utc), SENSE_UTC)))
    except ValueError:
        return None


@dataclass
class Event:
    eventid: int
    eventtype: str
    eventdescription: str
    eventvalue: str
    eventtime: str
    serverid: str = "0"
    serverdescription: str = ""
    deviceid: str = "0"
    devicedescription: str = ""
    divaid: str = "0"
    uid: str = ""  # the uid of the action that caused it (an extra tag; clients ignore what they don't know)


@dataclass
class EventQuery:
    startid: int | None = None
    types: tuple[str, ...] = ()
    limit: int = 25
    serverid: str | None = None
    deviceid: str | None = None
    value_contains: str | None = None
    value_equals: str | None = None
    starttime: str | None = None
    endtime: str | None = None

    def matches(self, e: Event) -> bool:
        if self.types and e.eventtype.lower() not in self.types:
            return False
        if self.serverid is not None and e.serverid != self.serverid:
            return False
        if self.deviceid is not None and e.deviceid != self.deviceid:
            return False
        if self.value_contains is not None and self.value_contains.lower() not in e.eventvalue.lower():
            return False
        if self.value_equals is not None and e.eventvalue != self.value_equals:
            return False
        # Timestamps share one fixed format, so text order is time order.
        if self.starttime is not None and e.eventtime < self.starttime:
            return False
        return not (self.endtime is not None and e.eventtime > self.endtime)


class EventLog:
    """A bounded log of events. `wait_after` lets a getEvents call with `wait=` sleep until something new."""

    def __init__(self, capacity: int) -> None:
        self._events: deque[Event] = deque(maxlen=capacity)
        self._by_uid: dict[str, int] = {}  # uid -> event id, for the events still kept
        self._next_id = 1
        self._changed = asyncio.Event()

    @property
    def last_id(self) -> int:
        return self._next_id - 1

    def add(self, eventtype: str, description: str, value: str = "", **where: str) -> Event:
        e = Event(self._next_id, eventtype, description, value, utc_now(), **where)
        self._next_id += 1
        self._append(e)
        self._changed.set()
        self._changed = asyncio.Event()
        return e

    def _append(self, e: Event) -> None:
        if len(self._events) == self._events.maxlen:
            dropped = self._events[0]
            if dropped.uid and self._by_uid.get(dropped.uid) == dropped.eventid:
                del self._by_uid[dropped.uid]
        self._events.append(e)
        if e.uid:
            self._by_uid[e.uid] = e.eventid

    def knows_uid(self, uid: str) -> bool:
        """Whether an action with this uid changed something here (within the kept events)."""
        return uid in self._by_uid

    def query(self, q: EventQuery) -> list[Event]:
        if q.startid is None or q.startid <= 0:
            return []
        found = [e for e in self._events if e.eventid > q.startid and q.matches(e)]
        if q.limit >= 0:
            return found[: q.limit]
        return found[q.limit :]

    async def wait_for(self, q: EventQuery, seconds: float) -> list[Event]:
        """Like query, but waits up to `seconds` for a first matching event."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            found = self.query(q)
            remaining = deadline - loop.time()
            if found or remaining <= 0 or q.startid is None or q.startid <= 0:
                return found
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return self.query(q)

    def since(self, after_id: int) -> list[dict[str, object]]:
        return [asdict(e) for e in self._events if e.eventid > after_id]

    def merge(self, events: Iterable[dict[str, object]], next_id: int) -> None:
        """Take events replicated from the active server (same ids), keeping ours in id order."""
        known = self.last_id
        for raw in events:
            e = Event(**raw)  # type: ignore[arg-type]
            if e.eventid > known:
                self._append(e)
                known = e.eventid
        self._next_id = max(self._next_id, next_id)
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def next_id(self) -> int:
        return self._next_id


def query_from_params(p: dict[str, Any]) -> EventQuery:
    """getEvents' validated parameters as a query."""
    return EventQuery(
        startid=p.get("startid"),
        limit=p.get("limit", 25),
        types=tuple(t.strip().lower() for t in str(p.get("types", "")).split(",") if t.strip()),
        serverid=p.get("serverid"),
        deviceid=p.get("deviceid"),
        value_contains=p.get("valuecontains"),
        value_equals=p.get("valueequals"),
        starttime=p.get("starttime"),
        endtime=p.get("endtime"),
    )


async def answer_get_events(log: EventLog, p: dict[str, Any]) -> Element:
    """The `<events count lasteventid>` element of a getEvents answer, waiting if `wait=` asks to."""
    q = query_from_params(p)
    wait_ms = int(p.get("wait", 0))
    found = await log.wait_for(q, wait_ms / 1000) if wait_ms else log.query(q)
    return el("events", None, *(event_xml(e) for e in found), count=len(found), lasteventid=log.last_id)


def event_xml(e: Event) -> Element:
    return fields("event", {k: v for k, v in asdict(e).items()})
