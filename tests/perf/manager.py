"""Benchmark of the manager: actions through the primary manager (each one a claim and a done in etcd) against
direct calls to the sim, in the same run (the ratio is the figure); what etcd holds after them; and the memory of a
manager's uid cache holding 1 M uids (dedup_capacity, what the watch keeps so copies are answered without asking
etcd); and, at 8 concurrent, the CPU each part (sims, etcd members, managers, this client) spends per action and
the etcd transactions per action, since on one machine every part shares the same cores.

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
from tests.helpers import etcd_txns
from tests.perf.common import ms, pct, rate, summary

CACHE_SCRIPT = r"""
import resource, sys, time
from pathlib import Path
from app.manager.coord import Coordination, UidRecord
from app.manager.etcd import KeyValue
n = int(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
coord = Coordination(None, "/b/", "b", "primary", 2, 3600, n, Path("."), lambda: None, create_site=False)
answer = b'<?xml version="1.0" encoding="UTF-8"?><result errorcode="0"><description>Ok</description></result>'
params = "cameraview=cameraid%3A101&divaid=1&layoutid=1&panelid=2"
value = UidRecord("u", "done", "primary", "0123456789ab", "selectCamera", params, 0, answer, 0, 7).value().encode()
t = time.perf_counter()
for i in range(n):  # as the watch takes them: each record decoded from the value etcd sends
    uid = f"ws1-{i:012d}-x"
    coord._remember(UidRecord.of(uid, KeyValue("/b/uid/" + uid, value, i + 1, i + 1, 7)))
took = time.perf_counter() - t
step = max(1, n // 10000)
t = time.perf_counter()
hits = sum(coord.cached(f"ws1-{i:012d}-x") is not None for i in range(0, n, step))
lookup = (time.perf_counter() - t) / max(1, len(range(0, n, step)))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(coord.records), took, lookup, (after - before) / 1024, hits)
"""


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc); 0 where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used per action by each part of the topology (and this benchmark's own client) over a phase."""

    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        self._before: dict[str, float] = {}
        self._txns = 0

    def start(self) -> None:
        self._before = {n: _cpu_seconds(p.proc.pid) for n, p in self.topo.parts.items() if p.running and p.proc}
        self._before["client"] = time.process_time()
        self._txns = etcd_txns(self.topo.etcd_urls())

    def per_action(self, actions: int) -> dict[str, float]:
        now = {n: _cpu_seconds(p.proc.pid) for n, p in self.topo.parts.items() if p.running and p.proc}
        now["client"] = time.process_time()
        n = max(1, actions)
        out = {name: (now[name] - was) * 1000 / n for name, was in self._before.items() if name in now}
        out["etcd transactions"] = (etcd_txns(self.topo.etcd_urls()) - self._txns) / n
        return out


async def _actions(url: str, seconds: float, tag: str, meter: CpuMeter | None = None) -> dict[str, float]:
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
            if meter and conc == 8:
                meter.start()
            per_s, lat = await rate(act, seconds, conc)
            if meter and conc == 8:
                for part, v in meter.per_action(len(lat)).items():
                    key = "etcd_txns_per_action" if part == "etcd transactions" else "cpu_ms_" + part.replace(" ", "_")
                    out[f"{tag}_{key}"] = round(v, 2)
                out[f"{tag}_cpu_ms_total"] = round(sum(v for k, v in out.items() if "_cpu_ms_" in k), 2)
            out[f"{tag}_actions_per_s_c{conc}"] = round(per_s)
            out[f"{tag}_p50_ms_c{conc}"] = ms(pct(lat, 50))
            out[f"{tag}_p99_ms_c{conc}"] = ms(pct(lat, 99))
        return out


def cache_memory(n: int) -> dict[str, float]:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", CACHE_SCRIPT, str(n)], capture_output=True, text=True, cwd=root, check=True
    )
    size, took, lookup, rss_mb, hits = proc.stdout.split()
    assert int(size) == n and int(hits) > 0
    return {
        "cache_uids": int(size),
        "cache_insert_us_per_uid": round(float(took) / n * 1e6, 1),
        "cache_lookup_us": round(float(lookup) * 1e6, 2),
        "cache_rss_growth_mib": round(float(rss_mb), 1),
    }


async def etcd_holdings(url: str) -> dict[str, float]:
    """The uid keys the run left under the demo site's prefix, and the member's database in use."""
    from app.manager.etcd import b64, prefix_end

    async with aiohttp.ClientSession() as s:
        prefix = "/sensetwin/uid/"
        body = {"key": b64(prefix), "range_end": prefix_end(prefix), "count_only": True}
        async with s.post(f"{url}/v3/kv/range", json=body) as r:
            count = int((await r.json()).get("count", 0))
        async with s.post(f"{url}/v3/maintenance/status", json={}) as r:
            st = await r.json()
    return {
        "etcd_uids": count,
        "etcd_db_in_use_mib": round(int(st.get("dbSizeInUse", st.get("dbSize", 0))) / 2**20, 2),
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
        meter = CpuMeter(topo)
        figures.update(asyncio.run(_actions(topo.parts["primary server"].url, a.seconds, "direct", meter)))
        figures.update(asyncio.run(_actions(pm, a.seconds, "manager", meter)))
        figures.update(asyncio.run(etcd_holdings(topo.etcd_urls()[0])))
    for c in (1, 8):
        figures[f"ratio_p50_c{c}"] = round(
            float(figures[f"manager_p50_ms_c{c}"]) / float(figures[f"direct_p50_ms_c{c}"]), 2
        )  # type: ignore[arg-type]
        figures[f"ratio_throughput_c{c}"] = round(
            float(figures[f"manager_actions_per_s_c{c}"]) / float(figures[f"direct_actions_per_s_c{c}"]), 2
        )  # type: ignore[arg-type]
    figures.update(cache_memory(a.uids))
    figures["cpu_count"] = os.cpu_count() or 0
    for k, v in figures.items():
        print(f"{k:>28}: {v}")
    summary("manager", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
