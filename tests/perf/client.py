"""Benchmark of the redundant client: act() end to end (to both managers) against a single direct httpx call to
the sim in the same run (the ratio is the figure), and the time from a killed component to SystemView showing it.

    python -m tests.perf.client [--actions 300] [--kills 3]      (--smoke: a tiny run for make test)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from app.client import ClientSettings, RedundantClient, SystemView
from app.demo import Topology
from app.sense import encode, parse_result
from tests.perf.common import ms, pct, summary


async def until(c: RedundantClient, pred: Callable[[SystemView], bool], timeout: float) -> float:
    t = time.perf_counter()
    while not pred(c.view):
        if time.perf_counter() - t > timeout:
            raise SystemExit(f"benchmark: condition not seen within {timeout} s: {c.view.summary()}")
        await asyncio.sleep(0.002)
    return time.perf_counter() - t


async def bench_client(topo: Topology) -> RedundantClient:
    """A started redundant client on the topology's two managers and two servers (close() it)."""
    urls = {k: p.url for k, p in topo.parts.items()}
    c = RedundantClient(
        ClientSettings(
            "bench",
            [urls["primary manager"], urls["secondary manager"]],
            [urls["primary server"], urls["secondary server"]],
        )
    )
    await c.start()
    return c


async def measure(topo: Topology, n: int, kills: int) -> dict[str, object]:
    urls = {k: p.url for k, p in topo.parts.items()}
    c = await bench_client(topo)
    out: dict[str, object] = {}
    try:
        await until(c, lambda v: v.executing_manager is not None and v.active_server is not None, 15)
        st = await c.read("getLayoutStatus")
        d = st.root.find("layoutstatus/divas/diva")
        assert d is not None
        base = {
            "layoutid": d.findtext("monitors/monitor/layout/layoutid"),
            "divaid": d.findtext("divaid"),
            "panelid": d.findtext("monitors/monitor/layout/panels/panel/panelid"),
        }
        direct, via = [], []
        async with httpx.AsyncClient() as h:
            for i in range(n):
                q = encode("selectCamera", {"cameraview": f"cameraid:{101 + i % 16}", **base}, f"d-{time.time_ns()}")
                t = time.perf_counter()
                r = await h.get(f"{urls['primary server']}/command?{q}")
                direct.append(time.perf_counter() - t)
                assert parse_result(r.content).ok
                t = time.perf_counter()
                o = await c.act("selectCamera", cameraview=f"cameraid:{101 + i % 16}", **base)
                via.append(time.perf_counter() - t)
                assert o.ok, o.message
        out.update(
            direct_p50_ms=ms(pct(direct, 50)),
            direct_p99_ms=ms(pct(direct, 99)),
            act_p50_ms=ms(pct(via, 50)),
            act_p99_ms=ms(pct(via, 99)),
            ratio_p50=round(pct(via, 50) / pct(direct, 50), 2),
            ratio_p99=round(pct(via, 99) / pct(direct, 99), 2),
        )
        seen: dict[str, list[float]] = {"manager_down": [], "manager_back": [], "server_takeover": []}
        for _ in range(kills):
            pm = topo.parts["primary manager"]
            t = time.perf_counter()
            pm.kill()
            await until(c, lambda v: not v.managers["primary"].reachable, 5)
            seen["manager_down"].append(time.perf_counter() - t)
            t = time.perf_counter()
            pm.start()
            await until(c, lambda v: v.managers["primary"].reachable, 15)
            seen["manager_back"].append(time.perf_counter() - t)
            ps = topo.parts["primary server"]
            t = time.perf_counter()
            ps.kill()
            await until(c, lambda v: v.active_server is not None and v.active_server.name == "secondary", 5)
            seen["server_takeover"].append(time.perf_counter() - t)
            ps.start()
            await until(c, lambda v: v.active_server is not None and v.active_server.name == "primary", 15)
        for k, v in seen.items():
            out[f"{k}_ms_p50"] = ms(pct(v, 50))
            out[f"{k}_ms_max"] = ms(max(v))
        out["actions"], out["kills"] = n, kills
    finally:
        await c.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--actions", type=int, default=300)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="20 actions, 1 kill of each")
    a = ap.parse_args(argv)
    if a.smoke:
        a.actions, a.kills = 20, 1
    with tempfile.TemporaryDirectory() as tmp, Topology.create(Path(tmp), action_rate=0) as topo:
        topo.start_system()
        figures = asyncio.run(measure(topo, a.actions, a.kills))
    for k, v in figures.items():
        print(f"{k:>24}: {v}")
    summary("client", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
