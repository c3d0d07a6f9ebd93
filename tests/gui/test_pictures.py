"""Pictures in the console: wall panels, the tree's preview and the PTZ view, live and in playback, on the real
demo processes; and what a bad server does to a panel (a server of our own, run as a process: the simulator
answers only good pictures).

    python -m tests.gui.test_pictures --serve PORT DIR     the bad server alone (DIR holds the JPEGs it serves)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import QBuffer, QIODevice, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QDockWidget, QGridLayout, QWidget

from app.client import ClientSettings, RedundantClient
from app.client.site import Camera
from app.config import DEFAULTS, LOOPBACK
from app.demo import Topology
from app.sim import read_journal
from app.ui.main_window import MainWindow
from app.ui.pictures import PictureFeed, PictureView
from app.ui.settings import ConsoleSettings
from app.ui.wall import PanelWidget
from tests.gui.conftest import console_window

# -- the bad server -----------------------------------------------------------------------------------------


def serve(port: int, folder: Path) -> None:
    """A Sense-like endpoint whose cameraid says how to answer getLiveImage (see BAD below)."""
    from aiohttp import web

    frames = [(folder / f"frame-{i}.jpg").read_bytes() for i in range(2)]
    big = (folder / "big.jpg").read_bytes()
    xml_down = b'<result errorcode="-21"><description>Device not active</description></result>'
    state = {"now": 0, "most": 0, "count": 0, "sent": 0}
    served: dict[str, int] = {}

    async def command(request: web.Request) -> web.StreamResponse:
        if request.query.get("command") != "getLiveImage":
            return web.Response(status=404)
        cam = request.query.get("cameraid", "")
        state["now"] += 1
        state["count"] += 1
        state["most"] = max(state["most"], state["now"])
        try:
            return await answer(request, cam)
        except ConnectionError:  # the console gave up on the answer, as it should
            return web.Response(status=499)
        finally:
            state["now"] -= 1

    async def answer(request: web.Request, cam: str) -> web.StreamResponse:
        served[cam] = served.get(cam, 0) + 1
        if cam == "good":  # a new picture every time, as from a live camera
            return web.Response(body=frames[served[cam] % 2], content_type="image/jpeg")
        if cam == "still":
            return web.Response(body=frames[0], content_type="image/jpeg")
        if cam == "down":
            return web.Response(body=xml_down, content_type="text/xml")
        if cam == "corrupt":
            return web.Response(body=b"\xff\xd8\xff\xe0" + os.urandom(20000), content_type="image/jpeg")
        if cam == "xml":
            return web.Response(body=xml_down, content_type="image/jpeg")
        if cam == "bomb":
            return web.Response(body=big, content_type="image/jpeg")
        if cam in ("huge", "huge-chunked", "never"):
            r = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
            if cam == "huge":
                r.content_length = 50 * 1024 * 1024
            await r.prepare(request)
            chunk = b"\xff\xd8\xff\xe0" + b"x" * (64 * 1024 - 4)
            for _ in range(50 * 16):  # 50 MB in 64 KiB pieces, or a byte every 0.2 s forever
                if cam == "never":
                    await r.write(b"\xff")
                    await asyncio.sleep(0.2)
                    continue
                await r.write(chunk)
                state["sent"] += len(chunk)
            return r
        if cam == "slow":
            await asyncio.sleep(30)
            return web.Response(body=frames[0], content_type="image/jpeg")
        return web.Response(status=404)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(state)

    async def reset(request: web.Request) -> web.Response:
        state.update(most=state["now"], count=0, sent=0)
        return web.json_response(state)

    app = web.Application()
    app.router.add_get("/command", command)
    app.router.add_get("/stats", stats)
    app.router.add_get("/reset", reset)
    web.run_app(app, host=LOOPBACK, port=port, print=None, handle_signals=True, shutdown_timeout=0.5)


def jpeg(width: int, height: int, color: str, text: str = "", quality: int = 80) -> bytes:
    img = QImage(width, height, QImage.Format.Format_RGB32)
    img.fill(QColor(color))
    if text:
        p = QPainter(img)
        p.setPen(QColor("white"))
        p.setFont(QFont("DejaVu Sans", 18))
        p.drawText(img.rect(), Qt.AlignmentFlag.AlignCenter, text)
        p.end()
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "JPG", quality)
    return bytes(buf.data().data())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@pytest.fixture
def bad_server(tmp_path: Path, qapp: Any) -> Iterator[str]:
    (tmp_path / "frame-0.jpg").write_bytes(jpeg(320, 180, "#204060", "frame A"))
    (tmp_path / "frame-1.jpg").write_bytes(jpeg(320, 180, "#406020", "frame B"))
    (tmp_path / "big.jpg").write_bytes(jpeg(2400, 2400, "#303030", quality=30))  # 5.8 MP: above the pixel limit
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.gui.test_pictures", "--serve", str(port), str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2],
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{url}/stats", timeout=0.5)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _stats(url: str, path: str = "stats") -> dict[str, int]:
    data: dict[str, int] = httpx.get(f"{url}/{path}", timeout=2).json()
    return data


class _Stalls:
    """The longest gap between 5 ms timer ticks on the UI thread while it runs."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.timeout.connect(self._tick)
        self._timer.start(5)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last)
        self._last = now

    def stop(self) -> float:
        self._timer.stop()
        return self.longest


@pytest.fixture
def pictures(bad_server: str, run_async: Any, qtbot: Any) -> Iterator[tuple[PictureFeed, QWidget, list[PictureView]]]:
    """Nine views of the bad server's cameras, on screen, fed by a PictureFeed through a RedundantClient whose
    one "manager" is the bad server."""
    client = RedundantClient(ClientSettings("Test desk", [bad_server]))
    feed = PictureFeed(client)
    host = QWidget()
    grid = QGridLayout(host)
    views = []
    for i, cam in enumerate(("good", "still", "down", "corrupt", "xml", "huge", "huge-chunked", "never", "bomb")):
        v = PictureView(cam, "Panel")
        v.show_camera(cam, cam, Camera("1", cam, cam, "", False, "Ok", "bad server"))
        grid.addWidget(v, i // 3, i % 3)
        feed.add(v)
        views.append(v)
    host.resize(960, 540)
    qtbot.addWidget(host)
    host.show()
    feed.start()
    yield feed, host, views
    feed.stop()
    run_async(feed.wait_stopped())
    run_async(client.close())


def _by_name(views: list[PictureView], name: str) -> PictureView:
    return next(v for v in views if v.camera_key == name)


def test_a_bad_server_gets_a_reason_in_each_panel_and_nothing_blocks(pictures: Any, qtbot: Any, tmp_path: Path) -> None:
    feed, host, views = pictures
    stalls = _Stalls()
    expected = {
        "down": "no picture: device not active",
        "corrupt": "no picture: corrupt picture",
        "xml": "no picture: corrupt answer: XML labelled as a picture",
        "huge": "no picture: picture too large (2048 KiB limit)",
        "huge-chunked": "no picture: picture too large (2048 KiB limit)",
        "never": "no picture: no answer in time",
        "bomb": "no picture: picture too large (2400×2400 pixels)",
    }
    for name, words in expected.items():
        v = _by_name(views, name)
        qtbot.waitUntil(lambda v=v, words=words: v.message.text().startswith(words), timeout=8000)
        assert v.image is None
    good = _by_name(views, "good")
    qtbot.waitUntil(lambda: good.image is not None and good.badge.text() == "● LIVE", timeout=5000)
    longest = stalls.stop()
    host.grab().save(str(tmp_path / "bad-server.png"))
    print(f"longest UI stall {longest * 1000:.0f} ms; requests {feed.requests}; most in flight {feed.most_in_flight}")
    assert longest < 0.5, f"the UI thread stalled {longest * 1000:.0f} ms"
    assert feed.most_in_flight <= DEFAULTS.picture_max_in_flight


def test_the_same_picture_again_is_marked_frozen_with_its_age(pictures: Any, qtbot: Any) -> None:
    _, _, views = pictures
    still, good = _by_name(views, "still"), _by_name(views, "good")
    qtbot.waitUntil(lambda: still.image is not None, timeout=5000)
    qtbot.waitUntil(lambda: still.badge.text().startswith("FROZEN"), timeout=5000)
    assert still.property("frozen") == "true" and still.badge.property("state") == "frozen"
    age = int(still.badge.text().split()[1])
    assert age >= DEFAULTS.picture_frozen_after
    qtbot.waitUntil(lambda: int(still.badge.text().split()[1]) > age, timeout=3000)  # the age counts on
    assert good.badge.text() == "● LIVE" and good.property("frozen") != "true"


def test_huge_answers_leave_memory_bounded(pictures: Any, qtbot: Any, bad_server: str) -> None:
    _, _, views = pictures
    huge = _by_name(views, "huge-chunked")
    qtbot.waitUntil(lambda: huge.requests >= 2, timeout=8000)
    rss0 = _rss()
    _stats(bad_server, "reset")
    qtbot.waitUntil(lambda: huge.requests >= 6, timeout=15000)
    grown = _rss() - rss0
    sent = _stats(bad_server)["sent"]
    print(
        f"console memory grew {grown / 1e6:.1f} MB over {huge.requests} huge answers; server wrote {sent / 1e6:.1f} MB"
    )
    assert grown < 40e6


def test_a_slow_server_gets_at_most_one_request_per_panel_and_the_cap_overall(
    bad_server: str, run_async: Any, qtbot: Any
) -> None:
    client = RedundantClient(ClientSettings("Test desk", [bad_server]))
    feed = PictureFeed(client, max_in_flight=4)
    host = QWidget()
    grid = QGridLayout(host)
    views = []
    for i in range(12):
        v = PictureView(f"slow {i}", "Panel")
        v.show_camera(f"slow{i}", "slow", Camera("1", "slow", f"slow {i}", "", False, "Ok", "bad server"))
        v.interval = 0.1  # asks often: the cap and the one-per-panel rule must hold anyway
        grid.addWidget(v, i // 4, i % 4)
        feed.add(v)
        views.append(v)
    qtbot.addWidget(host)
    host.show()
    _stats(bad_server, "reset")
    feed.start()
    try:
        qtbot.waitUntil(lambda: feed.requests >= 8, timeout=10000)
        assert feed.most_in_flight <= 4
        assert max(v.requests for v in views) - min(v.requests for v in views) <= 1  # the longest waiting first
        # The server got no request the feed did not count (the ones given up on are closed, not retried).
        assert _stats(bad_server)["count"] <= feed.requests
        # Hiding the views stops their requests: none after the ones out end.
        host.hide()
        qtbot.waitUntil(lambda: feed.in_flight == 0, timeout=2 * DEFAULTS.picture_timeout * 1000 + 2000)
        count = feed.requests
        # Absence can only be watched for a while: longer than a picture's timeout, during which a panel on
        # screen would have asked again.
        qtbot.wait(int(DEFAULTS.picture_timeout * 1000) + 300)
        assert feed.requests == count
    finally:
        feed.stop()
        run_async(feed.wait_stopped())
        run_async(client.close())


# -- on the real demo processes ---------------------------------------------------------------------------


def _live_panels(win: MainWindow) -> list[PanelWidget]:
    return [p for p in win.wall.panels() if p.source is not None]


def _panel_of(win: MainWindow, name: str) -> PanelWidget:
    return next(p for p in _live_panels(win) if p.source is not None and p.source.name == name)


def _gray(image: QImage) -> list[int]:
    """The picture's middle (the OSD lines at the top and bottom left out), 64×24 grey values."""
    h = image.height()
    middle = image.copy(0, h // 6, image.width(), h * 2 // 3)
    small = middle.scaled(64, 24, Qt.AspectRatioMode.IgnoreAspectRatio).convertToFormat(QImage.Format.Format_Grayscale8)
    return [small.pixelColor(x, y).value() for y in range(24) for x in range(64)]


def _difference(a: QImage, b: QImage) -> float:
    """Mean absolute difference of two pictures' middles, 0..255."""
    ga, gb = _gray(a), _gray(b)
    return sum(abs(x - y) for x, y in zip(ga, gb, strict=True)) / len(ga)


def test_every_panel_shows_its_cameras_picture_within_2_s(window: MainWindow, qtbot: Any, tmp_path: Path) -> None:
    shown = time.monotonic()
    panels = _live_panels(window)
    assert len(panels) >= 10, [(m.layoutid, len(m.area.panels)) for m in window.wall.monitors.values()]
    qtbot.waitUntil(lambda: all(p.image is not None for p in panels), timeout=2000)
    took = time.monotonic() - shown
    assert all(p.badge.text() == "● LIVE" and p.property("frozen") != "true" for p in panels)
    for p in panels:  # sized to the panel: the picture asked for covers the panel (rounded up to 16 pixels)
        assert p.image is not None
        box = p.contentsRect()
        assert p.image.width() >= box.width() - 16 or p.image.height() >= box.height() - 16
    before = {id(p): p.frames for p in panels}
    qtbot.waitUntil(lambda: all(p.frames >= before[id(p)] + 2 for p in panels), timeout=4000)  # about once a second
    window.grab().save(str(tmp_path / "wall.png"))
    print(f"pictures on {len(panels)} panels {took:.2f} s after the wall")


def test_killing_the_primary_manager_keeps_pictures_coming(window: MainWindow, demo: Topology, qtbot: Any) -> None:
    panels = _live_panels(window)
    qtbot.waitUntil(lambda: all(p.image is not None for p in panels), timeout=3000)
    oldest = [0.0]
    timer = QTimer()

    def watch() -> None:
        now = time.monotonic()
        oldest[0] = max([oldest[0], *((p.age(now) or 0.0) for p in panels)])

    timer.timeout.connect(watch)
    timer.start(50)
    demo.parts["primary manager"].kill()
    frames = {id(p): p.frames for p in panels}
    qtbot.waitUntil(lambda: all(p.frames >= frames[id(p)] + 3 for p in panels), timeout=8000)
    timer.stop()
    print(f"oldest picture on any panel during the failover: {oldest[0]:.2f} s")
    assert oldest[0] < DEFAULTS.picture_frozen_after  # never frozen: the secondary manager answered at once
    assert all(p.badge.text() == "● LIVE" for p in panels)


def test_a_camera_set_down_says_no_picture_and_why(window: MainWindow, demo: Topology, qtbot: Any) -> None:
    panel = _panel_of(window, "Reception")
    qtbot.waitUntil(lambda: panel.image is not None, timeout=3000)
    cam = panel.source
    assert cam is not None
    server = demo.parts["primary server"].url
    httpx.post(f"{server}/sim/device?serverid={cam.serverid}&deviceid={cam.deviceid}&active=false", timeout=5)
    qtbot.waitUntil(lambda: panel.message.text() == "no picture: device not active", timeout=4000)
    assert panel.image is None and panel.badge.isHidden()  # the last picture went: it is not live
    assert "Reception" in panel.camera.text()  # the panel still says which camera it is
    httpx.post(f"{server}/sim/device?serverid={cam.serverid}&deviceid={cam.deviceid}&active=true", timeout=5)
    qtbot.waitUntil(lambda: panel.image is not None and panel.badge.text() == "● LIVE", timeout=4000)
    assert panel.message.isHidden()


def test_pictures_that_stop_coming_are_marked_frozen_with_their_age(
    window: MainWindow, demo: Topology, qtbot: Any, tmp_path: Path
) -> None:
    panels = _live_panels(window)
    qtbot.waitUntil(lambda: all(p.image is not None for p in panels), timeout=3000)
    for name in ("primary manager", "secondary manager"):  # no manager answers: no new picture
        demo.parts[name].pause()
    try:
        qtbot.waitUntil(lambda: all(p.badge.text().startswith("FROZEN") for p in panels), timeout=6000)
        p = panels[0]
        assert p.property("frozen") == "true" and p.badge.property("state") == "frozen" and p.image is not None
        # Both managers' picture timeouts later, the panel also says why (the old picture stays, marked).
        qtbot.waitUntil(lambda: p.message.text() == "no new picture: no answer in time", timeout=6000)
        age = int(p.badge.text().split()[1])
        assert age >= DEFAULTS.picture_frozen_after
        window.grab().save(str(tmp_path / "frozen.png"))
    finally:
        for name in ("primary manager", "secondary manager"):
            demo.parts[name].resume()
    qtbot.waitUntil(lambda: all(p.badge.text() == "● LIVE" for p in panels), timeout=8000)
    assert all(p.property("frozen") == "false" for p in panels)


def test_the_ptz_view_moves_while_the_pad_is_pressed(window: MainWindow, qtbot: Any) -> None:
    dome = next(c for c in window.site.cameras.values() if c.name == "Main gate")
    window.choose_camera(dome.key)
    view = window.ptz.view
    view.setFixedSize(336, 196)  # every picture of the same size, so that pictures compare
    qtbot.waitUntil(lambda: view.image is not None and view.source is dome, timeout=3000)
    n = view.frames
    qtbot.waitUntil(lambda: view.frames >= n + 1, timeout=3000)  # one asked at the fixed size
    still = view.image
    assert still is not None
    n = view.frames
    qtbot.waitUntil(lambda: view.frames >= n + 1, timeout=3000)
    assert view.image is not None
    resting = _difference(still, view.image)  # the scene alone changes a little (people, cars, the clock)
    button = window.ptz.buttons["→"]
    qtbot.mousePress(button, Qt.MouseButton.LeftButton)
    try:
        n = view.frames
        qtbot.waitUntil(lambda: view.frames >= n + 3, timeout=3000)  # faster while steered: 3 within a second
        diffs: list[float] = []

        def moved() -> bool:
            if view.image is None:
                return False
            diffs.append(_difference(still, view.image))
            return diffs[-1] > max(20, 4 * resting)

        qtbot.waitUntil(moved, timeout=5000)
    finally:
        qtbot.mouseRelease(button, Qt.MouseButton.LeftButton)
    assert view.interval == DEFAULTS.steer_interval or view.interval == DEFAULTS.preview_interval
    qtbot.waitUntil(lambda: view.interval == DEFAULTS.preview_interval, timeout=1000)
    print(f"difference resting {resting:.1f}, panned {diffs[-1]:.1f}")


def test_the_selected_camera_has_a_preview_and_a_hidden_dock_asks_nothing(window: MainWindow, qtbot: Any) -> None:
    tree = window.cameras.tree
    group = tree.topLevelItem(0)
    assert group is not None
    tree.setCurrentItem(group.child(1))
    preview = window.cameras.preview
    qtbot.waitUntil(lambda: preview.image is not None, timeout=2000)
    assert preview.interval < DEFAULTS.picture_interval
    assert preview.image is not None
    first_wall = _live_panels(window)[0]
    assert preview.width() * preview.height() > first_wall.width() * first_wall.height() / 2
    n = preview.frames
    qtbot.waitUntil(lambda: preview.frames >= n + 3, timeout=3000)
    dock = next(d for d in window.findChildren(QDockWidget) if d.windowTitle() == "Cameras")
    dock.hide()
    qtbot.waitUntil(lambda: not preview.in_flight, timeout=3000)
    asked = preview.requests
    qtbot.wait(int(DEFAULTS.preview_interval * 3000))  # absence is watched for a while: three intervals
    assert preview.requests == asked
    dock.show()
    qtbot.waitUntil(lambda: preview.requests > asked, timeout=2000)


def test_playback_moves_the_panels_to_historical_frames_and_back_to_live(
    window: MainWindow, demo: Topology, qtbot: Any, tmp_path: Path
) -> None:
    divaid = next(v.divaid for v in window.viewers if v.name == "Operator desk 1")
    bar = window.wall.bars[divaid]
    mine = [p for (d, _), m in window.wall.monitors.items() if d == divaid for p in m.area.panels.values() if p.source]
    others = [p for p in _live_panels(window) if p not in mine]
    qtbot.waitUntil(lambda: all(p.image is not None for p in mine), timeout=3000)

    def moments_near(target: dt.datetime, within: float) -> bool:
        return all(p.moment is not None and abs((p.moment - target).total_seconds()) < within for p in mine)

    bar.start_button.click()
    qtbot.waitUntil(lambda: all(p.badge.property("state") == "playback" for p in mine), timeout=5000)
    state = window.wall.playback[divaid]
    assert 55 < (dt.datetime.now(dt.UTC) - state.at()).total_seconds() < 65  # the sim starts a minute back
    qtbot.waitUntil(lambda: moments_near(window.wall.playback[divaid].at(), 3), timeout=3000)
    # The other station stays live (its badge's state; its text is shortened on narrow panels).
    assert all(p.badge.property("state") != "playback" for p in others), [p.badge.text() for p in others]

    bar.steps[300].click()  # −5 min
    target = state.at() - dt.timedelta(seconds=300)
    qtbot.waitUntil(lambda: moments_near(target, 4), timeout=5000)
    window.grab().save(str(tmp_path / "playback.png"))

    bar.choose_speed(4.0)
    qtbot.waitUntil(lambda: all("×4" in p.badge.text() for p in mine), timeout=5000)
    p0 = mine[0]
    m0, t0 = p0.moment, time.monotonic()
    qtbot.waitUntil(
        lambda: p0.moment is not None and m0 is not None and (p0.moment - m0).total_seconds() > 6, timeout=5000
    )
    assert p0.moment is not None and m0 is not None
    rate = (p0.moment - m0).total_seconds() / (time.monotonic() - t0)
    assert 2.5 < rate < 5.5, rate  # ≈ 4 seconds of recording a second (measured between two frames)

    bar.live_button.click()
    qtbot.waitUntil(lambda: all(p.badge.text() == "● LIVE" for p in mine), timeout=5000)
    assert divaid not in window.wall.playback
    commands = [e["command"] for e in read_journal(demo.journal)]
    assert commands == ["startPlayback", "setPlaybackDateTime", "setPlaybackSpeed", "stopPlayback"]
    assert all(str(e["uid"]).startswith("Test-desk-") for e in read_journal(demo.journal))


def test_closing_the_window_stops_its_picture_requests(window: MainWindow, qtbot: Any, run_async: Any) -> None:
    qtbot.waitUntil(lambda: window.feed.frames > 5, timeout=3000)
    window.close()
    run_async(window.shutdown())
    asked = window.feed.requests
    assert window.feed.in_flight == 0
    qtbot.wait(int(DEFAULTS.picture_interval * 1500))  # absence is watched for a while
    assert window.feed.requests == asked


@pytest.fixture
def big_window(tmp_path: Path, run_async: Any, qtbot: Any) -> Iterator[MainWindow]:
    """The console on the big site (20 recorders, 2,000 cameras, 30 stations of 4 monitors)."""
    with Topology.create(tmp_path, sim_site="big") as topo:
        topo.start_system()
        yield from console_window(
            topo, run_async, qtbot, lambda w: bool(w.wall.monitors) and bool(w.site.cameras), timeout=30
        )


def test_the_big_site_shows_this_workstations_station_and_a_picker_switches(big_window: MainWindow, qtbot: Any) -> None:
    win = big_window
    assert len(win.site.cameras) == 2000 and len(win.wall.viewers) == 30
    first = win.wall.viewers[0]
    assert {d for d, _ in win.wall.monitors} == {first.divaid} and len(win.wall.monitors) == 4
    assert win.wall.picker.count() == 31 and win.wall.picker.itemText(0).startswith("This workstation: ")
    qtbot.waitUntil(lambda: all(p.image is not None for p in _live_panels(win)), timeout=5000)
    other = win.wall.viewers[17]
    i = win.wall.picker.findData(other.divaid)
    win.wall.picker.setCurrentIndex(i)
    win.wall.picker.activated.emit(i)
    qtbot.waitUntil(lambda: {d for d, _ in win.wall.monitors} == {other.divaid}, timeout=3000)
    qtbot.waitUntil(
        lambda: bool(_live_panels(win)) and all(p.image is not None for p in _live_panels(win)), timeout=5000
    )
    # The camera filter stays instant on 2,000 cameras: each keystroke filters and repaints the tree.
    took = []
    for n in range(1, 9):
        t = time.perf_counter()
        win.cameras.filter.setText("corridor"[:n])
        win.cameras.tree.viewport().repaint()
        took.append(time.perf_counter() - t)
    tree = win.cameras.tree
    visible = [
        item.text(0)
        for g in (tree.topLevelItem(i) for i in range(tree.topLevelItemCount()))
        if g is not None
        for item in (g.child(j) for j in range(g.childCount()))
        if item is not None and not item.isHidden()
    ]
    assert len(visible) == 200 and all("Corridor" in t for t in visible)
    print(f"filter per keystroke on 2,000 cameras: max {max(took) * 1000:.1f} ms")
    assert max(took) < 0.1


def test_the_viewers_setting_names_this_workstations_stations(tmp_path: Path) -> None:
    from app.ui.settings import load, save

    s = ConsoleSettings(viewers=["Operator desk 07", "Operator desk 12"])
    assert load(save(s, tmp_path / "settings.json")).viewers == s.viewers
    assert any("Viewer stations" in p for p in ConsoleSettings(viewers=[""]).problems())


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", type=int, required=True)
    ap.add_argument("folder", type=Path)
    a = ap.parse_args()
    serve(a.serve, a.folder)


if __name__ == "__main__":
    main()
