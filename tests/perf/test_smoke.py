"""Tiny runs of every benchmark so they don't rot. No figures are judged here: they only have to run
and end with their one-line JSON summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("bench", ["sim", "manager", "client", "ui"])
def test_benchmark_smoke_run_prints_a_json_summary(bench: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", f"tests.perf.{bench}", "--smoke"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["benchmark"] == bench
