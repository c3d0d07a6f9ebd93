"""The redundant client against real sims and managers on loopback; the journal is the truth."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from app.client import ClientSettings, RedundantClient, SystemView
from app.client.view import Change
from app.config import DEFAULTS
from app.demo import Topology
from tests.helpers import command, journal_counts, wait_for, wall_target


def _settings(topo: Topology, station: str = "desk1") -> ClientSettings:
    return ClientSettings(
        station,
        [topo.parts[f"{r} manager"].url for r in ("primary", "secondary")],
        [topo.parts[f"{r} server"].url for r in ("primary", "secondary")],
    )


def _wall(url: str) -> dict[str, str]:
    return wall_target(url)


def with_client(topo: Topology, body: Callable[[RedundantClient], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        c = RedundantClient(_settings(topo))
        await c.start()
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while c.view.executing_manager is None or c.view.active_server is None:
                assert loop.time() < deadline, f"client never saw the system: {c.view.summary()}"
                await asyncio.sleep(0.02)
            return await body(c)
        finally:
            await c.close()

    return asyncio.run(run())


def test_two_hundred_actions_each_executed_once_with_both_answers(system: Topology) -> None:
    w = _wall(system.parts["primary manager"].url)

    async def body(c: RedundantClient) -> list[Any]:
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> Any:
            async with sem:
                return await c.act("selectCamera", cameraview=f"cameraid:{101 + i % 16}", **w)

        outcomes = await asyncio.gather(*(one(i) for i in range(200)))
        deadline = asyncio.get_running_loop().time() + 5
        while not all(o.finished for o in outcomes):  # the slower manager's answers are still collected
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        return outcomes

    outcomes = with_client(system, body)
    assert all(o.ok for o in outcomes)
    assert all({a.state for a in o.answers.values()} == {"answered"} for o in outcomes)
    assert all(all(a.latency_ms is not None for a in o.answers.values()) for o in outcomes)
    counts = journal_counts(system.journal)
    assert len(counts) == 200 and set(counts.values()) == {1}
    assert set(counts) == {o.uid for o in outcomes}


def test_kill_the_primary_manager_mid_run_every_action_completes(system: Topology) -> None:
    w = _wall(system.parts["primary manager"].url)

    async def body(c: RedundantClient) -> list[tuple[Any, float]]:
        out = []
        for i in range(60):
            if i == 20:
                system.parts["primary manager"].kill()
            t = time.monotonic()
            o = await c.act("selectCamera", cameraview=f"cameraid:{101 + i % 16}", **w)
            out.append((o, time.monotonic() - t))
        return out

    results = with_client(system, body)
    assert all(o.ok for o, _ in results), [o.message for o, _ in results if not o.ok][:3]
    # Nothing in flight at the kill: the next action waits the secondary's queue timeout, then it claims.
    slowest = max(t for _, t in results)
    assert slowest < DEFAULTS.manager_queue_timeout + 0.5, f"slowest action took {slowest:.2f} s"
    assert [t for _, t in results].index(slowest) == 20, "the first action after the kill is the slow one"
    counts = journal_counts(system.journal)
    assert {o.uid for o, _ in results} == set(counts) and set(counts.values()) == {1}


def test_both_managers_down_fails_fast_and_nothing_runs_later(system: Topology) -> None:
    w = _wall(system.parts["primary manager"].url)

    async def body(c: RedundantClient) -> tuple[Any, float]:
        system.parts["primary manager"].kill()
        system.parts["secondary manager"].kill()
        t = time.monotonic()
        o = await c.act("selectCamera", cameraview="cameraid:105", **w)
        return o, time.monotonic() - t

    o, took = with_client(system, body)
    assert not o.ok and took < 2.0
    assert "primary manager: cannot connect" in o.message and "secondary manager: cannot connect" in o.message
    assert o.message.startswith("not sent")
    for r in ("primary", "secondary"):
        system.parts[f"{r} manager"].start()
    system.wait_ready()
    pm = system.parts["primary manager"].url
    wait_for(lambda: command(pm, "getManagerStatus").text("managerstatus/forwarding") == "true", 10, "back")
    assert journal_counts(system.journal) == {}


def _watch_until(c: RedundantClient, pred: Callable[[SystemView], bool], timeout: float) -> Awaitable[float]:
    async def run() -> float:
        loop = asyncio.get_running_loop()
        t = loop.time()
        while not pred(c.view):
            assert loop.time() - t < timeout, f"not seen within {timeout} s: {c.view.summary()}"
            await asyncio.sleep(0.01)
        return loop.time() - t

    return run()


def test_system_view_follows_takeover_failback_and_mode_change_within_a_second(system: Topology) -> None:
    changes: list[Change] = []

    async def body(c: RedundantClient) -> dict[str, float]:
        c.subscribe(lambda view, ch: changes.extend(ch))
        times = {}
        system.parts["primary server"].kill()
        # Detection by the servers themselves takes ~0.4-0.6 s; the view must follow within 1 s of that.
        await _watch_until(c, lambda v: v.servers["secondary"].state == "active", 3)
        t = asyncio.get_running_loop().time()
        await _watch_until(c, lambda v: v.active_server is not None and v.active_server.name == "secondary", 1)
        times["takeover"] = asyncio.get_running_loop().time() - t
        system.parts["primary server"].start()
        times["failback"] = await _watch_until(
            c, lambda v: v.active_server is not None and v.active_server.name == "primary", 10
        )
        system.parts["primary manager"].kill()
        times["manager down"] = await _watch_until(c, lambda v: not v.managers["primary"].reachable, 1)
        o = await c.act("selectLayout", monitorindex=0, layoutid=12345)  # a queued action makes it go normal
        assert o.errorcode == -14
        times["mode change"] = await _watch_until(c, lambda v: v.managers["secondary"].mode == "normal", 1)
        assert c.view.executing_manager is not None and c.view.executing_manager.name == "secondary"
        system.parts["primary manager"].start()
        times["manager back"] = await _watch_until(c, lambda v: v.managers["primary"].reachable, 5)
        return times

    times = with_client(system, body)
    print(times)
    texts = [c.text for c in changes]
    assert any("secondary server is active" in t and "missed 3 heartbeats" in t for t in texts), texts
    assert any("primary manager stopped answering" in t for t in texts), texts
    assert any("secondary manager switched to normal mode" in t for t in texts), texts


def test_reads_go_to_the_executing_manager_and_fall_back(system: Topology) -> None:
    async def body(c: RedundantClient) -> tuple[bool, bool]:
        first = (await c.read("getDivaList")).ok
        system.parts["primary manager"].kill()
        second = (await c.read("getDivaList")).ok
        return first, second

    assert with_client(system, body) == (True, True)
