"""Alarms, tours and PTZ control kept by the two managers in etcd (docs/workflows-protocol.md): real sims, etcd
members and managers on loopback, as a console would reach them."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET  # our own sim's answers
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.demo import DEMO_ALARMS, Topology
from app.manager.etcd import b64, prefix_end
from app.sense import ResultCode, parse_result
from app.sim import read_journal
from tests.helpers import command, journal_counts, manager_field, manager_status, wait_for

NORTH = "13427094042528044067"  # Recorder North: cameras 101, 103, ...
WALL = {"divaid": "11008480918349137116", "layoutid": "1410707261306977580", "panelid": "2598414856324303106"}
BAD_RULE = """
[[alarms]]
type = "Tamper"
priority = "medium"
reaction = { divaid = "11008480918349137116", layoutid = "1410707261306977580", panelid = "999" }

[[alarms]]
type = "Sabotage"
priority = "high"
camera = "4242"
reaction = { divaid = "11008480918349137116", layoutid = "1410707261306977580", panelid = "2598414856324303106" }
"""


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[Topology]:
    """The demo's managers with the demo's alarm rules and one whose reaction names a panel the site lacks."""
    with Topology.create(tmp_path, action_rate=0, alarms=DEMO_ALARMS + BAD_RULE) as topo:
        topo.start_system()
        pm, sm = topo.parts["primary manager"].url, topo.parts["secondary manager"].url
        for base in (pm, sm):  # both follow the active server's events and know its lists
            wait_for(lambda b=base: _rules_checked(b), 15, f"{base} knows the server's lists")
        yield topo


def _rules_checked(base: str) -> bool:
    status = manager_status(base)
    rules = None if status is None else status.root.find("managerstatus/alarmrules")
    return rules is not None and rules.get("checked") == "true"


def _urls(topo: Topology) -> tuple[str, str, str]:
    p = topo.parts
    return p["primary manager"].url, p["secondary manager"].url, p["primary server"].url


def raise_event(server: str, kind: str, deviceid: str = "101", serverid: str = NORTH, value: str = "") -> None:
    body = {"type": kind, "serverid": serverid, "deviceid": deviceid, "value": value}
    r = httpx.post(f"{server}/sim/event", json=body, timeout=5)
    assert r.status_code == 200 and parse_result(r.content).ok, r.text


def alarms(base: str, state: str = "all") -> list[dict[str, Any]]:
    r = command(base, "getAlarms", state=state)
    assert r.ok, r.message()
    out = []
    for a in r.root.iterfind("alarms/alarm"):
        row: dict[str, Any] = {c.tag: (c.text or "") for c in a if c.tag != "reactions"}
        row["reactions"] = [dict(x.attrib) for x in a.iterfind("reactions/reaction")]
        out.append(row)
    return out


def etcd_keys(topo: Topology, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    import base64

    key = f"/sensetwin/{prefix}"
    got = httpx.post(
        f"{topo.etcd_urls()[0]}/v3/kv/range", json={"key": b64(key), "range_end": prefix_end(key)}, timeout=5
    ).json()
    return [
        (base64.b64decode(kv["key"]).decode(), json.loads(base64.b64decode(kv["value"]))) for kv in got.get("kvs", [])
    ]


def events_of(base: str, kind: str) -> list[dict[str, str]]:
    r = command(base, "getEvents", startid=1, limit=1000, types=kind)
    return [{c.tag: (c.text or "") for c in e} for e in r.root.iterfind("events/event")]


def to_both(bases: tuple[str, str], name: str, uid: str, **params: Any) -> list[tuple[int, str]]:
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda b: command(b, name, uid=uid, **params), bases))
    return [(r.errorcode, r.message()) for r in results]


# -- alarms ------------------------------------------------------------------------------------------------------


def test_an_event_on_the_server_becomes_exactly_one_alarm_seen_by_both_managers(ops: Topology) -> None:
    pm, sm, ps = _urls(ops)
    raise_event(ps, "Motion", value="zone 2")
    for base in (pm, sm):
        wait_for(lambda b=base: len(alarms(b)) == 1, 10, f"the alarm on {base}")
    a, b = alarms(pm)[0], alarms(sm)[0]
    assert a == b
    assert (a["priority"], a["state"], a["cameraid"], a["serverid"], a["count"]) == ("high", "new", "101", NORTH, "1")
    assert a["title"] == "Motion at the main gate" and a["flood"] == "false" and len(a["id"]) == 16
    reaction = a["reactions"][0]
    assert reaction["uid"] == f"alarm-{a['id']}-r0" and reaction["command"] == "selectCamera"
    assert "cameraview=cameraid%3A101" in reaction["query"] and f"panelid={WALL['panelid']}" in reaction["query"]
    [(key, stored)] = etcd_keys(ops, "alarm/")  # one alarm in etcd, with the time its maker raised it
    assert key == f"/sensetwin/alarm/{a['id']}" and abs(stored["created"] - time.time()) < 30
    assert etcd_keys(ops, "alarmseen/") == [(f"/sensetwin/alarmseen/{a['id']}", {"alarm": a["id"]})]
    head = command(pm, "getAlarms").root.find("alarms")
    assert head is not None and (head.get("unacknowledged"), head.get("unacknowledgedhigh")) == ("1", "1")
    for base in (pm, sm):  # each manager's own log tells it, once
        wait_for(lambda b=base: len(events_of(b, "AlarmRaised")) == 1, 5, f"AlarmRaised in {base}'s log")


def _motions(base: str) -> int:
    return sum(int(a["count"]) for a in alarms(base) if a["type"] == "Motion")


def test_an_event_raised_while_both_managers_were_down_becomes_an_alarm_when_they_start(ops: Topology) -> None:
    """A manager that starts reads the last minutes of the active server's events again (it used to begin after the
    server's last event, so an event of a restart was lost); an event both had already seen is not made again."""
    pm, sm, ps = _urls(ops)
    raise_event(ps, "Motion", value="before the restart")
    wait_for(lambda: _motions(pm) == 1, 10, "the first alarm")
    for role in ("primary", "secondary"):
        ops.parts[f"{role} manager"].stop()
    raise_event(ps, "Motion", value="while no manager ran")
    ops.start_all()
    ops.wait_settled()
    for base in (pm, sm):
        wait_for(lambda b=base: _motions(b) == 2, 15, f"the alarm of the event raised while down, on {base}")
        status = manager_status(base)
        assert status is not None and status.text("managerstatus/serverevents/server") == ps
    # The first event was read again too (in the same answer, before the second): it made no second alarm.
    assert len(etcd_keys(ops, "alarm/")) == 2


def test_a_server_that_takes_over_and_numbers_events_again_loses_none_of_them(ops: Topology) -> None:
    """The standby (paused, so it replicates nothing) takes over from a primary that died: its new events get the ids
    of the events the primary never passed on. Each becomes an alarm; the dead server's alarms stay, none twice."""
    pm, sm, ps = _urls(ops)
    secondary = ops.parts["secondary server"]
    secondary.pause()
    for i in range(5):
        raise_event(ps, "Motion", value=f"on the primary {i}")
    for base in (pm, sm):
        wait_for(lambda b=base: _motions(b) == 5, 10, f"five alarms on {base}")
    seen = int(command(ps, "getEvents").root.find("events").get("lasteventid", ""))  # type: ignore[union-attr]
    ops.parts["primary server"].kill()
    secondary.resume()
    wait_for(lambda: _state(secondary.url) == "active", 30, "the secondary server taking over")
    for i in range(3):
        raise_event(secondary.url, "Motion", value=f"on the secondary {i}")
    got = command(secondary.url, "getEvents", startid="1", limit="-50").root.iterfind("events/event")
    ids = [int(e.findtext("eventid") or 0) for e in got if (e.findtext("eventvalue") or "").startswith("on the sec")]
    assert len(ids) == 3 and min(ids) <= seen  # the premise: ids the managers saw on the primary are given again
    for base in (pm, sm):
        wait_for(lambda b=base: _motions(b) == 8, 15, f"the secondary's three alarms on {base}")
    assert len(etcd_keys(ops, "alarm/")) == 8


def _state(server: str) -> str:
    try:
        return ET.fromstring(httpx.get(f"{server}/info", timeout=1).content).findtext("state") or ""
    except (httpx.HTTPError, ET.ParseError):
        return ""


def test_one_acknowledgement_sent_to_both_managers_executes_once_and_both_answer_the_same(ops: Topology) -> None:
    pm, sm, ps = _urls(ops)
    raise_event(ps, "VideoLost", deviceid="104", serverid="3391524942993096056")
    wait_for(lambda: len(alarms(pm)) == 1 and len(alarms(sm)) == 1, 10, "the alarm on both managers")
    alarm = alarms(pm)[0]
    assert alarm["priority"] == "low" and alarm["reactions"] == [] and alarm["title"] == "VideoLost on Perimeter west"
    answers = to_both(
        (pm, sm), "acknowledgeAlarm", "desk1-ack-1", alarmid=alarm["id"], station="Desk 1", comment="seen"
    )
    assert answers[0] == answers[1] and answers[0][0] == 0, answers
    for base in (pm, sm):
        wait_for(lambda b=base: alarms(b)[0]["state"] == "acknowledged", 5, f"acknowledged on {base}")
        assert (alarms(base)[0]["ackedby"], alarms(base)[0]["comment"]) == ("Desk 1", "seen")
        wait_for(lambda b=base: len(events_of(b, "AlarmAcknowledged")) == 1, 5, "AlarmAcknowledged logged")
        assert events_of(base, "AlarmAcknowledged")[0]["eventvalue"] == "by Desk 1: seen"
    # The same uid again, through either manager: the answer from `done`, nothing executed again.
    assert command(sm, "acknowledgeAlarm", uid="desk1-ack-1", alarmid=alarm["id"], station="Desk 1", comment="seen").ok
    assert all(len(events_of(b, "AlarmAcknowledged")) == 1 for b in (pm, sm))
    [(_, uid_record)] = etcd_keys(ops, "uid/desk1-ack-1")
    assert uid_record["state"] == "done" and uid_record["command"] == "acknowledgeAlarm"
    again = command(sm, "acknowledgeAlarm", uid="desk2-ack-1", alarmid=alarm["id"], station="Desk 2")
    assert again.ok and "already acknowledged by Desk 1" in again.message()
    closed = command(sm, "closeAlarm", uid="desk2-close-1", alarmid=alarm["id"], station="Desk 2", comment="fixed")
    assert closed.ok, closed.message()
    late = command(pm, "acknowledgeAlarm", uid="desk1-ack-2", alarmid=alarm["id"], station="Desk 1")
    assert late.errorcode == ResultCode.ALARM_STATE and "closed" in late.message()
    wait_for(lambda: alarms(pm, "open") == [] and alarms(sm, "all")[0]["state"] == "closed", 5, "closed on both")


def test_acknowledging_an_unknown_alarm_is_refused(ops: Topology) -> None:
    pm, _, _ = _urls(ops)
    r = command(pm, "acknowledgeAlarm", uid="desk1-ack-x", alarmid="0123456789abcdef", station="Desk 1")
    assert r.errorcode == ResultCode.ALARM_STATE and "no alarm 0123456789abcdef" in r.message()
    r = command(pm, "acknowledgeAlarm", alarmid="0123456789abcdef", station="Desk 1")
    assert r.errorcode == ResultCode.UID_REQUIRED  # shared state changes only under a uid


def test_a_flood_of_one_rule_becomes_ten_alarms_and_one_flood_group(ops: Topology) -> None:
    pm, sm, ps = _urls(ops)
    for i in range(12):
        raise_event(ps, "Motion", value=f"zone {i}")
    wait_for(lambda: sum(int(a["count"]) for a in alarms(sm)) == 12, 15, "12 events folded into alarms")
    got = alarms(pm)
    floods = [a for a in got if a["flood"] == "true"]
    assert len(got) == 11 and len(floods) == 1 and floods[0]["count"] == "2", got
    assert floods[0]["reactions"] == []  # a flood group does not move the wall
    assert len(etcd_keys(ops, "alarmseen/")) == 12
    # Closing the group: the next event starts a new one (still more than 10 alarms of the rule in the window).
    assert command(pm, "closeAlarm", uid="desk1-close-f", alarmid=floods[0]["id"], station="Desk 1").ok
    raise_event(ps, "Motion", value="zone 12")
    wait_for(lambda: len(alarms(sm)) == 12, 10, "a new flood group")
    assert sorted(a["state"] for a in alarms(sm) if a["flood"] == "true") == ["closed", "new"]


def test_a_flood_is_grouped_per_camera_and_an_event_brings_an_acknowledged_group_back(ops: Topology) -> None:
    pm, sm, ps = _urls(ops)
    for i in range(11):
        raise_event(ps, "Tamper", deviceid="103", value=f"zone {i}")
    wait_for(lambda: sum(int(a["count"]) for a in alarms(sm)) == 11, 15, "11 events folded into alarms")
    raise_event(ps, "Tamper", deviceid="107")  # another camera, same rule: an alarm of its own
    wait_for(lambda: any(a["cameraid"] == "107" for a in alarms(sm)), 10, "the alarm on camera 107")
    other = [a for a in alarms(sm) if a["cameraid"] == "107"]
    assert len(other) == 1 and other[0]["flood"] == "false" and other[0]["count"] == "1", other
    [group] = [a for a in alarms(pm) if a["flood"] == "true"]
    assert group["cameraid"] == "103" and group["count"] == "1"
    assert command(pm, "acknowledgeAlarm", uid="desk1-ack-f", alarmid=group["id"], station="Desk 1").ok
    raise_event(ps, "Tamper", deviceid="103", value="zone 11")
    wait_for(lambda: [a["count"] for a in alarms(sm) if a["flood"] == "true"] == ["2"], 10, "one more in the group")
    [group] = [a for a in alarms(sm) if a["flood"] == "true"]
    assert group["state"] == "new", group  # it needs attention again


def test_a_rule_naming_a_missing_panel_or_camera_is_reported_and_offers_no_reaction(ops: Topology) -> None:
    pm, sm, ps = _urls(ops)
    status = command(pm, "getManagerStatus").root.find("managerstatus/alarmrules")
    assert status is not None and status.get("count") == "4" and status.get("errors") == "2"
    bad = {
        r.findtext("index"): r.findtext("error") or "" for r in status.iterfind("rule") if r.findtext("ok") == "false"
    }
    assert set(bad) == {"2", "3"} and "no panel 999" in bad["2"], bad
    assert "camera 4242 is not in the active server's device list" in bad["3"], bad
    raise_event(ps, "Sabotage", deviceid="101")  # the rule's camera is the alarm's camera, even a missing one
    wait_for(lambda: any(a["type"] == "Sabotage" for a in alarms(sm)), 10, "the sabotage alarm")
    [sabotage] = [a for a in alarms(sm) if a["type"] == "Sabotage"]
    assert sabotage["reactions"] == [] and sabotage["cameraid"] == "4242", sabotage
    raise_event(ps, "Tamper", deviceid="103")
    wait_for(lambda: any(a["type"] == "Tamper" for a in alarms(sm)), 10, "the tamper alarm")
    [tamper] = [a for a in alarms(sm) if a["type"] == "Tamper"]
    assert tamper["reactions"] == [] and tamper["cameraid"] == "103", tamper
    log = (ops.workdir / "primary-manager.log").read_text()
    assert "alarm rule 3 (type 'Tamper')" in log and "alarm rule 4 (type 'Sabotage')" in log


def test_the_sim_refuses_a_bad_event_with_400_and_a_clear_message(ops: Topology) -> None:
    _, _, ps = _urls(ops)
    for body, words in [
        (b"not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b'{"serverid": "1"}', "type must be"),
        (b'{"type": "Motion", "deviceid": "abc"}', "deviceid must be a decimal id"),
        (b'{"type": "Motion", "colour": "red"}', "unknown field(s) colour"),
        (b'{"type": "Motion", "deviceid": "999"}', "no camera 999"),
    ]:
        r = httpx.post(f"{ps}/sim/event", content=body, timeout=5)
        assert r.status_code == 400, (body, r.status_code)
        assert words in parse_result(r.content).message(), (body, r.text)


# -- tours -------------------------------------------------------------------------------------------------------


def _selects(topo: Topology) -> list[dict[str, Any]]:
    return [e for e in read_journal(topo.journal) if e["command"] in ("selectCamera", "gotoPreset")]


def test_a_tour_steps_once_per_uid_in_order_and_not_while_paused(ops: Topology) -> None:
    pm, sm, _ = _urls(ops)
    tour = {"run": "desk1-t1", "name": "Gates", "owner": "Desk 1", "dwell": 2, "cameras": "101,102:2,103"}
    r = command(pm, "startTour", uid="desk1-start-t1", station="Desk 1", **WALL, **tour)
    assert r.ok, r.message()
    again = command(sm, "startTour", uid="desk1-start-t1b", station="Desk 1", **WALL, **tour)
    assert again.errorcode == ResultCode.TOUR_STATE  # a run starts once
    for n in (0, 1):
        answers = to_both((pm, sm), "tourStep", f"desk1-t1-{n}", run="desk1-t1", step=n)
        assert all(code == 0 for code, _ in answers), answers
    counts = journal_counts(ops.journal)
    assert (counts.get("desk1-t1-0"), counts.get("desk1-t1-1"), counts.get("desk1-t1-1-p")) == (1, 1, 1), counts
    shown = [(e["command"], e["params"].get("cameraview"), e["params"].get("preset")) for e in _selects(ops)]
    assert shown == [
        ("selectCamera", "cameraid:101", None),
        ("selectCamera", "cameraid:102", None),
        ("gotoPreset", None, "2"),
    ]
    assert command(sm, "tourStep", uid="desk1-t1-1", run="desk1-t1", step=1).ok  # a repeat: from done
    assert journal_counts(ops.journal).get("desk1-t1-1") == 1
    skip = command(pm, "tourStep", uid="desk1-t1-3", run="desk1-t1", step=3)
    assert skip.errorcode == ResultCode.TOUR_STATE and "the next step is 2" in skip.message()
    assert command(sm, "pauseTour", uid="desk1-pause-t1", run="desk1-t1", station="Desk 1").ok
    paused = command(pm, "tourStep", uid="desk1-t1-2", run="desk1-t1", step=2)
    assert paused.errorcode == ResultCode.TOUR_STATE and "paused" in paused.message()
    assert "desk1-t1-2" not in journal_counts(ops.journal) and "desk1-t1-3" not in journal_counts(ops.journal)

    def tour_on(base: str) -> dict[str, str]:
        t = command(base, "getTours").root.find("tours/tour")
        assert t is not None
        return {c.tag: (c.text or "") for c in t if c.tag != "steps"}

    for base in (pm, sm):
        wait_for(lambda b=base: tour_on(b)["state"] == "paused", 5, f"paused on {base}")
        t = tour_on(base)
        assert (t["run"], t["name"], t["owner"], t["step"], t["dwell"]) == ("desk1-t1", "Gates", "Desk 1", "1", "2")
    steps = command(pm, "getTours").root.findall("tours/tour/steps/step")
    assert [(s.get("number"), s.get("cameraid"), s.get("preset")) for s in steps] == [
        ("0", "101", None),
        ("1", "102", "2"),
        ("2", "103", None),
    ]
    assert steps[1].get("serverid") == "3391524942993096056"
    wait_for(lambda: len(events_of(sm, "TourPaused")) == 1 and len(events_of(pm, "TourStarted")) == 1, 5, "events")


def test_a_step_whose_uid_expired_runs_once_under_a_new_uid_and_a_late_copy_shows_nothing(ops: Topology) -> None:
    """The step is recorded before its camera is switched: a console may try step N again with another uid after
    the first one could not run (expired), and nothing shows twice however the copies come."""
    pm, sm, _ = _urls(ops)
    tour = {"run": "desk2-t1", "name": "Yard", "owner": "Desk 2", "dwell": 2, "cameras": "101,103"}
    assert command(pm, "startTour", uid="desk2-start", station="Desk 2", **WALL, **tour).ok
    for role in ("primary", "secondary"):  # no server: the step cannot run before its deadline
        ops.parts[f"{role} server"].kill()
    wait_for(lambda: manager_field(pm, "activeserver") == "", 10, "no active server")
    first = command(pm, "tourStep", uid="desk2-t1-0", run="desk2-t1", step=0, timeout=5)
    assert first.errorcode == ResultCode.EXPIRED, first.message()
    for role in ("primary", "secondary"):
        ops.parts[f"{role} server"].start()
    ops.wait_settled()
    again = command(pm, "tourStep", uid="desk2-t1-0-r1", run="desk2-t1", step=0)
    assert again.ok, again.message()
    late = to_both((pm, sm), "tourStep", "desk2-t1-0", run="desk2-t1", step=0)  # the expired uid, late
    assert all(code == ResultCode.EXPIRED for code, _ in late), late
    third = command(sm, "tourStep", uid="desk2-t1-0-r2", run="desk2-t1", step=0)
    assert third.errorcode == ResultCode.TOUR_STATE and "the next step is 1" in third.message()
    counts = journal_counts(ops.journal)
    assert counts.get("desk2-t1-0-r1") == 1 and "desk2-t1-0" not in counts and "desk2-t1-0-r2" not in counts


def test_a_bad_tour_definition_is_refused(ops: Topology) -> None:
    pm, _, _ = _urls(ops)
    base = {"run": "desk1-t2", "dwell": 10, "cameras": "101", **WALL}
    for i, (bad, words) in enumerate(
        [
            ({"dwell": 1}, "dwell 1 s is outside 2..3600"),
            ({"cameras": "101,x"}, "is not CAMERAID"),
            ({"cameras": "999"}, "camera 999 is not in"),
            ({"run": "has space"}, "must be 1 to 40"),
        ]
    ):
        r = command(pm, "startTour", uid=f"desk1-bad-{i}", station="Desk 1", **{**base, **bad})
        assert r.errorcode == ResultCode.TOUR_STATE and words in r.message(), r.message()
    r = command(pm, "tourStep", uid="desk1-nope-0", run="nope", step=0)
    assert r.errorcode == ResultCode.TOUR_STATE


# -- PTZ control -------------------------------------------------------------------------------------------------


def _ptz(
    base: str, uid: str, console: str, priority: int, name: str = "setRelativePosition", timeout: float = 5, **p: Any
) -> Any:
    params = {"pan": 100} if name == "setRelativePosition" else p
    return command(base, name, uid=uid, timeout=timeout, cameraid="104", console=console, priority=priority, **params)


def control(base: str) -> dict[str, str]:
    """The first PTZ control getPtzControl lists (the tests steer one dome), {} when none."""
    c = command(base, "getPtzControl").root.find("ptzcontrols/ptzcontrol")
    return {} if c is None else {x.tag: (x.text or "") for x in c}


def test_ptz_control_goes_to_the_console_that_moves_and_a_higher_priority_takes_it(ops: Topology) -> None:
    pm, sm, _ = _urls(ops)
    assert _ptz(pm, "a-1", "Desk A", 5).ok
    [entry] = [e for e in read_journal(ops.journal) if e["uid"] == "a-1"]
    assert "console" not in entry["params"] and "priority" not in entry["params"]  # stripped before forwarding
    preset = command(sm, "gotoPreset", uid="b-p", cameraid="104", preset=1, console="Desk B", priority=5)
    assert preset.ok, preset.message()  # presets stay usable by all
    refused = _ptz(sm, "b-1", "Desk B", 5)
    assert refused.errorcode == ResultCode.PTZ_IN_USE and "camera 104 is in use by Desk A (" in refused.message()
    assert "b-1" not in journal_counts(ops.journal)
    taken = _ptz(sm, "b-2", "Desk B", 7)
    assert taken.ok, taken.message()

    for base in (pm, sm):
        wait_for(lambda b=base: control(b).get("console") == "Desk B", 5, f"Desk B in control on {base}")
        c = control(base)
        assert (c["tookfrom"], c["priority"], c["cameraid"]) == ("Desk A", "7", "104")
        assert c["serverid"] == "3391524942993096056" and 0 < int(c["remaining"]) <= 15
    back = _ptz(pm, "a-2", "Desk A", 5)
    assert back.errorcode == ResultCode.PTZ_IN_USE and "in use by Desk B" in back.message()
    assert command(pm, "setRelativePosition", uid="old-1", cameraid="104", pan=0).ok  # an older console: as before
    counts = journal_counts(ops.journal)
    assert (counts.get("a-1"), counts.get("b-p"), counts.get("b-2"), counts.get("old-1")) == (1, 1, 1, 1)
    assert "a-2" not in counts
    wait_for(lambda: len(events_of(sm, "PtzControlTaken")) == 1, 5, "PtzControlTaken logged")
    text = events_of(sm, "PtzControlTaken")[0]["eventdescription"]
    assert text == "Desk B (priority 7) took camera 3391524942993096056/104 from Desk A"


HOLD = 8  # ptz_hold of the failover test: long enough for the secondary to take over within it


@pytest.fixture
def short_hold(tmp_path: Path) -> Iterator[Topology]:
    with Topology.create(tmp_path, action_rate=0, alarms=f"ptz_hold = {HOLD}\n" + DEMO_ALARMS) as topo:
        topo.start_system()
        yield topo


def test_ptz_control_survives_a_manager_failover_and_frees_itself_when_its_console_is_gone(
    short_hold: Topology,
) -> None:
    """The control is a key on an etcd lease: the secondary that takes over after the primary manager is killed
    refuses another console of equal priority with the key the primary wrote; when the holding console is gone
    (no move for ptz_hold), the dome is free without anybody releasing it."""
    pm, sm, _ = _urls(short_hold)
    assert _ptz(pm, "a-1", "Desk A", 5).ok
    moved = time.monotonic()
    short_hold.parts["primary manager"].kill()
    refused = _ptz(sm, "b-1", "Desk B", 5, timeout=HOLD / 2)
    assert time.monotonic() - moved < HOLD, "the secondary took over within the hold"  # else the test proves nothing
    assert refused.errorcode == ResultCode.PTZ_IN_USE and "in use by Desk A" in refused.message(), refused.message()

    def held_by_a() -> bool:
        c = control(sm)
        return c.get("cameraid") == "104" and c.get("console") == "Desk A" and int(c.get("remaining") or 0) > 0

    assert held_by_a(), "the secondary lists Desk A's control, written by the killed primary"
    wait_for(lambda: not held_by_a(), HOLD + 5, "Desk A's control running out")
    free = time.monotonic() - moved
    assert free >= HOLD - 1, f"free after {free:.1f} s, before the {HOLD} s hold ran out"
    steered = _ptz(sm, "b-2", "Desk B", 5)
    assert steered.ok, steered.message()
    counts = journal_counts(short_hold.journal)
    assert (counts.get("a-1"), counts.get("b-1"), counts.get("b-2")) == (1, None, 1), counts


def test_a_full_stop_always_passes_and_takes_no_control(ops: Topology) -> None:
    pm, sm, _ = _urls(ops)
    assert _ptz(pm, "a-1", "Desk A", 5).ok
    stop = command(sm, "setRelativePosition", uid="b-s", cameraid="104", pan=0, tilt=0, zoom=0, console="Desk B")
    assert stop.ok, stop.message()
    hold = _ptz(sm, "b-h", "Desk B", 1, name="holdPosition")
    assert "unknown command 'holdPosition'" in hold.message()  # forwarded: the sim answers it (it has no such move)
    assert _ptz(sm, "b-m", "Desk B", 5).errorcode == ResultCode.PTZ_IN_USE  # a move is still refused
    counts = journal_counts(ops.journal)
    assert (counts.get("b-s"), counts.get("b-m")) == (1, None), counts
    c = command(pm, "getPtzControl").root.find("ptzcontrols/ptzcontrol")
    assert c is not None and c.findtext("console") == "Desk A" and c.findtext("tookfrom") == ""


def test_reads_are_refused_as_not_final_once_the_manager_has_lost_etcd(ops: Topology) -> None:
    pm, sm, _ = _urls(ops)
    assert command(pm, "getAlarms").ok
    for name in ("etcd-p", "etcd-s", "etcd-w"):
        ops.parts[f"{name} member"].kill()
    for base in (pm, sm):
        for read in ("getAlarms", "getTours", "getPtzControl"):
            wait_for(
                lambda b=base, r=read: command(b, r).errorcode == ResultCode.COORDINATION_UNAVAILABLE,
                10,
                f"{read} refused on {base}",
            )
