"""Benchmark of the manager: actions through the primary manager against direct calls to the sim, in the
same run (the ratio is the figure), and the memory of a dedup store holding 1 M uids.

    python -m tests.perf.manager [--seconds 3] [--uids 1000000]      (--smoke: a tiny run for make test)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from app.demo import Topology
from app.sense import encode, parse_result
from tests.perf.common import ms, pct, rate, summary

STORE_SCRIPT = r"""
import resource, sys, time
from pathlib import Path
from app.manager.dedup import DedupStore
n, path = int(sys.argv[1]), Path(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
store = DedupStore(path, window=3600, capacity=n)
t = time.perf_counter()
for i in range(n):
    uid = f"ws1-{i:012d}-x"
    store.claim(uid, "selectCamera", "cameraview=cameraid%3A101&layoutid=1&panelid=2", "primary")
    store.finish(uid, 0, b'<result errorcode="0"><description>Ok</description></result>')
took = time.perf_counter() - t
t = time.perf_counter()
hits = sum(store.get(f"ws1-{i:012d}-x") is not None for i in range(0, n, max(1, n // 10000)))
lookup = (time.perf_counter() - t) / max(1, len(range(0, n, max(1, n // 10000))))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(store), took, lookup, (after - before) / 1024, path.stat().st_size / 2**20, hits)
"""


async def _actions(url: str, seconds: float, tag: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{url}/command?command=getLayoutStatus") as r:
            root = parse_result(await r.read()).root
        d = root.find("layoutstatus/divas/diva")
        assert d is not None
        base = {
            "layoutid": d.findtext("monitors/monitor/layout/layoutid"),
            "panelid": d.findtext("monitors/monitor/layout/panels/panel/panelid"),
            "divaid": d.findtext("divaid"),
        }
        run = f"{tag}-{time.time_ns()}"

        async def act(i: int) -> None:
            q = encode("selectCamera", {"cameraview": f"cameraid:{101 + i % 16}", **base}, uid=f"{run}-{i}")
            async with s.get(f"{url}/command?{q}") as r:
                res = parse_result(await r.read())
                assert res.ok, res.description

        out: dict[str, float] = {}
        for conc in (1, 8):
            per_s, lat = await rate(act, seconds, conc)
            out[f"{tag}_actions_per_s_c{conc}"] = round(per_s)
            out[f"{tag}_p50_ms_c{conc}"] = ms(pct(lat, 50))
            out[f"{tag}_p99_ms_c{conc}"] = ms(pct(lat, 99))
        return out


def store_memory(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(__file__).resolve().parents[2]
        proc = subprocess.run(
            [sys.executable, "-c", STORE_SCRIPT, str(n), str(Path(tmp) / "d.sqlite3")],
            capture_output=True,
            text=True,
            cwd=root,
            check=True,
        )
    size, took, lookup, rss_mb, file_mb, _ = proc.stdout.split()
    return {
        "dedup_uids": int(size),
        "dedup_insert_us_per_uid": round(float(took) / n * 1e6, 1),
        "dedup_lookup_us": round(float(lookup) * 1e6, 1),
        "dedup_rss_growth_mib": round(float(rss_mb), 1),
        "dedup_file_mib": round(float(file_mb), 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--uids", type=int, default=1_000_000)
    ap.add_argument("--smoke", action="store_true", help="0.2 s per figure, 5,000 uids")
    a = ap.parse_args(argv)
    if a.smoke:
        a.seconds, a.uids = 0.2, 5000
    with tempfile.TemporaryDirectory() as tmp, Topology.create(Path(tmp), action_rate=0) as topo:
        topo.start_system()
        pm = topo.parts["primary manager"].url
        topo.wait_settled()
        figures: dict[str, object] = {}
        figures.update(asyncio.run(_actions(topo.parts["primary server"].url, a.seconds, "direct")))
        figures.update(asyncio.run(_actions(pm, a.seconds, "manager")))
    for c in (1, 8):
        figures[f"ratio_p50_c{c}"] = round(
            float(figures[f"manager_p50_ms_c{c}"]) / float(figures[f"direct_p50_ms_c{c}"]), 2
        )  # type: ignore[arg-type]
        figures[f"ratio_throughput_c{c}"] = round(
            float(figures[f"manager_actions_per_s_c{c}"]) / float(figures[f"direct_actions_per_s_c{c}"]), 2
        )  # type: ignore[arg-type]
    figures.update(store_memory(a.uids))
    figures["cpu_count"] = os.cpu_count() or 0
    for k, v in figures.items():
        print(f"{k:>28}: {v}")
    summary("manager", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
