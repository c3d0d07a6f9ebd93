"""Benchmark of the managers' coordination: the cost of one claim and of one done in etcd (three members on this
machine, measured apart, next to a plain read of one key), and manager failover through etcd: kill -9 of the
primary manager → the next action a console sends answered Ok (by the secondary, which claims it).

    python -m tests.perf.etcd [--claims 300] [--kills 5]      (--smoke: a tiny run for make test)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from app.demo import Topology
from app.manager.coord import UidRecord
from app.manager.etcd import EtcdClient, cmp_create, cmp_mod, op_get, op_put
from tests.perf.client import bench_client, until
from tests.perf.common import ms, pct, summary


async def coordination_costs(urls: list[str], n: int) -> dict[str, object]:
    client = EtcdClient(urls, timeout=2.0)
    await client.start()
    try:
        lease = await client.grant(600)
        claims, dones, reads = [], [], []
        for i in range(n):
            key = f"/bench/uid/{time.time_ns()}-{i}"
            rec = UidRecord(key, "claimed", "primary", "bench", "selectCamera", "a=1", None, None, 0, lease)
            t = time.perf_counter()
            r = await client.txn([cmp_create(key, 0)], [op_put(key, rec.value(), lease)], [op_get(key)])
            claims.append(time.perf_counter() - t)
            assert r.succeeded
            rec.state, rec.code, rec.answer = "done", 0, b'<result errorcode="0"/>'
            t = time.perf_counter()
            d = await client.txn([cmp_mod(key, r.revision)], [op_put(key, rec.value(), lease)], [op_get(key)])
            dones.append(time.perf_counter() - t)
            assert d.succeeded
            t = time.perf_counter()
            await client.get(key)
            reads.append(time.perf_counter() - t)
        again = await client.txn([cmp_create(key, 0)], [op_put(key, "x", lease)], [op_get(key)])
        assert not again.succeeded  # the second claim of a uid loses
        await client.revoke(lease)
    finally:
        await client.close()
    return {
        "claim_p50_ms": ms(pct(claims, 50)),
        "claim_p99_ms": ms(pct(claims, 99)),
        "done_p50_ms": ms(pct(dones, 50)),
        "done_p99_ms": ms(pct(dones, 99)),
        "read_p50_ms": ms(pct(reads, 50)),
        "claims": n,
    }


async def failover(topo: Topology, kills: int) -> dict[str, object]:
    c = await bench_client(topo)
    times: list[float] = []
    try:
        await until(c, lambda v: v.executing_manager is not None, 15)
        d = (await c.read("getLayoutStatus")).root.find("layoutstatus/divas/diva")
        assert d is not None
        divaid = d.findtext("divaid") or ""
        for _ in range(kills):
            o = await c.act("executeAction", actionname="viewer.executeMacro", divaid=divaid, name="Incident mode")
            assert o.ok, o.message
            pm = topo.parts["primary manager"]
            t = time.perf_counter()
            pm.kill()
            o = await c.act("executeAction", actionname="viewer.executeMacro", divaid=divaid, name="Incident mode")
            while not o.ok and time.perf_counter() - t < 10:  # an operator's next click, as soon as one fails
                o = await c.act("executeAction", actionname="viewer.executeMacro", divaid=divaid, name="Incident mode")
            times.append(time.perf_counter() - t)
            assert o.ok, o.message
            pm.start()
            # Back to the state every kill starts from: the primary claims, the secondary in failover mode again
            # (it goes back when the primary's claims appear, so the console's actions bring it back).
            end = time.perf_counter() + 20
            while time.perf_counter() < end:
                p, s = c.view.managers["primary"], c.view.managers["secondary"]
                if p.reachable and p.forwarding and s.mode == "failover":
                    break
                if p.reachable and p.forwarding:
                    await c.act("executeAction", actionname="viewer.executeMacro", divaid=divaid, name="Incident mode")
                await asyncio.sleep(0.05)
    finally:
        await c.close()
    return {"failover_ms_p50": ms(pct(times, 50)), "failover_ms_max": ms(max(times)), "kills": kills}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", type=int, default=300)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="20 claims, 1 kill")
    a = ap.parse_args(argv)
    if a.smoke:
        a.claims, a.kills = 20, 1
    with tempfile.TemporaryDirectory() as tmp, Topology.create(Path(tmp), action_rate=0) as topo:
        topo.start_system()
        figures = asyncio.run(coordination_costs(topo.etcd_urls(), a.claims))
        figures |= asyncio.run(failover(topo, a.kills))
    for k, v in figures.items():
        print(f"{k:>24}: {v}")
    summary("etcd", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
