"""Run the demo system: two sims, three etcd members and two managers on loopback, and the console on them with a
Demo menu."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from pathlib import Path

from .topology import DEMO_ALARMS, Topology


def run_demo(state_dir: Path | None, console: bool = True, screenshot: Path | None = None) -> int:
    topo = Topology.create(state_dir, cuttable=True, alarms=DEMO_ALARMS)
    try:
        try:
            topo.start_system()
        except RuntimeError as exc:  # etcd not installed: say how, start nothing
            print(f"sensetwin demo: {exc}", file=sys.stderr)
            return 1
        print("SenseTwin demo is running:")
        for p in topo.parts.values():
            print(f"  {p.name:<18} {p.url}   (log {p.log_path})")
        print(f"  journal            {topo.journal}", flush=True)
        if console:
            from ..ui import xcb
            from ..ui.app import display_available

            why = xcb.problem()
            if why:  # Qt would abort the whole process: say what to install, keep the system running
                print(f"sensetwin demo: {why}. The demo system keeps running headless.", file=sys.stderr)
            elif display_available():
                from ..ui.app import run_console
                from ..ui.settings import ConsoleSettings

                urls = {k: p.url for k, p in topo.parts.items()}
                s = ConsoleSettings(
                    station="Demo desk",
                    managers=[urls["primary manager"], urls["secondary manager"]],
                    servers=[urls["primary server"], urls["secondary server"]],
                )
                return run_console(s, demo=topo, screenshot=screenshot)
            else:
                print(
                    "No display found (DISPLAY is not set): the console cannot open here. Run under `xvfb-run`, or\n"
                    "set QT_QPA_PLATFORM=offscreen with --screenshot FILE. The system keeps running headless.",
                    file=sys.stderr,
                )
        print("Press Ctrl+C to stop every part.", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    finally:
        topo.stop_all()
    return 0
