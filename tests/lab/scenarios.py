"""Scripted lab scenarios: the whole system on the lab, a few dozen actions from the two paired consoles during
each step, and the chaos checker over the servers' journal.

    smoke               no fault; the managers silently cut from each other both ways; the primary manager's
                        host down (part of `make test` through tests/lab/test_lab.py)
    partition-managers  the managers cut from each other: silent, refused, one way, mixed
    host-down           the primary manager's host, the secondary manager's host, the primary server's host and
                        the witness (etcd member) down, one at a time
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

# step = (fault kind or None, actions, host for the host-down kinds)
Step = tuple[str | None, int, str | None]
SCENARIOS: dict[str, list[Step]] = {
    "smoke": [(None, 6, None), ("mgr-cut-silent", 16, None), ("mgr-host-down", 16, "mgr-p")],
    "partition-managers": [
        (None, 6, None),
        ("mgr-cut-silent", 12, None),
        ("mgr-cut-refused", 12, None),
        ("mgr-cut-oneway", 12, None),
        ("mgr-cut-mixed", 12, None),
    ],
    "host-down": [
        (None, 6, None),
        ("mgr-host-down", 12, "mgr-p"),
        ("mgr-host-down", 12, "mgr-s"),
        ("srv-host-down", 12, "srv-p"),
        ("witness-down", 12, "witness"),
    ],
}


async def run_scenario(name: str, workdir: Path, seed: int = 1, profile: str = "lan") -> dict[str, Any]:
    from tests.perf.chaos import LabChaos

    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    ch = LabChaos(workdir, seed, profile)
    try:
        await ch.start()
        for kind, actions, host in SCENARIOS[name]:
            await ch.phase(kind, actions, host)
        await asyncio.sleep(1.0)  # late answers and mirrored copies settle
        return {"scenario": name, **ch.check()}
    finally:
        await ch.close()


def scenario(name: str, keep: Path | None = None, seed: int = 1, profile: str = "lan") -> dict[str, Any]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        return asyncio.run(run_scenario(name, keep, seed, profile))
    with tempfile.TemporaryDirectory(prefix="sensetwin-lab-") as tmp:
        return asyncio.run(run_scenario(name, Path(tmp), seed, profile))


def verdict(result: dict[str, Any]) -> list[str]:
    """What breaks the rule 'every action at most once, nothing lost, nothing stale' (empty: all good)."""
    bad = []
    for key in ("lost", "duplicated_nonidempotent", "reexecuted_idempotent", "stale"):
        if result.get(key):
            bad.append(f"{key}: {result[key]}")
    return bad
