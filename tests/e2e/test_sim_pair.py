"""The simulated server pair under kill -9, restart, pause and resume (real processes, loopback)."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

from app.demo import Topology
from app.sim import read_journal
from tests.helpers import command, info, state_of, wait_for


def _panel(url: str) -> tuple[str, str, str]:
    d = command(url, "getLayoutStatus").root.find("layoutstatus/divas/diva")
    m = d.find("monitors/monitor")  # type: ignore[union-attr]
    return (
        d.findtext("divaid"),
        m.findtext("layout/layoutid"),  # type: ignore[union-attr,return-value]
        m.findtext("layout/panels/panel/panelid"),
    )  # type: ignore[union-attr]


def _camera_on(url: str, divaid: str, panelid: str) -> str:
    r = command(url, "getLayoutStatus", divaid=divaid)
    for p in r.root.iterfind("layoutstatus/divas/diva/monitors/monitor/layout/panels/panel"):
        if p.findtext("panelid") == panelid:
            return p.findtext("deviceid") or ""
    raise AssertionError("panel not shown")


def _epoch(url: str) -> int:
    root = info(url)
    assert root is not None
    return int(root.findtext("epoch") or 0)


def test_kill_primary_secondary_takes_over_then_auto_failback(sim_pair: Topology) -> None:
    primary, secondary = sim_pair.parts["primary server"], sim_pair.parts["secondary server"]
    wait_for(lambda: state_of(primary.url) == "active" and state_of(secondary.url) == "standby", 5, "pair formed")
    divaid, layoutid, panelid = _panel(primary.url)
    assert command(
        primary.url,
        "selectCamera",
        uid="before-takeover",
        cameraview="cameraid:111",
        layoutid=layoutid,
        panelid=panelid,
        divaid=divaid,
    ).ok
    assert (
        command(secondary.url, "selectCamera", cameraview="cameraid:112", layoutid=layoutid, panelid=panelid).errorcode
        == -101
    )  # a standby refuses actions
    last_event = int(command(secondary.url, "getEvents").root.find("events").get("lasteventid"))  # type: ignore[union-attr]
    epoch_before = _epoch(primary.url)

    primary.kill()
    took = wait_for(lambda: state_of(secondary.url) == "active", 1.0, "secondary active after kill -9")
    print(f"takeover seen after {took * 1000:.0f} ms")
    assert _epoch(secondary.url) > epoch_before
    hw = command(secondary.url, "getHardwareStatus")
    assert hw.text("hardwarestatus/status") == "Error"
    assert hw.text("hardwarestatus/description") == "failover server is active"
    events = command(secondary.url, "getEvents", startid=last_event, types="ServerTakeover")
    assert len(events.root.findall("events/event")) == 1
    # The wall is the same after the takeover, and the secondary now executes actions.
    assert _camera_on(secondary.url, divaid, panelid) == "111"
    assert command(
        secondary.url,
        "selectCamera",
        uid="during-takeover",
        cameraview="cameraid:113",
        layoutid=layoutid,
        panelid=panelid,
        divaid=divaid,
    ).ok

    primary.start()
    wait_for(
        lambda: state_of(primary.url) == "active" and state_of(secondary.url) == "standby",
        5,
        "automatic failback to the primary",
    )
    assert _epoch(primary.url) > _epoch(secondary.url)  # failback raised the epoch again
    assert _camera_on(primary.url, divaid, panelid) == "113"
    assert command(primary.url, "getHardwareStatus").text("hardwarestatus/status") == "Ok"
    assert command(secondary.url, "getHardwareStatus").text("hardwarestatus/status") == "Ok"
    entries = read_journal(sim_pair.journal)
    assert [(e["uid"], e["server"]) for e in entries] == [
        ("before-takeover", "primary"),
        ("during-takeover", "secondary"),
    ]


def test_manual_failback_waits_for_take_over(tmp_path: Path) -> None:
    with Topology.create(tmp_path, failback="manual") as topo:
        topo.add_sims()
        topo.start_all()
        topo.wait_ready()
        primary, secondary = topo.parts["primary server"], topo.parts["secondary server"]
        wait_for(lambda: state_of(primary.url) == "active", 5, "primary active")
        primary.kill()
        wait_for(lambda: state_of(secondary.url) == "active", 2, "secondary active")
        primary.start()
        wait_for(
            lambda: info(primary.url) is not None and (info(primary.url).findtext("peer") == "reachable"),  # type: ignore[union-attr]
            5,
            "primary back and seeing its peer",
        )
        # Several heartbeats later it still waits for an operator.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            assert state_of(primary.url) == "standby" and state_of(secondary.url) == "active"
        r = command(primary.url, "takeOver")
        assert r.ok, r.description
        assert state_of(primary.url) == "active"
        wait_for(lambda: state_of(secondary.url) == "standby", 2, "secondary standby after takeOver")


def test_paused_primary_never_acts_beside_the_secondary(sim_pair: Topology) -> None:
    """SIGSTOP the active primary until the secondary takes over, then SIGCONT it while actions keep coming
    to both servers: the journal shows one server per epoch and epochs that never go back."""
    primary, secondary = sim_pair.parts["primary server"], sim_pair.parts["secondary server"]
    wait_for(lambda: state_of(primary.url) == "active" and state_of(secondary.url) == "standby", 5, "pair formed")
    divaid, layoutid, panelid = _panel(primary.url)
    stop = threading.Event()
    sent = [0]

    def hammer() -> None:
        n = 0
        while not stop.is_set() and n < 3000:
            for url in (primary.url, secondary.url):
                n += 1
                with contextlib.suppress(Exception):  # a paused server times out; that is the point
                    command(
                        url,
                        "selectCamera",
                        uid=f"h{n}",
                        timeout=0.5,
                        cameraview=f"cameraid:{101 + n % 16}",
                        layoutid=layoutid,
                        panelid=panelid,
                        divaid=divaid,
                    )
        sent[0] = n

    t = threading.Thread(target=hammer)
    t.start()
    try:
        wait_for(lambda: len(read_journal(sim_pair.journal)) > 20, 10, "actions flowing")
        primary.pause()
        wait_for(lambda: state_of(secondary.url) == "active", 3, "secondary takes over the paused primary")
        wait_for(
            lambda: any(e["server"] == "secondary" for e in read_journal(sim_pair.journal)), 5, "secondary executing"
        )
        primary.resume()
        r = command(primary.url, "getEvents")  # the resumed primary answers after checking its peer
        assert r.ok
        wait_for(
            lambda: state_of(primary.url) == "active" and state_of(secondary.url) == "standby",
            5,
            "failback after resume",
        )
        wait_for(lambda: read_journal(sim_pair.journal)[-1]["server"] == "primary", 5, "primary executing again")
    finally:
        stop.set()
        t.join(30)
    entries = read_journal(sim_pair.journal)
    owner: dict[int, str] = {}
    last_epoch = 0
    for e in entries:
        assert e["epoch"] >= last_epoch, f"epoch went back at {e}"
        last_epoch = e["epoch"]
        assert owner.setdefault(e["epoch"], e["server"]) == e["server"], f"two servers acted in epoch {e['epoch']}"
    assert len(owner) >= 3 and set(owner.values()) == {"primary", "secondary"}
    uids = [e["uid"] for e in entries]
    assert len(uids) == len(set(uids))


def test_second_takeover_after_failback_counts_misses_afresh(sim_pair: Topology) -> None:
    primary, secondary = sim_pair.parts["primary server"], sim_pair.parts["secondary server"]
    for _ in range(2):
        wait_for(lambda: state_of(primary.url) == "active" and state_of(secondary.url) == "standby", 5, "pair formed")
        primary.kill()
        wait_for(lambda: state_of(secondary.url) == "active", 2, "takeover")
        root = info(secondary.url)
        assert root is not None
        assert root.findtext("reason") == "primary server missed 3 heartbeats"
        primary.start()
