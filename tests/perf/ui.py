"""Benchmark of the console's UI thread: the longest stall (gap between 2 ms timer ticks) while 100 actions are
sent and while a failover happens, and the time from start to a connected window showing the wall.
Target: stalls below 50 ms.

    QT_QPA_PLATFORM=offscreen python -m tests.perf.ui [--actions 100]      (--smoke: 10 actions)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from app.demo import Topology
from tests.perf.common import summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--actions", type=int, default=100)
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args(argv)
    if a.smoke:
        a.actions = 10
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer

    from app.client import RedundantClient
    from app.ui import qtloop
    from app.ui.app import client_settings, make_app
    from app.ui.main_window import MainWindow
    from app.ui.settings import ConsoleSettings

    with tempfile.TemporaryDirectory() as tmp, Topology.create(Path(tmp), action_rate=0) as topo:
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

        async def phase_max(coro: object) -> float:
            gaps.clear()
            last[0] = time.perf_counter()
            await coro  # type: ignore[misc]
            return max(gaps) * 1000 if gaps else float("nan")

        async def run() -> dict[str, object]:
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
            while not (win.wall.monitors and client.view.executing_manager and client.view.active_server):  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            startup = time.perf_counter() - t0
            timer.start(2)
            mon = next(iter(win.wall.monitors.values()))
            pid = next(iter(mon.area.panels))
            keys = list(win.site.cameras)

            async def actions() -> None:
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

                await asyncio.gather(*(one(i) for i in range(a.actions)))

            async def failover() -> None:
                topo.parts["primary server"].kill()
                while "ACTIVE" not in win.strip.tiles["secondary server"].state.text():  # noqa: ASYNC110
                    await asyncio.sleep(0.005)

            stall_actions = await phase_max(actions())
            stall_failover = await phase_max(failover())
            timer.stop()
            win.close()
            await win.shutdown()
            await client.close()
            return {
                "startup_ms": round(startup * 1000, 1),
                "stall_ms_actions": round(stall_actions, 1),
                "stall_ms_failover": round(stall_failover, 1),
                "actions": a.actions,
                "target_stall_ms": 50,
            }

        figures = qtloop.run(app, run())
    for k, v in figures.items():
        print(f"{k:>20}: {v}")
    summary("ui", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
