"""Run the demo system until interrupted (the console joins it once it exists)."""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path

from .topology import Topology


def run_demo(state_dir: Path | None) -> int:
    topo = Topology.create(state_dir)
    topo.add_sims()
    topo.add_managers()
    topo.start_all()
    try:
        topo.wait_ready()
        print("SenseTwin demo is running:")
        for p in topo.parts.values():
            print(f"  {p.name:<18} {p.url}   (log {p.log_path})")
        print(f"  journal            {topo.journal}")
        print("Press Ctrl+C to stop every part.", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    finally:
        topo.stop_all()
    return 0
