"""The client against misbehaving managers, servers and peers: clear states and errors, never a crash, never a
double action."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from app.client import ClientSettings, RedundantClient
from app.demo import Topology, free_port
from app.security import TOKEN_HEADER
from tests.console_process import ConsoleProcess
from tests.e2e.test_manager_bad_input import _fake, _start_fake
from tests.helpers import journal_counts, wait_for


@pytest.mark.parametrize(
    ("mode", "expect"),
    [
        ("garbage", "unusable answer"),  # HTML where XML belongs
        ("huge", "larger than"),  # a 10 MB body
        ("hang", "no answer within"),  # nothing at all
    ],
)
def test_managers_that_misbehave_give_a_clear_failure(tmp_path: Path, mode: str, expect: str) -> None:
    with Topology.create(tmp_path) as topo:
        fakes = [_fake(topo, mode, name=f"manager {i}") for i in range(2)]
        for f in fakes:
            _start_fake(f)

        async def run() -> tuple[str, float, str]:
            c = RedundantClient(ClientSettings("desk", [f.url for f in fakes], [], timeout=1.0))
            await c.start()
            try:
                t = time.monotonic()
                o = await c.act("selectLayout", monitorindex=0, layoutid=1)
                took = time.monotonic() - t
                await asyncio.sleep(0.8)  # let the watcher look at them too
                return o.message, took, c.view.managers["primary"].mode
            finally:
                await c.close()

        message, took, mode_seen = asyncio.run(run())
        assert not message.startswith("Ok") and expect in message and "primary manager" in message
        assert "secondary manager" in message and took < 1.5
        assert mode_seen == "down"


def test_a_server_info_without_our_tags_shows_as_reachable(tmp_path: Path) -> None:
    with Topology.create(tmp_path) as topo:
        srv = _fake(topo, "bare-info")
        _start_fake(srv)

        async def run() -> str:
            c = RedundantClient(ClientSettings("desk", ["http://127.0.0.1:9"], [srv.url]))
            await c.start()
            try:
                for _ in range(100):
                    if c.view.servers["primary"].state != "unknown":
                        break
                    await asyncio.sleep(0.02)
                return c.view.servers["primary"].state
            finally:
                await c.close()

        assert asyncio.run(run()) == "reachable"


def _paired_console_b(system: Topology, env: dict[str, str] | None = None) -> tuple[ConsoleProcess, str]:
    """Console B of pair "wall1" (its peer A is absent), up and ready; and the address of its /peer/action."""
    managers = ",".join(system.parts[f"{r} manager"].url for r in ("primary", "secondary"))
    port = free_port()
    b = ConsoleProcess(
        [
            *("--station", "deskB", "--pair-role", "secondary", "--peer", "http://127.0.0.1:9"),
            *("--peer-listen", f"127.0.0.1:{port}", "--managers", managers, "--pair", "wall1"),
        ],
        system.workdir / "console-b.log",
        env=env,
    )
    try:
        wait_for(lambda: bool(b.find(lambda x: "ready" in x)), 15, "console up")
    except AssertionError:
        b.stop()
        raise
    return b, f"http://127.0.0.1:{port}/peer/action"


def test_peer_messages_malformed_foreign_old_or_replayed_are_refused(system: Topology) -> None:
    b, url = _paired_console_b(system)
    try:
        good = {
            "pair": "wall1",
            "station": "deskA",
            "uid": "deskA-replay-1",
            "command": "selectLayout",
            "params": {"monitorindex": "0", "layoutid": "12345"},
            "at": time.time(),
        }
        with httpx.Client(timeout=5) as h:
            assert h.post(url, content=b"{not json").status_code == 400
            assert h.post(url, json=[1, 2]).status_code == 400
            assert h.post(url, json={**good, "pair": "other"}).status_code == 409
            assert h.post(url, json={**good, "at": time.time() - 3600}).status_code == 409
            assert h.post(url, json={**good, "uid": "bad uid with spaces"}).status_code == 400
            assert h.post(url, json={**good, "uid": "deskA-newline\n"}).status_code == 400
            assert h.post(url, json={**good, "params": {"x": 1}}).status_code == 400
            assert h.post(url, json={**good, "command": "x;rm -rf"}).status_code == 400
            sel = {**good, "uid": "deskA-sel-1", "command": "startPlayback", "params": {}}
            first = h.post(url, json=sel)
            replay = h.post(url, json={**sel, "at": time.time()})
            assert first.status_code == 200 and replay.status_code == 409
            assert "replay" in json.loads(replay.content)["error"]
        wait_for(lambda: journal_counts(system.journal).get("deskA-sel-1") == 1, 10, "the one good action")
        assert journal_counts(system.journal) == {"deskA-sel-1": 1}
        assert b.proc.poll() is None  # still running
    finally:
        b.stop()


def test_with_a_pair_token_the_peer_link_refuses_messages_without_it(system: Topology) -> None:
    token = "pair-token-5a1e09c3d7b24f68"
    b, url = _paired_console_b(system, {"SENSETWIN_PAIR_TOKEN": token})
    try:
        msg = {
            "pair": "wall1",
            "station": "deskA",
            "uid": "deskA-tok-1",
            "command": "startPlayback",
            "params": {},
            "at": time.time(),
        }
        with httpx.Client(timeout=5) as h:
            for headers in ({}, {TOKEN_HEADER: "pair-token-wrong-0000000"}):
                r = h.post(url, json=msg, headers=headers)
                assert r.status_code == 403 and "pair token" in r.json()["error"]
            assert h.post(url, json=msg, headers={TOKEN_HEADER: token}).status_code == 200
        wait_for(lambda: journal_counts(system.journal).get("deskA-tok-1") == 1, 10, "the authenticated action")
        log = (system.workdir / "console-b.log").read_text()
        assert token not in log and "pair-token-wrong" not in log
    finally:
        b.stop()
