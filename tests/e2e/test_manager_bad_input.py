"""Bad input to a manager and misbehaving neighbours: Sense errors or clean timeouts, the service stays up,
nothing executed twice."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.config import DEFAULTS
from app.demo import Topology, free_port
from app.demo.topology import Part
from app.sense import parse_result
from tests.helpers import (
    acommand,
    command,
    etcd_args,
    journal_counts,
    manager_field,
    raw,
    start_etcd,
    wait_for,
    wall_target,
)

ROOT = Path(__file__).resolve().parents[2]


def _wall(url: str) -> dict[str, str]:
    return {**wall_target(url), "cameraview": "cameraid:101"}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("layoutid=1", -10),
        ("command=selectLayout&monitorindex=0&layoutid=1&uid=" + "u" * 129, -106),
        ("command=selectLayout&monitorindex=0&layoutid=1&uid=a%01b", -106),
        ("command=selectLayout&monitorindex=0&layoutid=1&uid=a%20b", -106),
        ("command=selectLayout&monitorindex=0&layoutid=1&uid=", -106),
        ("command=getDivaList&x=" + "y" * (1024 * 1024), -111),
        ("command=selectLayout&uid=a&uid=b", -111),
        ("command=getDivaList&" + "&".join(f"p{i}=1" for i in range(70)), -111),  # more than 64 parameters
    ],
)
def test_bad_requests_get_sense_errors(system: Topology, query: str, code: int) -> None:
    pm = system.parts["primary manager"].url
    r = raw(pm, "/command?" + query)
    assert r.status_code == 200
    res = parse_result(r.content)
    assert res.errorcode == code and res.description
    assert journal_counts(system.journal) == {}
    assert manager_field(pm, "role") == "primary"  # still up


def test_an_oversized_request_body_is_a_sense_error_and_nothing_runs(system: Topology) -> None:
    pm, ps = system.parts["primary manager"].url, system.parts["primary server"].url
    body = b"<action><actionname>Incident mode</actionname>" + b"<x/>" * 40_000 + b"</action>"
    # A manager takes commands as GETs only: a POST is refused before its body is read.
    r = raw(pm, "/command?command=executeAction&uid=big-body-1", method="POST", body=body)
    assert parse_result(r.content).errorcode == -111 and "GET" in parse_result(r.content).description
    # A server takes executeAction as a POST too, with a body of at most 64 KiB.
    r = raw(ps, "/command?command=executeAction", method="POST", body=body)
    res = parse_result(r.content)
    assert r.status_code == 413 and res.errorcode == -111 and "Too Large" in res.description
    assert journal_counts(system.journal) == {}


def test_flood_of_one_uid_executes_once_and_the_service_stays_up(system: Topology) -> None:
    pm, sm = system.parts["primary manager"].url, system.parts["secondary manager"].url
    w = _wall(pm)

    async def run() -> list[int]:
        # At most 100 requests in flight: httpcore 1.0.9's pool takes seconds per request with 600 waiters
        # (measured: 600 /info requests to a bare sim, 13 s; 100 in flight at a time, well under one).
        gate = asyncio.Semaphore(100)

        async def one(i: int) -> int:
            async with gate:
                try:
                    return (await acommand(c, (pm, sm)[i % 2], "selectCamera", uid="flood", **w)).errorcode
                except httpx.TransportError:
                    # A console sends the same uid again after a broken connection. Seen about once in 25 runs on
                    # 2 cores kept busy by other processes: one of the 600 connections reset with no manager log
                    # line (cause not found; see the session note). Counted, and bounded below.
                    resets.append(i)
                    return (await acommand(c, (pm, sm)[i % 2], "selectCamera", uid="flood", **w)).errorcode

        async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=100)) as c:
            return list(await asyncio.gather(*(one(i) for i in range(600))))

    resets: list[int] = []
    assert set(asyncio.run(run())) == {0}
    assert len(resets) <= 6, f"{len(resets)} of 600 requests met a broken connection"
    assert journal_counts(system.journal) == {"flood": 1}
    assert command(pm, "getDivaList").ok


def test_secondary_in_failover_mode_refuses_an_action_without_uid(system: Topology) -> None:
    sm = system.parts["secondary manager"].url
    w = _wall(sm)
    r = command(sm, "selectCamera", **w)
    assert r.errorcode == -102 and "uid" in r.description
    assert journal_counts(system.journal) == {}


def test_action_without_uid_is_forwarded_unprotected_by_the_primary(system: Topology) -> None:
    pm = system.parts["primary manager"].url
    assert command(pm, "selectCamera", **_wall(pm)).ok
    assert journal_counts(system.journal) == {"None": 1}
    assert manager_field(pm, "counts/unprotected") == "1"


def _fake(topo: Topology, mode: str, *extra: str, name: str = "") -> Part:
    port = free_port()
    part = topo.add(name or f"fake {mode}", [], f"http://127.0.0.1:{port}")
    part.args = ["--mode", mode, "--port", str(port), *extra]
    return part


def _manager_on(topo: Topology, tmp_path: Path, servers: str, *extra: str, etcd: list[str] | None = None) -> Part:
    """A primary manager on the given server address(es) and a one-member etcd of its own (or `etcd`), started,
    and seeing an active server."""
    urls = etcd if etcd is not None else start_etcd(topo)
    port = free_port()
    m = topo.add(
        "primary manager",
        [
            "manager",
            "--role",
            "primary",
            "--listen",
            f"127.0.0.1:{port}",
            "--servers",
            servers,
            "--state-dir",
            str(tmp_path / "state"),
            *etcd_args(urls),
            *extra,
        ],
        f"http://127.0.0.1:{port}",
    )
    m.start()
    wait_for(lambda: manager_field(m.url, "activeservername") != "", 10, "manager sees an active server")
    return m


def _start_fake(part: Part) -> None:
    log = open(part.log_path, "ab")  # noqa: SIM115
    part.proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes", *part.args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    wait_for(part.answers, 10, f"{part.name} up")


@pytest.mark.parametrize("mode", ["garbage", "hang", "huge"])
def test_a_server_answering_garbage_or_hanging_gives_clean_errors(tmp_path: Path, mode: str) -> None:
    with Topology.create(tmp_path) as topo:
        fake = _fake(topo, mode)
        _start_fake(fake)
        m = _manager_on(topo, tmp_path, fake.url)
        wait_for(lambda: manager_field(m.url, "activeservername") == "primary", 10, "manager sees the fake server")
        t = time.monotonic()
        act = command(m.url, "setRelativePosition", uid="garbled-1", cameraid=1, pan=10, timeout=10)
        took = time.monotonic() - t
        assert act.errorcode == -103 and "may or may not" in act.description  # not idempotent: in doubt
        assert took < 3.0
        again = command(m.url, "setRelativePosition", uid="garbled-1", cameraid=1, pan=10, timeout=10)
        assert again.errorcode == -103  # the same answer; never sent a second time
        read = command(m.url, "getDivaList", timeout=10)
        assert read.errorcode == -110
        assert manager_field(m.url, "counts/indoubt") == "1"


@pytest.mark.parametrize("mode", ["garbage", "json-garbage", "hang"])
def test_an_etcd_address_answering_garbage_does_not_stop_the_manager(tmp_path: Path, mode: str) -> None:
    """One of the manager's etcd addresses is not an etcd member (an HTML error page, another program's JSON, a
    port that takes requests and never answers); the other is. The manager starts, executes each action once
    through the real member, and shows the bad address unreachable."""
    with Topology.create(tmp_path) as topo:
        topo.add_sims()
        topo.start_all()
        topo.wait_ready()
        member = start_etcd(topo)
        fake = _fake(topo, mode, name=f"fake etcd {mode}")
        _start_fake(fake)
        servers = ",".join(topo.parts[f"{r} server"].url for r in ("primary", "secondary"))
        m = _manager_on(topo, tmp_path, servers, etcd=[fake.url, *member])  # the bad one first
        wait_for(lambda: manager_field(m.url, "activeservername") == "primary", 10, "manager ready")
        for i in range(3):
            r = command(m.url, "selectCamera", uid=f"g-{i}", timeout=5, **_wall(m.url))
            assert r.ok, r.message()
        assert journal_counts(topo.journal) == {f"g-{i}": 1 for i in range(3)}
        assert manager_field(m.url, "etcd/ok") == "true"
        wait_for(lambda: manager_field(m.url, "etcd/reachable") == "1", 5, "the members surveyed")
        status = command(m.url, "getManagerStatus")
        seen = {
            x.findtext("url"): x.findtext("reachable")
            for x in status.root.iterfind("managerstatus/etcd/memberlist/member")
        }
        assert seen == {fake.url: "false", member[0]: "true"}


def test_a_manager_whose_etcd_does_not_answer_refuses_to_start_within_etcd_start_wait(tmp_path: Path) -> None:
    """No member answers (a wrong address, a firewall): a clear one-line refusal, after etcd_start_wait and not
    a moment of the default 30 s more; exit non-zero, no traceback, nothing else on stderr."""
    cfg = tmp_path / "m.toml"
    fd = os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(
            '[manager]\nrole = "primary"\nservers = ["http://127.0.0.1:9"]\n'
            f'etcd = ["http://127.0.0.1:{free_port()}"]\netcd_allow_fewer = true\netcd_start_wait = 1.0\n'
            f'state_dir = "{tmp_path / "state"}"\nlisten = "127.0.0.1:{free_port()}"\n'
        )
    env = {**os.environ, "SENSETWIN_LOG_LEVEL": "ERROR"}  # the refusal alone, not the start-up log lines
    t = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "app", "manager", "--config", str(cfg)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    took = time.monotonic() - t
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    refusal = [ln for ln in lines if ln.startswith("sensetwin manager (primary): cannot reach the etcd cluster")]
    assert refusal and "check the etcd addresses" in refusal[0], r.stderr
    assert "Traceback" not in r.stderr
    assert took < 10, f"refused after {took:.1f} s with etcd_start_wait = 1.0"
    assert len(lines) == 1, r.stderr


def test_a_server_active_with_a_lower_epoch_than_seen_is_never_used(tmp_path: Path) -> None:
    with Topology.create(tmp_path) as topo:
        new = _fake(topo, "ok", "--epoch", "4", name="new active")
        _start_fake(new)
        stale = _fake(topo, "ok", "--epoch", "3", name="stale active")
        m = _manager_on(topo, tmp_path, f"{stale.url},{new.url}")
        wait_for(lambda: manager_field(m.url, "activeservername") == "secondary", 10, "manager on the epoch-4 server")
        _start_fake(stale)  # the primary comes back claiming to be active, with epoch 3
        wait_for(lambda: manager_field(m.url, "servers/server/state") == "active", 5, "stale server seen")
        assert manager_field(m.url, "activeservername") == "secondary"
        new.kill()  # now the only server claiming to be active is the stale one
        wait_for(lambda: manager_field(m.url, "activeservername") == "", 5, "no active server")
        t = time.monotonic()
        r = command(m.url, "selectLayout", uid="stale-1", monitorindex=0, layoutid=1, timeout=10)
        took = time.monotonic() - t
        # Not sent by its deadline (hold_timeout after arrival): written `expired` in etcd and answered then.
        assert r.errorcode == -114 and "not executed" in r.description and "no active Sense server" in r.description
        assert took < DEFAULTS.client_timeout, f"answered after {took:.2f} s"
        assert manager_field(m.url, "counts/expired") == "1"
        _start_fake(new)  # an active server with the highest epoch again
        wait_for(lambda: manager_field(m.url, "activeservername") == "secondary", 10, "the epoch-4 server back")
        late = command(m.url, "selectLayout", uid="stale-1", monitorindex=0, layoutid=1, timeout=10)
        assert late.errorcode == -114, late.message()  # never executed late, whoever asks again
        assert manager_field(m.url, "counts/forwarded") == "0"


def test_upstream_never_resends_an_action_whose_connection_dropped(tmp_path: Path) -> None:
    """A server that takes the request and drops the connection may have executed it: the manager must not
    send it again by itself (aiohttp would, for a GET on a kept-alive connection) and must report it in doubt."""
    count = tmp_path / "received.txt"
    with Topology.create(tmp_path) as topo:
        fake = _fake(topo, "drop", "--count-file", str(count))
        _start_fake(fake)
        m = _manager_on(topo, tmp_path, fake.url)
        wait_for(lambda: manager_field(m.url, "activeservername") == "primary", 10, "manager sees the server")
        for i in range(3):  # the first request opens the connection; later ones reuse kept-alive connections
            r = command(m.url, "setRelativePosition", uid=f"drop-{i}", cameraid=1, pan=10, timeout=10)
            assert r.errorcode == -103, r.description
        sent = [x for x in count.read_text().splitlines() if "uid=drop-" in x]
        assert len(sent) == 3, sent
