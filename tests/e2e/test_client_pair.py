"""Paired consoles (primary and secondary client) as real processes, with real sims and managers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from app.demo import Topology, free_port
from app.sim import read_journal
from tests.console_process import ConsoleProcess
from tests.helpers import journal_counts, wait_for, wall_target


@pytest.fixture
def pair(system: Topology) -> Iterator[tuple[ConsoleProcess, ConsoleProcess]]:
    managers = ",".join(system.parts[f"{r} manager"].url for r in ("primary", "secondary"))
    servers = ",".join(system.parts[f"{r} server"].url for r in ("primary", "secondary"))
    pa, pb = free_port(), free_port()
    common = ["--managers", managers, "--servers", servers, "--pair", "wall1"]
    a = ConsoleProcess(
        [
            "--station",
            "deskA",
            "--pair-role",
            "primary",
            "--peer",
            f"http://127.0.0.1:{pb}",
            "--peer-listen",
            f"127.0.0.1:{pa}",
            *common,
        ],
        system.workdir / "console-a.log",
    )
    b = ConsoleProcess(
        [
            "--station",
            "deskB",
            "--pair-role",
            "secondary",
            "--peer",
            f"http://127.0.0.1:{pa}",
            "--peer-listen",
            f"127.0.0.1:{pb}",
            *common,
        ],
        system.workdir / "console-b.log",
    )
    try:
        for c in (a, b):
            wait_for(
                lambda c=c: any("is back" in t and "peer console" in t for _, t in c.changes()),
                15,  # type: ignore[misc]
                "peer link up",
            )
            wait_for(
                lambda c=c: any("primary manager is in normal mode" in t for _, t in c.changes()),
                15,  # type: ignore[misc]
                "console sees the managers",
            )
        yield a, b
    finally:
        a.stop()
        b.stop()


def _wall(system: Topology) -> dict[str, str]:
    return wall_target(system.parts["primary manager"].url)


def test_a_hundred_actions_on_each_console_mirrored_execute_two_hundred_times(
    system: Topology, pair: tuple[ConsoleProcess, ConsoleProcess]
) -> None:
    a, b = pair
    w = _wall(system)
    for i in range(100):  # operators' pace: ten at a time on each console
        a.act("selectCamera", cameraview=f"cameraid:{101 + i % 16}", **w)
        b.act("selectCamera", cameraview=f"cameraid:{101 + (i + 3) % 16}", **w)
        if i % 10 == 9:
            wait_for(lambda n=i + 1: len(a.outcomes()) == n and len(b.outcomes()) == n, 20, "a batch")  # type: ignore[misc]
    bad = [(o["uid"], o["message"]) for o in a.outcomes() + b.outcomes() if not o["ok"]]
    assert not bad, bad[:5]
    counts = journal_counts(system.journal)
    uids = {o["uid"] for o in a.outcomes()} | {o["uid"] for o in b.outcomes()}
    assert len(counts) == 200 and set(counts) == uids and set(counts.values()) == {1}
    # Every action was also sent by the other console, with the same uid.
    wait_for(lambda: len(b.find(lambda x: x.get("late", {}).get("origin") == "peer")) == 100, 10, "B mirrored A")
    wait_for(lambda: len(a.find(lambda x: x.get("late", {}).get("origin") == "peer")) == 100, 10, "A mirrored B")
    mirrored_by_b = {x["late"]["uid"] for x in b.find(lambda x: x.get("late", {}).get("origin") == "peer")}
    assert mirrored_by_b == {o["uid"] for o in a.outcomes()}


def test_kill_console_a_b_reports_peer_gone_takes_control_and_acts_once(
    system: Topology, pair: tuple[ConsoleProcess, ConsoleProcess]
) -> None:
    a, b = pair
    w = _wall(system)
    t = time.monotonic()
    a.kill()
    wait_for(lambda: any("is gone" in text for _, text in b.changes()), 5, "peer gone")
    gone_at = next(ts for ts, text in b.changes() if "is gone" in text)
    assert gone_at - t < 3.0, f"peer gone reported after {gone_at - t:.2f} s"
    assert any("this console has control" in text for _, text in b.changes())
    for i in range(20):
        b.act("selectCamera", cameraview=f"cameraid:{101 + i % 16}", **w)
    wait_for(lambda: len(b.outcomes()) == 20, 20, "B's actions")
    assert all(o["ok"] for o in b.outcomes())
    counts = journal_counts(system.journal)
    assert {o["uid"] for o in b.outcomes()} == set(counts) and set(counts.values()) == {1}
    assert {e["uid"] for e in read_journal(system.journal)} == set(counts)
