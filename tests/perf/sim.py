"""Benchmark of one simulated server on loopback: reads/s, actions/s, the takeover time over N kills, and its
pictures: the render time of a 320x176 and a 640x352 frame (in process, p50, JPEG included: a fixed camera, whose
still part is cached, and a dome on the move, whose still part is drawn every frame) and live images/s over HTTP
(a wall of 24 panels at 1 frame/s needs 24).

python -m tests.perf.sim [--seconds 3] [--kills 20] [--frames 200]      (--smoke: a tiny run for make test)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

from app.demo import Topology
from app.sense import encode, parse_result, parse_xml
from app.sense.events import EventLog
from app.sim.pictures import Pictures
from app.sim.site import load_site
from app.sim.world import World
from tests.perf.common import ms, pct, rate, summary

WALL_SIZES = ((320, 176), (640, 352))


def _state(url: str) -> str:
    try:
        with urllib.request.urlopen(url + "/info", timeout=0.5) as r:
            return parse_xml(r.read()).findtext("state") or "?"
    except OSError:
        return "down"


def _wait(cond, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"benchmark: {what} did not happen within {timeout} s")
        time.sleep(0.002)


async def throughput(url: str, seconds: float) -> dict[str, float]:
    async with aiohttp.ClientSession() as s:

        async def get(q: str) -> None:
            async with s.get(f"{url}/command?{q}") as r:
                res = parse_result(await r.read())
                assert res.ok, res.description

        st = await (await s.get(f"{url}/command?command=getLayoutStatus")).read()
        root = parse_result(st).root
        d = root.find("layoutstatus/divas/diva")
        assert d is not None
        divaid = d.findtext("divaid")
        layoutid = d.findtext("monitors/monitor/layout/layoutid")
        panelid = d.findtext("monitors/monitor/layout/panels/panel/panelid")
        read_q = encode("getDivaList")

        def action_q(i: int) -> str:
            return encode(
                "selectCamera",
                {"cameraview": f"cameraid:{101 + i % 16}", "layoutid": layoutid, "panelid": panelid, "divaid": divaid},
                uid=f"bench-{time.time_ns()}-{i}",
            )

        out: dict[str, float] = {}
        for conc in (1, 8):
            r, lat = await rate(lambda i: get(read_q), seconds, conc)
            out[f"reads_per_s_c{conc}"] = round(r)
            out[f"read_p50_ms_c{conc}"] = ms(pct(lat, 50))
            r, lat = await rate(lambda i: get(action_q(i)), seconds, conc)
            out[f"actions_per_s_c{conc}"] = round(r)
            out[f"action_p50_ms_c{conc}"] = ms(pct(lat, 50))
            out[f"action_p99_ms_c{conc}"] = ms(pct(lat, 99))
        return out


def render_times(frames: int) -> dict[str, float]:
    """p50 of drawing and encoding one frame in this process: a fixed camera of the demo site (its still part
    drawn once, then cached), and a dome on the move (a new view every frame: the still part drawn each time)."""
    site = load_site()
    fixed = next(c for c in site.cameras.values() if not c.ptz)
    dome = next(c for c in site.cameras.values() if c.ptz)
    pictures = Pictures(World(site, EventLog(10)))
    out: dict[str, float] = {}
    try:
        for w, h in WALL_SIZES:
            for name, cam in (("fixed", fixed), ("moving_dome", dome)):
                job = pictures.live_job(
                    {"cameraid": cam.deviceid, "imagewidth": w, "imageheight": h, "fittopanel": True}
                )
                times = []
                for i in range(frames + 1):
                    view = job.view and dataclasses.replace(job.view, azimuth=job.view.azimuth + i * 0.7)
                    j = dataclasses.replace(job, t=job.t + i * 0.04, view=view, keep=view is None)
                    t = time.perf_counter()
                    pictures.render(j)
                    if i:  # the first frame also builds the scene
                        times.append(time.perf_counter() - t)
                out[f"render_{w}x{h}_{name}_p50_ms"] = ms(pct(times, 50))
    finally:
        pictures.close()
    return out


async def live_images(url: str, seconds: float) -> dict[str, float]:
    """getLiveImage 320x176 over HTTP from 8 concurrent clients, over the demo site's fixed cameras."""
    site = load_site()
    cams = [c for c in site.cameras.values() if not c.ptz]
    async with aiohttp.ClientSession() as s:

        async def get(i: int) -> None:
            c = cams[i % len(cams)]
            q = encode("getLiveImage", {"cameraid": c.deviceid, "imagewidth": 320, "imageheight": 176})
            async with s.get(f"{url}/command?{q}") as r:
                body = await r.read()
                assert r.content_type == "image/jpeg", body[:200]

        r, lat = await rate(get, seconds, 8)
    return {"live_images_per_s_c8": round(r), "live_image_p50_ms_c8": ms(pct(lat, 50))}


def takeovers(topo: Topology, kills: int) -> list[float]:
    primary, secondary = topo.parts["primary server"], topo.parts["secondary server"]
    times = []
    for _ in range(kills):
        _wait(lambda: _state(primary.url) == "active" and _state(secondary.url) == "standby", 10, "pair formed")
        t = time.perf_counter()
        primary.kill()
        _wait(lambda: _state(secondary.url) == "active", 5, "takeover")
        times.append(time.perf_counter() - t)
        primary.start()
    _wait(lambda: _state(primary.url) == "active", 10, "final failback")
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds per throughput figure")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--frames", type=int, default=200, help="frames drawn per render figure")
    ap.add_argument("--smoke", action="store_true", help="a tiny run: 0.2 s per figure, 2 kills, 10 frames")
    a = ap.parse_args(argv)
    if a.smoke:
        a.seconds, a.kills, a.frames = 0.2, 2, 10
    figures: dict[str, object] = dict(render_times(a.frames))
    with tempfile.TemporaryDirectory() as tmp, Topology.create(Path(tmp)) as topo:
        topo.add_sims()
        topo.start_all()
        topo.wait_ready()
        topo.wait_settled()
        figures.update(asyncio.run(throughput(topo.parts["primary server"].url, a.seconds)))
        figures.update(asyncio.run(live_images(topo.parts["primary server"].url, a.seconds)))
        t = takeovers(topo, a.kills)
        figures.update(kills=len(t), takeover_ms_p50=ms(pct(t, 50)), takeover_ms_max=ms(max(t)))
    for k, v in figures.items():
        print(f"{k:>24}: {v}")
    summary("sim", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
