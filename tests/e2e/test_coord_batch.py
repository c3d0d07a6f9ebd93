"""Claims that arrive together go to etcd together (group commit), and a batch never decides a uid wrongly: real
etcd members on loopback, the Coordination used directly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.demo import Topology
from app.manager.coord import Coordination
from app.manager.etcd import EtcdClient, b64
from tests.helpers import etcd_txns


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[list[str]]:
    with Topology.create(tmp_path / "etcd") as topo:
        topo.add_etcd(count=3)
        topo.start_all()
        topo.wait_ready()
        yield topo.etcd_urls()


async def _with_coordination(urls: list[str], tmp: Path, body):  # type: ignore[no-untyped-def]
    client = EtcdClient(urls, timeout=2.0)
    await client.start()
    coord = Coordination(client, "/batch/", "batch", "primary", 2, 600, 1000, tmp, lambda: None, create_site=True)
    try:
        await coord.start(wait_site=5)
        return await body(coord)
    finally:
        await coord.close()
        await client.close()


def test_concurrent_claims_win_each_uid_in_fewer_transactions(etcd: list[str], tmp_path: Path) -> None:
    uids = [f"batch-{i}" for i in range(40)]

    async def body(coord: Coordination):  # type: ignore[no-untyped-def]
        before = etcd_txns(etcd)
        results = await asyncio.gather(*(coord.claim(u, "selectCamera", f"p={u}") for u in uids))
        return results, etcd_txns(etcd) - before

    results, txns = asyncio.run(_with_coordination(etcd, tmp_path, body))
    assert all(r.won for r in results)
    assert [r.record.uid for r in results] == uids
    assert all(r.record.mod_revision > 0 and r.record.lease != 0 for r in results)
    assert txns < len(uids) // 2, f"{txns} transactions for {len(uids)} claims arriving together"
    for u in uids[:3]:  # each key holds its own claim
        got = httpx.post(f"{etcd[0]}/v3/kv/range", json={"key": b64(f"/batch/uid/{u}")}, timeout=5).json()
        value = json.loads(__import__("base64").b64decode(got["kvs"][0]["value"]))
        assert value["state"] == "claimed" and value["params"] == f"p={u}"


def test_a_held_uid_in_a_batch_is_lost_and_the_others_are_still_won(etcd: list[str], tmp_path: Path) -> None:
    held = {"state": "claimed", "by": "secondary", "instance": "0123456789ab", "command": "selectCamera",
            "params": "p=held", "code": None, "answer": None}  # fmt: skip
    uids = ["a", "b", "held", "c", "d"]

    async def body(coord: Coordination):  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient() as http:  # another manager's claim, written once the site exists
            body = {"key": b64("/batch/uid/held"), "value": b64(json.dumps(held))}
            r = await http.post(f"{etcd[0]}/v3/kv/put", json=body, timeout=5)
            assert r.status_code == 200, r.text
        return await asyncio.gather(*(coord.claim(u, "selectCamera", f"p={u}") for u in uids))

    results = asyncio.run(_with_coordination(etcd, tmp_path, body))
    by_uid = {res.record.uid: res for res in results}
    assert not by_uid["held"].won and by_uid["held"].record.instance == "0123456789ab"
    assert all(by_uid[u].won for u in "abcd")
