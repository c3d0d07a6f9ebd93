"""The managers' shared workflows (app/manager/ops.py, alarms.py, tours.py, ptz.py) without processes: an in-memory
etcd and server stand in, so the cases that are hard to bring about with real ones (a switch certainly not sent, a
lease etcd does not grant, a lost cluster) are exact."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest

from app.manager.alarms import alarm_id
from app.manager.etcd import EtcdUnavailable, KeyValue, TxnResult, unb64
from app.manager.ops import Ops
from app.manager.servers import NotSent
from app.manager.settings import parse_alarm_rules
from app.sense import CommandRequest, ResultCode, parse_result, result_xml

RULES = [{"type": "Motion", "priority": "high", "reaction": {"divaid": "1", "layoutid": "2", "panelid": "3"}}]


class FakeEtcd:
    def __init__(self) -> None:
        self.kvs: dict[str, tuple[bytes, int]] = {}
        self.revision = 1
        self.grant_fails = False

    async def get(self, key: str) -> KeyValue | None:
        got = self.kvs.get(key)
        return None if got is None else KeyValue(key, got[0], got[1], got[1], 0)

    async def txn(self, compare: list[dict[str, Any]], success: list[dict[str, Any]], *_: Any) -> TxnResult:
        for c in compare:
            mod = self.kvs.get(unb64(c["key"]).decode(), (b"", 0))[1]
            if mod != int(c.get("mod_revision", c.get("create_revision", 0))):
                return TxnResult(False, self.revision, [])
        self.revision += 1
        for op in success:
            put = op["request_put"]
            self.kvs[unb64(put["key"]).decode()] = (unb64(put["value"]), self.revision)
        return TxnResult(True, self.revision, [])

    async def grant(self, ttl: int) -> int:
        if self.grant_fails:
            raise EtcdUnavailable("no member answered")
        return 7

    def value(self, key: str) -> dict[str, Any]:
        return dict(json.loads(self.kvs[key][0]))


class FakeServers:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail: Exception | None = None

    async def execute(self, query: str, deadline: float) -> bytes:
        if self.fail is not None:
            raise self.fail
        self.sent.append(query)
        return result_xml(0, "Ok")


def make_ops(**settings: Any) -> tuple[Ops, FakeEtcd, FakeServers]:
    s = SimpleNamespace(
        alarm_rules=parse_alarm_rules(RULES),
        dedup_window=600.0,
        ptz_hold=15.0,
        flood_count=10,
        flood_window=600.0,
        reaction_window=60.0,
        **settings,
    )
    etcd, servers = FakeEtcd(), FakeServers()
    coord = SimpleNamespace(client=etcd, prefix="/p/", health=SimpleNamespace(ok=True))
    manager = SimpleNamespace(s=s, coord=coord, servers=servers, events=SimpleNamespace(add=lambda *a, **k: None))
    ops = Ops(manager)  # type: ignore[arg-type]
    getattr(ops, "_down", {}).clear()  # the watches stream
    return ops, etcd, servers


def new_alarm(ops: Ops, eventid: str = "1", **extra: Any) -> dict[str, Any]:
    e = {"serverid": "1", "eventid": eventid, "eventtype": "Motion", "deviceid": "101", "eventtime": "2024-01-01"}
    value = {**ops.alarms._new(alarm_id(e), e, ops.alarms.rules[0]), "cameraid": "101", **extra}
    ops.learn("alarm", value["id"], value, ops.version["alarm"])
    return value


def listed(body: bytes) -> list[Any]:
    return parse_result(body).root.findall("alarms/alarm")


# -- reactions: offered only for reaction_window after the alarm was raised -----------------------------------


def test_a_reaction_is_offered_only_within_the_reaction_window_of_the_alarm() -> None:
    ops, _, _ = make_ops()
    fresh = new_alarm(ops, "1")
    assert isinstance(fresh["created"], float) and abs(fresh["created"] - time.time()) < 5
    new_alarm(ops, "2", created=time.time() - 61)  # raised 61 s ago: a console started now must not apply it
    old = new_alarm(ops, "3")
    del old["created"]  # an alarm of an older manager: none
    ops.learn("alarm", old["id"], old, 10**9)
    offered = {a.findtext("id"): a.findall("reactions/reaction") for a in listed(ops.alarms.answer("all"))}
    assert len(offered[fresh["id"]]) == 1 and offered[fresh["id"]][0].get("uid") == f"alarm-{fresh['id']}-r0"
    assert [len(v) for v in offered.values()].count(0) == 2


def test_a_cached_answer_drops_a_reaction_whose_window_ended() -> None:
    ops, _, _ = make_ops()
    a = new_alarm(ops, "1", created=time.time() - 59.5)
    first = ops.alarms.answer("open")
    assert listed(first)[0].findall("reactions/reaction")
    time.sleep(0.6)
    later = ops.alarms.answer("open")
    assert listed(later)[0].findall("reactions/reaction") == [] and listed(later)[0].findtext("id") == a["id"]
    assert parse_result(later).root.find("alarms").get("revision") != parse_result(first).root.find("alarms").get(
        "revision"
    )


# -- getAlarms: built once per change, `since` answers `unchanged` ----------------------------------------------


def test_get_alarms_is_built_once_per_change_and_since_the_same_revision_is_unchanged() -> None:
    ops, _, _ = make_ops()
    for i in range(3):
        new_alarm(ops, str(i))
    first = ops.read(CommandRequest("getAlarms", {}))
    assert ops.read(CommandRequest("getAlarms", {})) is first  # the same bytes: not rebuilt per poll
    head = parse_result(first).root.find("alarms")
    assert head is not None and head.get("count") == "3"
    rev = head.get("revision") or ""
    same = parse_result(ops.read(CommandRequest("getAlarms", {"since": rev}))).root.find("alarms")
    assert same is not None and len(same) == 0
    assert dict(same.attrib) == {
        "unchanged": "true",
        "revision": rev,
        "count": "3",
        "unacknowledged": "3",
        "unacknowledgedhigh": "3",
    }
    new_alarm(ops, "9")  # the watch brings a change: a new revision, answered in full
    after = parse_result(ops.read(CommandRequest("getAlarms", {"since": rev}))).root.find("alarms")
    assert after is not None and after.get("unchanged") is None and after.get("count") == "4"
    assert after.get("revision") != rev
    every = parse_result(ops.read(CommandRequest("getAlarms", {"state": "all"}))).root.find("alarms")
    assert every is not None and every.get("count") == "4"


# -- stale reads ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["getAlarms", "getTours", "getPtzControl"])
def test_reads_are_refused_as_not_final_while_etcd_is_lost_or_the_watch_is_down(command: str) -> None:
    ops, _, _ = make_ops()
    new_alarm(ops, "1")
    assert parse_result(ops.read(CommandRequest(command, {}))).ok
    ops.m.coord.health.ok = False
    r = parse_result(ops.read(CommandRequest(command, {})))
    assert r.errorcode == ResultCode.COORDINATION_UNAVAILABLE and "lost the etcd cluster" in r.message()
    ops.m.coord.health.ok = True
    kind = {"getAlarms": "alarm", "getTours": "tour", "getPtzControl": "ptz"}[command]
    ops._down[kind] = time.monotonic() - 0.2  # a break while it connects again: still answered
    assert parse_result(ops.read(CommandRequest(command, {}))).ok
    ops._down[kind] = time.monotonic() - 5  # down for seconds: stale
    assert parse_result(ops.read(CommandRequest(command, {}))).errorcode == ResultCode.COORDINATION_UNAVAILABLE


# -- a tour step whose switch was certainly not sent -----------------------------------------------------------


def _tour(ops: Ops) -> None:
    v = {"run": "t1", "divaid": "1", "layoutid": "2", "panelid": "3", "dwell": "10", "cameras": "101,102"}
    assert parse_result(asyncio.run(ops.tours.start(v, "Desk 1", "start-t1"))).ok


def test_a_step_whose_switch_was_not_sent_is_unrecorded_so_the_retry_shows_it() -> None:
    ops, etcd, servers = make_ops()
    _tour(ops)
    assert parse_result(asyncio.run(ops.tours.step({"run": "t1", "step": "0"}, "t1-0", 9e9))).ok
    before = etcd.value("/p/tour/t1")
    servers.fail = NotSent.of(ResultCode.NO_ACTIVE_SERVER, "no active Sense server answered in time")
    with pytest.raises(NotSent):
        asyncio.run(ops.tours.step({"run": "t1", "step": "1"}, "t1-1", 9e9))
    back = etcd.value("/p/tour/t1")
    assert (back["step"], back["due_at"], back["at"]) == (0, before["due_at"], before["at"])
    servers.fail = None
    assert parse_result(asyncio.run(ops.tours.step({"run": "t1", "step": "1"}, "t1-1-r1", 9e9))).ok
    assert etcd.value("/p/tour/t1")["step"] == 1 and "cameraid%3A102" in servers.sent[-1]


def test_a_step_of_a_later_uid_is_not_unrecorded_by_an_earlier_failure() -> None:
    ops, etcd, _ = make_ops()
    _tour(ops)
    original = ops.tours._switch

    async def moved_on(*a: Any) -> bytes:  # another uid records the step while ours fails
        cur = etcd.value("/p/tour/t1")
        etcd.kvs["/p/tour/t1"] = (json.dumps({**cur, "lastuid": "other"}).encode(), etcd.revision + 1)
        etcd.revision += 1
        raise NotSent.of(ResultCode.NO_ACTIVE_SERVER, "not sent")

    ops.tours._switch = moved_on  # type: ignore[method-assign]
    with pytest.raises(NotSent):
        asyncio.run(ops.tours.step({"run": "t1", "step": "0"}, "t1-0", 9e9))
    ops.tours._switch = original  # type: ignore[method-assign]
    assert etcd.value("/p/tour/t1")["step"] == 0


# -- leases etcd does not grant: NotSent, inside the uid machinery ---------------------------------------------


def test_a_lease_etcd_does_not_grant_is_not_sent_for_close_stop_and_ptz() -> None:
    ops, etcd, servers = make_ops()
    a = new_alarm(ops, "1")
    etcd.kvs[f"/p/alarm/{a['id']}"] = (json.dumps(a).encode(), 1)
    _tour(ops)
    etcd.grant_fails = True
    with pytest.raises(NotSent):
        asyncio.run(ops.alarms.act("closealarm", {"alarmid": a["id"]}, "Desk 1", "close-1"))
    with pytest.raises(NotSent):
        asyncio.run(ops.tours.set_state("stoptour", "t1", "Desk 1", "stop-1"))
    with pytest.raises(NotSent):
        asyncio.run(ops.ptz._take("Desk 1", 5, "1", "104"))
    assert servers.sent == []
