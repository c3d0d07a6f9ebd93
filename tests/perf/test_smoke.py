"""Tiny runs of every benchmark so they don't rot. No figures are judged here: they only have to run
and end with their one-line JSON summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("bench", ["sim", "manager", "client", "ui", "security", "etcd"])
def test_benchmark_smoke_run_prints_a_json_summary(bench: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", f"tests.perf.{bench}", "--smoke"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["benchmark"] == bench


def test_chaos_smoke_run_finds_nothing_lost_or_doubled() -> None:
    """About 100 actions and 5 faults: fails if the checker finds a lost or doubled action."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.perf.chaos", "--smoke", "--seed", "7"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["benchmark"] == "chaos" and last["actions"] == 100 and last["faults"] >= 3
    assert last["lost"] == 0 and last["duplicated_nonidempotent"] == 0, proc.stdout[-3000:]
    # The workflow load ran: a tour went on through the faults and alarms were raised and reacted to, once each.
    assert last["tour_steps_executed"] >= 3 and last["alarm_events_raised"] >= 1, proc.stdout[-3000:]
    assert last["reactions_doubled"] == 0 and last["tour_steps_repeated"] == 0, proc.stdout[-3000:]
    assert 0 <= last["alarm_events_lost_with_server"] <= last["alarm_events_raised"], proc.stdout[-3000:]
    assert proc.returncode == 0, proc.stderr[-3000:]
