"""The shared operator workflows (issue 15, docs/workflows-protocol.md) end to end: real sims, etcd and managers with
an alarm rule, and headless consoles as processes. The sim's journal is the truth: what reached the wall, once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.demo import Topology, free_port
from app.sim import read_journal
from app.sim.site import load_site
from tests.console_process import ConsoleProcess
from tests.helpers import manager_field, wait_for

SITE = load_site()
VIEWER = SITE.viewers[0]
LAYOUT = SITE.layouts[VIEWER["monitors"][0]["layoutid"]]
ALARM_PANEL = {"divaid": VIEWER["divaid"], "layoutid": LAYOUT.layoutid, "panelid": LAYOUT.panels[0].panelid}
TOUR_PANEL = {"divaid": VIEWER["divaid"], "layoutid": LAYOUT.layoutid, "panelid": LAYOUT.panels[1].panelid}
GATE = next(c for c in SITE.cameras.values() if c.deviceid == "101")
DOME = next(c for c in SITE.cameras.values() if c.deviceid == "104" and c.ptz)


def _config(path: Path) -> Path:
    p = ALARM_PANEL
    path.write_text(
        "ptz_hold = 15\n"
        "[[alarms]]\n"
        'type = "Motion"\n'
        'priority = "high"\n'
        'title = "Motion at the gate"\n'
        f'reaction = {{ divaid = "{p["divaid"]}", layoutid = "{p["layoutid"]}", panelid = "{p["panelid"]}" }}\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    """Two sims, three etcd members and two managers with one alarm rule (Motion, high, a reaction on the wall)."""
    workdir = tmp_path_factory.mktemp("workflows")
    with Topology.create(workdir, action_rate=0) as topo:
        topo.add_sims()
        topo.add_etcd()
        topo.add_managers(extra=["--config", str(_config(workdir / "manager.toml"))])
        topo.start_all()
        topo.wait_ready()
        topo.wait_settled()
        pm, sm = topo.parts["primary manager"].url, topo.parts["secondary manager"].url
        wait_for(
            lambda: manager_field(pm, "forwarding") == "true" and manager_field(sm, "mode") == "failover",
            10,
            "managers ready",
        )
        yield topo


def _console(system: Topology, station: str, *extra: str) -> ConsoleProcess:
    managers = ",".join(system.parts[f"{r} manager"].url for r in ("primary", "secondary"))
    servers = ",".join(system.parts[f"{r} server"].url for r in ("primary", "secondary"))
    return ConsoleProcess(
        ["--station", station, "--managers", managers, "--servers", servers, *extra],
        system.workdir / f"console-{station}.log",
    )


def _ready(*consoles: ConsoleProcess) -> None:
    for c in consoles:
        wait_for(
            lambda c=c: any("primary manager is in normal mode" in t for _, t in c.changes()),  # type: ignore[misc]
            15,
            "console sees the managers",
        )


@pytest.fixture
def consoles(system: Topology) -> Iterator[list[ConsoleProcess]]:
    """Three consoles of their own (not paired): ws1 and ws2 at PTZ priority 5, ws3 at 8."""
    made = [_console(system, "ws1"), _console(system, "ws2"), _console(system, "ws3", "--ptz-priority", "8")]
    try:
        _ready(*made)
        yield made
    finally:
        for c in made:
            c.stop()


def ops_state(c: ConsoleProcess) -> dict[str, Any]:
    before = len(c.find(lambda x: "ops" in x))
    c.send(op="ops")
    wait_for(lambda: len(c.find(lambda x: "ops" in x)) > before, 5, "the ops state")
    state: dict[str, Any] = c.find(lambda x: "ops" in x)[-1]["ops"]
    return state


def ops_lines(c: ConsoleProcess) -> list[tuple[float, str]]:
    return [(x["_t"], x["ops_change"]["text"]) for x in c.find(lambda x: "ops_change" in x)]


def outcome(c: ConsoleProcess, tag: str, timeout: float = 10) -> dict[str, Any]:
    wait_for(lambda: any(o.get("tag") == tag for o in c.outcomes()), timeout, f"the outcome of {tag}")
    return next(o for o in c.outcomes() if o.get("tag") == tag)


def raise_motion(system: Topology, c: ConsoleProcess, value: str) -> str:
    """A Motion event on the gate camera, raised in the active sim; the id of the alarm the console sees."""
    known = {a["id"] for a in ops_state(c)["alarms"]}
    r = httpx.post(
        system.parts["primary server"].url + "/sim/event",
        json={"type": "Motion", "serverid": GATE.serverid, "deviceid": GATE.deviceid, "value": value},
        timeout=5,
    )
    assert r.status_code == 200, r.text[:300]
    found: list[str] = []

    def seen() -> bool:
        found[:] = [a["id"] for a in ops_state(c)["alarms"] if a["id"] not in known]
        return bool(found)

    wait_for(seen, 10, "the alarm in the console's state")
    return found[0]


def journal_uids(system: Topology, command: str | None = None) -> list[str]:
    return [str(e["uid"]) for e in read_journal(system.journal) if command is None or e["command"] == command]


def test_an_alarm_reaction_switches_the_wall_once_however_many_consoles_apply_it(
    system: Topology, consoles: list[ConsoleProcess]
) -> None:
    a, b, _ = consoles
    alarm = raise_motion(system, a, "someone at the gate")
    uid = f"alarm-{alarm}-r0"
    (state_alarm,) = [x for x in ops_state(a)["alarms"] if x["id"] == alarm]
    assert state_alarm["priority"] == "high" and state_alarm["state"] == "new"
    assert [x["uid"] for x in state_alarm["reactions"]] == [uid]
    wait_for(lambda: uid in journal_uids(system), 10, "the reaction on the wall")
    for c in (a, b):  # both consoles sent it ...
        wait_for(
            lambda c=c: any(x.get("late", {}).get("uid") == uid for x in c.lines),  # type: ignore[misc]
            10,
            "the console applied the reaction",
        )
    assert journal_uids(system).count(uid) == 1  # ... and the wall changed once
    (entry,) = [e for e in read_journal(system.journal) if e["uid"] == uid]
    assert entry["command"] == "selectCamera"
    assert entry["params"]["panelid"] == ALARM_PANEL["panelid"]  # type: ignore[index]


def test_an_acknowledgement_on_one_console_is_in_the_others_state_within_a_second(
    system: Topology, consoles: list[ConsoleProcess]
) -> None:
    a, b, _ = consoles
    alarm = raise_motion(system, a, "a fox")
    wait_for(lambda: any(x["id"] == alarm for x in ops_state(b)["alarms"]), 5, "B sees the alarm")
    t0 = time.monotonic()
    a.send(op="ack", alarm=alarm, comment="only a fox", tag="ack")
    assert outcome(a, "ack")["ok"]
    words = f"alarm {alarm[:8]}… acknowledged by ws1: only a fox"
    wait_for(lambda: any(t == words for _, t in ops_lines(b)), 3, "B hears of the acknowledgement")
    took = next(at for at, t in ops_lines(b) if t == words) - t0
    assert took < 1.0, f"B knew {took:.2f} s after A sent the acknowledgement"
    (seen,) = [x for x in ops_state(b)["alarms"] if x["id"] == alarm]
    assert (seen["state"], seen["ackedby"], seen["comment"]) == ("acknowledged", "ws1", "only a fox")
    b.send(op="ack", alarm=alarm, tag="again")  # acknowledged already: Ok, and says by whom
    assert outcome(b, "again")["ok"]
    b.send(op="close", alarm=alarm, comment="done", tag="close")
    assert outcome(b, "close")["ok"]
    wait_for(lambda: any(t == f"alarm {alarm[:8]}… closed by ws2: done" for _, t in ops_lines(a)), 3, "A hears")
    a.send(op="ack", alarm=alarm, tag="late")
    assert outcome(a, "late")["errorcode"] == -116  # closed


def test_a_dome_steered_by_one_console_refuses_an_equal_priority_and_yields_to_a_higher(
    system: Topology, consoles: list[ConsoleProcess]
) -> None:
    a, b, c = consoles
    move = {"serverid": DOME.serverid, "deviceid": DOME.deviceid, "pan": 300}
    a.act("setRelativePosition", tag="a", **move)
    assert outcome(a, "a")["ok"], outcome(a, "a")["message"]
    assert outcome(a, "a")["params"]["console"] == "ws1" and outcome(a, "a")["params"]["priority"] == "5"
    b.act("setRelativePosition", tag="b", **move)
    refused = outcome(b, "b")
    assert refused["errorcode"] == -115 and "ws1" in refused["message"], refused["message"]
    c.act("setRelativePosition", tag="c", **move)
    assert outcome(c, "c")["ok"], outcome(c, "c")["message"]
    moves = [e for e in read_journal(system.journal) if e["command"] == "setRelativePosition"]
    assert {str(e["uid"]) for e in moves} == {outcome(a, "a")["uid"], outcome(c, "c")["uid"]}

    def held_by_c() -> bool:
        ptz = [p for p in ops_state(a)["ptz"] if p["cameraid"] == DOME.deviceid]
        return bool(ptz) and ptz[0]["console"] == "ws3" and ptz[0]["tookfrom"] == "ws1" and ptz[0]["priority"] == 8

    wait_for(held_by_c, 3, "A's state says ws3 took the dome from ws1")
    a.act("setRelativePosition", tag="a2", **{**move, "pan": -200})  # and now A is the one refused
    assert outcome(a, "a2")["errorcode"] == -115 and "ws3" in outcome(a, "a2")["message"]
    a.act("setRelativePosition", tag="a3", **{**move, "pan": 0})  # but a stop always passes (a dome never runs on)
    assert outcome(a, "a3")["ok"], outcome(a, "a3")["message"]


@pytest.fixture
def pair(system: Topology) -> Iterator[tuple[ConsoleProcess, ConsoleProcess]]:
    pa, pb = free_port(), free_port()
    a = _console(
        system,
        "deskA",
        *("--pair", "wall1", "--pair-role", "primary"),
        *("--peer", f"http://127.0.0.1:{pb}", "--peer-listen", f"127.0.0.1:{pa}"),
    )
    b = _console(
        system,
        "deskB",
        *("--pair", "wall1", "--pair-role", "secondary"),
        *("--peer", f"http://127.0.0.1:{pa}", "--peer-listen", f"127.0.0.1:{pb}"),
    )
    try:
        for c in (a, b):
            wait_for(
                lambda c=c: any("peer console" in t and "is back" in t for _, t in c.changes()),  # type: ignore[misc]
                15,
                "peer link up",
            )
        _ready(a, b)
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_a_tour_goes_on_from_the_secondary_console_when_the_primary_dies_without_repeat_or_gap(
    system: Topology, pair: tuple[ConsoleProcess, ConsoleProcess]
) -> None:
    a, b = pair
    p = TOUR_PANEL
    a.send(op="start_tour", name="Gate round", cameras="101,103,105", dwell=2, tag="tour", **p)
    started = outcome(a, "tour")
    assert started["ok"], started["message"]
    run = started["params"]["run"]
    assert started["params"]["owner"] == "wall1"

    def steps() -> list[str]:
        return [u for u in journal_uids(system, "selectCamera") if u.startswith(run + "-")]

    wait_for(lambda: len(steps()) >= 3, 15, "three steps driven by the primary console")
    assert not any(x.get("late", {}).get("command") == "tourStep" for x in b.lines)  # B only watched
    a.kill()
    at_kill = len(steps())
    wait_for(lambda: any("this console has control" in t for _, t in b.changes()), 5, "B takes control")
    wait_for(lambda: len(steps()) >= at_kill + 3, 20, "three more steps driven by the secondary console")
    b.send(op="stop_tour", run=run, tag="stop")
    assert outcome(b, "stop")["ok"]
    wait_for(lambda: any(t["run"] == run and t["state"] == "stopped" for t in ops_state(b)["tours"]), 5, "stopped")
    final = steps()

    def stepped_by(c: ConsoleProcess) -> set[str]:
        return {x["late"]["uid"] for x in c.lines if x.get("late", {}).get("command") == "tourStep"}

    assert stepped_by(a) and stepped_by(b), "each console drove part of the tour"
    assert max(int(u.rsplit("-", 1)[1]) for u in stepped_by(a)) <= min(int(u.rsplit("-", 1)[1]) for u in stepped_by(b))
    assert final == [f"{run}-{n}" for n in range(len(final))], final
    cameras = [
        e["params"]["cameraview"]  # type: ignore[index]
        for e in read_journal(system.journal)
        if str(e["uid"]).startswith(run + "-")
    ]
    assert cameras[:4] == ["cameraid:101", "cameraid:103", "cameraid:105", "cameraid:101"]
