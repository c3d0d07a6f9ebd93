"""Alarms from the active server's events (docs/workflows-protocol.md): the rules, the site's lists they are checked
against, an event turned into one alarm for both managers, flood groups, acknowledge and close."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..config import DEFAULTS
from ..sense import ResultCode, SenseError, el, encode, fields, parse_result, result_xml
from ..sense.events import utc_now, utc_seconds
from ..sense.xml import Element
from .etcd import EtcdError, b64, cmp_create, op_get, op_put, prefix_end
from .settings import AlarmRule

if TYPE_CHECKING:
    from .ops import Change, Ops

log = logging.getLogger(__name__)
QUEUE = 10_000  # server events waiting to become alarms, at most (a flood beyond it is logged and dropped)
OPEN = ("new", "acknowledged")
_STATE_ORDER = {"new": 0, "acknowledged": 1, "closed": 2}
_PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}
_ID_OK = re.compile(r"^[0-9a-f]{16}$")
_ALARM_FIELDS = (
    *("id", "type", "priority", "title", "serverid", "cameraid", "time", "state", "ackedby", "ackedat"),
    *("comment", "closedby", "closedat", "count", "lasttime"),
)
EVENT_FIELDS = ("serverid", "eventid", "eventtype", "eventtime", "deviceid", "eventvalue")


def alarm_id(e: dict[str, str]) -> str:
    """The same for both managers, who follow the same server's events."""
    return hashlib.sha1("|".join(e.get(k, "") for k in EVENT_FIELDS).encode("utf-8")).hexdigest()[:16]


@dataclass
class SiteLists:
    """The active server's cameras, layouts and viewers: rules are checked against them, tour steps find their
    camera's server in them."""

    known: bool = False
    cameras: dict[tuple[str, str], str] = field(default_factory=dict)  # (serverid, deviceid) -> name
    panels: dict[str, set[str]] = field(default_factory=dict)  # layoutid -> panelids
    viewers: set[str] = field(default_factory=set)

    def serverid_of(self, camera: str) -> str | None:
        """The server of a camera by its id ("" while the lists are not known); None: no such camera."""
        if not self.known:
            return ""
        return next((s for s, d in self.cameras if d == camera), None)

    def has_camera(self, serverid: str, camera: str) -> bool:
        if serverid in ("", "0"):
            return self.serverid_of(camera) is not None
        return not self.known or (serverid, camera) in self.cameras

    def name_of(self, serverid: str, camera: str) -> str:
        found = self.cameras.get((serverid, camera))
        if found is None:
            found = next((n for (_, d), n in self.cameras.items() if d == camera), None)
        return found or f"camera {camera}"


class AlarmMaker:
    def __init__(self, ops: Ops) -> None:
        self.ops = ops
        self.rules: list[AlarmRule] = list(ops.s.alarm_rules)
        self.lists = SiteLists()
        self.rule_errors: dict[int, str] = {}
        self.dropped = 0
        self._queue: asyncio.Queue[tuple[dict[str, str], AlarmRule]] = asyncio.Queue(QUEUE)
        # getAlarms answers by state filter: (cache version, the answer, its count attributes); rebuilt only when
        # the alarms (or the rules' errors) changed, or an offered reaction's window ended (at `_expires`).
        self._answers: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self._expires = math.inf

    def start(self) -> list[asyncio.Task[None]]:
        return [
            asyncio.create_task(self._ingest_all(), name="alarm-ingest"),
            asyncio.create_task(self._follow_lists(), name="alarm-site-lists"),
        ]

    # -- events in ---------------------------------------------------------------------------------------

    def server_event(self, e: dict[str, str]) -> None:
        """One event of the active server (fields of getEvents). Never blocks the event follower."""
        rule = next((r for r in self.rules if r.matches(e.get("eventtype", ""))), None)
        if rule is None:
            return
        try:
            self._queue.put_nowait((e, rule))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.error("more than %d server events wait to become alarms: %d dropped", QUEUE, self.dropped)

    async def _ingest_all(self) -> None:
        while True:
            e, rule = await self._queue.get()
            end = asyncio.get_running_loop().time() + 30
            while True:
                try:
                    await self._ingest(e, rule)
                    break
                except asyncio.CancelledError:
                    raise
                except EtcdError as exc:
                    if asyncio.get_running_loop().time() > end:
                        log.error("event %s did not become an alarm (etcd: %s)", e.get("eventid"), exc)
                        break
                    await asyncio.sleep(0.2)
                except Exception:
                    log.exception("event %s did not become an alarm", e.get("eventid"))
                    break

    async def _ingest(self, e: dict[str, str], rule: AlarmRule) -> None:
        """Once for both managers: the `alarmseen` key is created with create_revision == 0, and the decision
        (a new alarm, a new flood group, one more in a group) holds only while no alarm changed since it was read."""
        ops, client = self.ops, self.ops.client
        h = alarm_id(e)
        seen = ops.key("alarmseen", h)
        alarms_prefix = f"{ops.prefix}alarm/"
        for _ in range(20):
            kvs, revision = await client.get_prefix(alarms_prefix)
            alarms = [kv.json() for kv in kvs]
            now = time.time()
            value = self._new(h, e, rule)
            # Floods are grouped per rule and camera: a flood on one camera hides nothing on the others.
            where = (value["serverid"], value["cameraid"])
            mine = [
                a for a in alarms if a.get("rule") == rule.index and (a.get("serverid"), a.get("cameraid")) == where
            ]
            recent = sum(
                1
                for a in mine
                if not a.get("flood") and now - (utc_seconds(a.get("time")) or now) <= ops.s.flood_window
            )
            if recent >= ops.s.flood_count:
                group = next((a for a in mine if a.get("flood") and a.get("state") in OPEN), None)
                if group is not None:
                    value = {**group, "count": int(group.get("count", 1)) + 1, "lasttime": value["time"]}
                    if group.get("state") == "acknowledged":  # one more event: it needs attention again
                        value.update(state="new", ackedby="", ackedat="")
                else:
                    value.update(flood=True, title=f"{rule.title or rule.type}: a flood of alarms, grouped")
            key = ops.key("alarm", value["id"])
            unchanged = {
                "key": b64(alarms_prefix),
                "range_end": prefix_end(alarms_prefix),
                "target": "MOD",
                "result": "LESS",
                "mod_revision": str(revision + 1),
            }
            lease = await ops.bucket_lease()
            r = await client.txn(
                [cmp_create(seen, 0), unchanged],
                [op_put(key, json.dumps(value)), op_put(seen, json.dumps({"alarm": value["id"]}), lease)],
                [op_get(seen)],
            )
            if r.succeeded:
                ops.learn("alarm", value["id"], value, r.revision)
                return
            if r.range_kvs():
                return  # the other manager (or our own earlier try) made it
        log.error("event %s: alarms kept changing; it did not become an alarm", e.get("eventid"))

    def _new(self, h: str, e: dict[str, str], rule: AlarmRule) -> dict[str, Any]:
        lists = self.lists
        serverid, device = e.get("serverid", "0"), e.get("deviceid", "0")
        if rule.camera:
            camera, serverid = rule.camera, rule.serverid or lists.serverid_of(rule.camera) or ""
        elif device not in ("", "0") and lists.has_camera(serverid, device):
            camera = device
            if serverid in ("", "0"):
                serverid = lists.serverid_of(device) or ""
        else:
            camera, serverid = "", "" if serverid == "0" else serverid
        kind = e.get("eventtype", rule.type)
        where = lists.name_of(serverid, camera) if camera else e.get("devicedescription", "")
        title = rule.title or (f"{kind} on {where}" if where else kind)
        at = e.get("eventtime") or utc_now()
        return {
            "id": h,
            "type": kind,
            "priority": rule.priority,
            "title": title,
            "serverid": serverid,
            "cameraid": camera,
            "time": at,
            "state": "new",
            "ackedby": "",
            "ackedat": "",
            "comment": "",
            "closedby": "",
            "closedat": "",
            "count": 1,
            "lasttime": at,
            "rule": rule.index,
            "flood": False,
            "created": time.time(),  # UTC seconds, by the manager that made it: its reaction is offered for a while
        }

    # -- acknowledge and close ------------------------------------------------------------------------------

    async def act(self, name: str, v: dict[str, object], station: str, uid: str) -> bytes:
        from .ops import Change, ok, refuse

        alarm = str(v["alarmid"]).strip().lower()
        if not _ID_OK.fullmatch(alarm):
            raise refuse(ResultCode.ALARM_STATE, f"no alarm {alarm[:40]!r}: an alarm id is 16 hex digits")
        comment = str(v.get("comment", ""))[:500]
        closing = name == "closealarm"
        lease = await self.ops.granted(self.ops.bucket_lease()) if closing else 0

        def decide(cur: dict[str, Any] | None) -> Change:
            if cur is None:
                raise refuse(ResultCode.ALARM_STATE, f"no alarm {alarm} (unknown, or closed and forgotten)")
            state, title = cur.get("state"), cur.get("title", alarm)
            if state == "closed":
                if closing:
                    return Change(None, ok(f"already closed by {cur.get('closedby', '?')}"))
                raise refuse(ResultCode.ALARM_STATE, f"alarm {title} is closed (by {cur.get('closedby', '?')})")
            if not closing and state == "acknowledged":
                return Change(None, ok(f"already acknowledged by {cur.get('ackedby', '?')}"))
            who = "closedby" if closing else "ackedby"
            new = {
                **cur,
                "state": "closed" if closing else "acknowledged",
                who: station,
                ("closedat" if closing else "ackedat"): utc_now(),
                "comment": comment or cur.get("comment", ""),
            }
            return Change(new, ok(f"alarm {title} {'closed' if closing else 'acknowledged'}"), lease)

        answer, _ = await self.ops.rmw("alarm", alarm, uid, decide)
        return answer

    def changed(self, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        """Our cache saw an alarm change: the manager's event log tells it."""
        state = new.get("state")
        where = {"serverid": str(new.get("serverid") or "0"), "deviceid": str(new.get("cameraid") or "0")}
        if old is None:
            if state == "new":
                self.ops.event(
                    "AlarmRaised", f"{new.get('priority')} alarm: {new.get('title')}", str(new.get("id")), **where
                )
            return
        if old.get("state") == state:
            return
        if state == "acknowledged":
            text = f"by {new.get('ackedby')}: {new.get('comment', '')}"
            self.ops.event("AlarmAcknowledged", f"alarm {new.get('title')} acknowledged", text, **where)
        elif state == "closed":
            text = f"by {new.get('closedby')}: {new.get('comment', '')}"
            self.ops.event("AlarmClosed", f"alarm {new.get('title')} closed", text, **where)

    # -- getAlarms -------------------------------------------------------------------------------------------

    def answer(self, which: str, since: str = "") -> bytes:
        """getAlarms, from the answer built at this cache version (the consoles poll it often); `since`: the
        revision the console holds, answered with `unchanged` when it is still this one."""
        if which not in ("open", "all"):
            raise SenseError.of(ResultCode.VALUE_OUT_OF_RANGE, f"state must be open or all, not {which[:20]!r}")
        versions = self.ops.version
        if time.time() >= self._expires:  # an offered reaction's window ended: the answer changes
            versions["alarm"] += 1
            self._expires = math.inf
        version = versions["alarm"]
        cached = self._answers.get(which)
        if cached is None or cached[0] != version:
            root = self.xml(which)
            counts = {k: str(root.get(k)) for k in ("count", "unacknowledged", "unacknowledgedhigh")}
            cached = (version, result_xml(0, None, root), counts)
            self._answers[which] = cached
        if since.strip() == str(version):
            return result_xml(0, None, el("alarms", None, unchanged="true", revision=version, **cached[2]))
        return cached[1]

    def xml(self, which: str) -> Element:
        every = [e.value for e in self.ops.cache["alarm"].values()]
        opened = [a for a in every if a.get("state") in OPEN]
        listed = sorted(every if which == "all" else opened, key=lambda a: str(a.get("lasttime", "")), reverse=True)
        listed.sort(
            key=lambda a: (_STATE_ORDER.get(str(a.get("state")), 3), _PRIORITY_ORDER.get(str(a.get("priority")), 3))
        )
        new = [a for a in opened if a.get("state") == "new"]
        rows = [self._alarm_xml(a) for a in listed]
        return el(
            "alarms",
            None,
            *rows,
            revision=self.ops.version["alarm"],
            count=len(rows),
            unacknowledged=len(new),
            unacknowledgedhigh=sum(1 for a in new if a.get("priority") == "high"),
        )

    def _alarm_xml(self, a: dict[str, Any]) -> Element:
        row = fields("alarm", {k: a.get(k, "") for k in _ALARM_FIELDS})
        row.append(el("flood", str(bool(a.get("flood"))).lower()))
        row.append(el("reactions", None, *self._reactions(a)))
        return row

    def _reactions(self, a: dict[str, Any]) -> list[Element]:
        index = a.get("rule")
        if a.get("flood") or not isinstance(index, int) or not 0 <= index < len(self.rules) or not a.get("cameraid"):
            return []
        rule = self.rules[index]
        if rule.reaction is None or index in self.rule_errors:
            return []
        # Offered only for a while after the alarm was raised, well within the time its uid is remembered: a console
        # started later must not move the wall again. An alarm without its creation time offers none.
        created = a.get("created")
        if isinstance(created, bool) or not isinstance(created, (int, float)):
            return []
        ends = float(created) + self.ops.s.reaction_window
        if time.time() >= ends:
            return []
        self._expires = min(self._expires, ends)
        rx = rule.reaction
        query = urlencode(
            [
                ("cameraview", f"cameraid:{a['cameraid']}"),
                ("divaid", rx.divaid),
                ("layoutid", rx.layoutid),
                ("panelid", rx.panelid),
            ]
        )
        return [el("reaction", None, uid=f"alarm-{a.get('id')}-r{index}", command="selectCamera", query=query)]

    # -- the site's lists and the rules checked against them -----------------------------------------------

    async def _follow_lists(self) -> None:
        servers = self.ops.m.servers
        loaded_from = ""
        while True:
            active = servers.active
            if active is not None and active.url != loaded_from:
                try:
                    await self._load_lists()
                    loaded_from = active.url
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the next poll tries again
                    log.info("the active server's lists could not be read: %s", exc)
            await servers.wait_change(DEFAULTS.health_poll)

    async def _load_lists(self) -> None:
        servers = self.ops.m.servers
        answers = {}
        for name in ("getDeviceList", "getLayoutList", "getDivaList"):
            body, _ = await servers.fetch(encode(name), asyncio.get_running_loop().time() + 10)
            res = parse_result(body)
            if not res.ok:
                raise SenseError(res.errorcode, f"{name}: {res.message()}")
            answers[name] = res.root
        lists = SiteLists(known=True)
        for d in answers["getDeviceList"].iterfind("devices/device"):
            lists.cameras[(d.findtext("serverid") or "", d.findtext("deviceid") or "")] = d.findtext("name") or ""
        for lay in answers["getLayoutList"].iterfind("layouts/layout"):
            lists.panels[lay.findtext("layoutid") or ""] = {
                p.findtext("panelid") or "" for p in lay.iterfind("panels/panel")
            }
        for d in answers["getDivaList"].iterfind("divas/diva"):
            if (d.findtext("type") or "").lower() != "diva server":
                lists.viewers.add(d.findtext("divaid") or "")
        self.lists = lists
        self._check_rules()

    def _check_rules(self) -> None:
        errors: dict[int, str] = {}
        lists = self.lists
        for r in self.rules:
            why = []
            if r.camera and not lists.has_camera(r.serverid, r.camera):
                where = f" on server {r.serverid}" if r.serverid else ""
                why.append(f"camera {r.camera}{where} is not in the active server's device list")
            if r.reaction is not None:
                rx = r.reaction
                if rx.divaid not in lists.viewers:
                    why.append(f"the reaction's divaid {rx.divaid} is not a viewer station of the active server")
                if rx.layoutid not in lists.panels:
                    why.append(f"the reaction's layoutid {rx.layoutid} is not in the active server's layout list")
                elif rx.panelid not in lists.panels[rx.layoutid]:
                    why.append(f"layout {rx.layoutid} has no panel {rx.panelid}")
            if why:
                errors[r.index] = "; ".join(why)
                if self.rule_errors.get(r.index) != errors[r.index]:
                    log.error(
                        "alarm rule %d (type %r): %s; its reaction is not offered. Fix [[alarms]] in the config",
                        r.index + 1,
                        r.type,
                        errors[r.index],
                    )
        if errors != self.rule_errors:
            self.ops.version["alarm"] += 1  # the reactions offered change
        self.rule_errors = errors

    def status_xml(self) -> Element:
        rows = []
        for r in self.rules:
            rx = r.reaction
            rows.append(
                fields(
                    "rule",
                    {
                        "index": r.index,
                        "type": r.type,
                        "priority": r.priority,
                        "camera": r.camera,
                        "reaction": f"{rx.divaid}/{rx.layoutid}/{rx.panelid}" if rx else "",
                        "ok": str(r.index not in self.rule_errors).lower(),
                        "error": self.rule_errors.get(r.index, ""),
                    },
                )
            )
        return el(
            "alarmrules",
            None,
            *rows,
            count=len(rows),
            errors=len(self.rule_errors),
            checked=str(self.lists.known).lower(),
        )
