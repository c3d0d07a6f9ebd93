"""Benchmark of the console's UI thread, on the demo site and on the big site (each in a process of its own, so
that their memory figures do not mix):

- demo site: the time from start to a connected window showing the wall; the longest UI-thread stall (gap
  between 2 ms timer ticks) while 100 actions are sent and while a failover happens; then with 24 panels live
  (four monitors on layout 1+5, a camera on every panel): the longest stall, the frames per second actually
  shown and the console's CPU use (this process, decoding threads included);
- both sites: start to wall, the camera filter's time per keystroke (typing a name letter by letter, the tree
  repainted), the console's memory (resident, and its peak) once the wall shows pictures.

Target: stalls below 50 ms.

    QT_QPA_PLATFORM=offscreen python -m tests.perf.ui [--actions 100] [--live 10]     (--smoke: a short run)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from app.demo import Topology
from tests.perf.common import summary

TYPED = "north gate 00"  # a name typed letter by letter into the filter (the big site has "North gate 0001"…)


def _memory() -> tuple[float, float]:
    """Resident and peak resident memory of this process, MB."""
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return round(values.get("VmRSS", float("nan")), 1), round(values.get("VmHWM", float("nan")), 1)


def run_site(site: str, actions: int, live: float) -> dict[str, object]:
    """One site's figures, measured in this process (the console) against its own demo system."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.client import RedundantClient
    from app.ui import qtloop
    from app.ui.app import client_settings, make_app
    from app.ui.main_window import MainWindow
    from app.ui.settings import ConsoleSettings

    with tempfile.TemporaryDirectory() as tmp, Topology.create(Path(tmp), action_rate=0, sim_site=site) as topo:
        topo.start_system()
        urls = {k: p.url for k, p in topo.parts.items()}
        app = make_app()
        gaps: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        timer = QTimer()
        timer.timeout.connect(tick)

        async def phase_max(coro: Any) -> float:
            gaps.clear()
            last[0] = time.perf_counter()
            await coro
            return max(gaps) * 1000 if gaps else float("nan")

        async def until(condition: Any, timeout: float, what: str) -> None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while not condition():
                if loop.time() > deadline:
                    raise TimeoutError(f"{what} within {timeout} s")
                await asyncio.sleep(0.005)

        async def run() -> dict[str, object]:
            figures: dict[str, object] = {}
            t0 = time.perf_counter()
            s = ConsoleSettings(
                station="bench",
                managers=[urls["primary manager"], urls["secondary manager"]],
                servers=[urls["primary server"], urls["secondary server"]],
            )
            client = RedundantClient(client_settings(s))
            await client.start()
            win = MainWindow(client, "bench", topo)
            win.show()
            await until(
                lambda: win.wall.monitors and client.view.executing_manager and client.view.active_server, 60, "wall"
            )
            figures["startup_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            figures["monitors_drawn"] = len(win.wall.monitors)
            timer.start(2)

            if site == "demo":
                figures.update(await demo_phases(win))

            # Pictures on every panel with a camera, then memory; the filter's time per keystroke.
            await until(lambda: all(p.image is not None for p in _live(win)), 20, "a picture on every panel")
            figures["panels_live"] = len(_live(win))
            figures["rss_mb"], figures["rss_peak_mb"] = _memory()
            per_key = []
            tree = win.cameras.tree
            for n in range(1, len(TYPED) + 1):
                t = time.perf_counter()
                win.cameras.filter.setText(TYPED[:n])
                tree.viewport().repaint()
                per_key.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            win.cameras.filter.clear()
            tree.viewport().repaint()
            per_key.append((time.perf_counter() - t) * 1000)
            figures["filter_ms_per_key_median"] = round(statistics.median(per_key), 2)
            figures["filter_ms_per_key_max"] = round(max(per_key), 2)
            figures["cameras"] = len(win.site.cameras)

            timer.stop()
            win.close()
            await win.shutdown()
            await client.close()
            return figures

        async def demo_phases(win: MainWindow) -> dict[str, object]:
            mon = next(iter(win.wall.monitors.values()))
            pid = next(iter(mon.area.panels))
            keys = list(win.site.cameras)

            async def send_actions() -> None:
                sem = asyncio.Semaphore(10)

                async def one(i: int) -> None:
                    async with sem:
                        cam = win.site.cameras[keys[i % len(keys)]]
                        o = await win.act(
                            "selectCamera",
                            cameraview=f"serverid:{cam.serverid};cameraid:{cam.deviceid}",
                            layoutid=mon.layoutid,
                            panelid=pid,
                            divaid=mon.divaid,
                        )
                        assert o.ok, o.message

                await asyncio.gather(*(one(i) for i in range(actions)))

            async def failover() -> None:
                topo.parts["primary server"].kill()
                await until(lambda: "ACTIVE" in win.strip.tiles["secondary server"].state.text(), 20, "takeover")

            out: dict[str, object] = {"actions": actions}
            out["stall_ms_actions"] = round(await phase_max(send_actions()), 1)
            out["stall_ms_failover"] = round(await phase_max(failover()), 1)
            out.update(await live_panels(win, keys))
            return out

        async def live_panels(win: MainWindow, keys: list[str]) -> dict[str, object]:
            """Every monitor on 1+5 (24 panels on the demo's four monitors), a camera on every panel, then `live`
            seconds of pictures."""
            multi = next(lay.layoutid for lay in win.site.layouts.values() if len(lay.panels) == 6)
            for (divaid, index), _ in list(win.wall.monitors.items()):
                o = await win.act("selectLayout", divaid=divaid, monitorindex=index, layoutid=multi)
                assert o.ok, o.message
            await win.refresh_wall()
            i = 0
            for (divaid, _), m in list(win.wall.monitors.items()):
                for pid in m.area.panels:
                    cam = win.site.cameras[keys[i % len(keys)]]
                    i += 1
                    o = await win.act(
                        "selectCamera",
                        cameraview=f"serverid:{cam.serverid};cameraid:{cam.deviceid}",
                        layoutid=multi,
                        panelid=pid,
                        divaid=divaid,
                    )
                    assert o.ok, o.message
            await win.refresh_wall()
            panels = _live(win)
            await until(lambda: all(p.image is not None for p in panels), 20, "a picture on all 24 panels")
            frames0, cpu0, wall0 = win.feed.frames, time.process_time(), time.perf_counter()
            stall = await phase_max(asyncio.sleep(live))
            took = time.perf_counter() - wall0
            return {
                "live_panels": len(panels),
                "live_seconds": live,
                "stall_ms_live": round(stall, 1),
                "frames_per_s_shown": round((win.feed.frames - frames0) / took, 1),
                "frames_per_s_asked": round(len(panels) / win.wall.panels()[0].interval, 1),
                "cpu_percent_live": round((time.process_time() - cpu0) / took * 100, 1),
                "most_picture_requests_at_once": win.feed.most_in_flight,
            }

        app.setQuitOnLastWindowClosed(False)
        figures = qtloop.run(app, run())
        assert isinstance(app, QApplication)
    return figures


def _live(win: Any) -> list[Any]:
    return [p for p in win.wall.panels() if p.source is not None]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--actions", type=int, default=100)
    ap.add_argument("--live", type=float, default=10.0, help="seconds of 24 live panels")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--site", choices=("demo", "big"), help=argparse.SUPPRESS)  # one site, in this process
    a = ap.parse_args(argv)
    if a.smoke:
        a.actions, a.live = 10, 2.0
    if a.site:
        print(json.dumps(run_site(a.site, a.actions, a.live)), flush=True)
        return 0
    figures: dict[str, object] = {}
    for site in ("demo", "big"):
        cmd = [
            sys.executable,
            "-m",
            "tests.perf.ui",
            "--site",
            site,
            "--actions",
            str(a.actions),
            "--live",
            str(a.live),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode
        part = json.loads(proc.stdout.strip().splitlines()[-1])
        figures.update(part if site == "demo" else {f"big_{k}": v for k, v in part.items()})
    figures["target_stall_ms"] = 50
    for k, v in figures.items():
        print(f"{k:>34}: {v}")
    summary("ui", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
