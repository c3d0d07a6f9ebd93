"""The simulator draws: getLiveImage, getHistoricalImage, cameras going down, and viewer playback, over real HTTP
against real sim processes (one server, and a pair for the takeover)."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
from PIL import Image, ImageChops, ImageStat

from app.demo import Part, Topology
from app.sense import encode, parse_result
from app.sim import read_journal
from app.sim.painter import Canvas, Painter
from app.sim.playback import parse_time, time_text
from app.sim.scene import build_scene, dome_view
from app.sim.site import load_site
from tests.helpers import command, raw, state_of, wait_for

Sim = tuple[Part, Topology]
SITE = load_site()
FIXED = next(c for c in SITE.cameras.values() if not c.ptz)
OTHER = next(c for c in SITE.cameras.values() if not c.ptz and c is not FIXED)
DOME = next(c for c in SITE.cameras.values() if c.ptz and len(c.presets) >= 3)


def _get(url: str, name: str, **params: Any) -> httpx.Response:
    r = httpx.get(f"{url}/command?{encode(name, params)}", timeout=10)
    assert r.status_code == 200
    return r


def _picture(url: str, name: str = "getLiveImage", **params: Any) -> Image.Image:
    r = _get(url, name, **params)
    assert r.headers["content-type"] == "image/jpeg", r.text[:300]
    img = Image.open(io.BytesIO(r.content))
    assert img.format == "JPEG"
    return img.convert("RGB")


def _error(url: str, name: str, **params: Any) -> int:
    r = _get(url, name, **params)
    assert r.headers["content-type"].startswith("text/xml")
    return parse_result(r.content).errorcode


def _diff(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def _last_event(url: str) -> int:
    events = command(url, "getEvents").root.find("events")
    assert events is not None
    return int(events.get("lasteventid", "0"))


def _cam(c: Any) -> dict[str, str]:
    return {"serverid": c.serverid, "cameraid": c.deviceid}


def test_a_live_image_is_a_jpeg_of_the_asked_size(single_sim: Sim) -> None:
    url = single_sim[0].url
    for w, h in ((320, 176), (640, 352), (200, 300)):
        assert _picture(url, **_cam(FIXED), imagewidth=w, imageheight=h, fittopanel="true").size == (w, h)
    assert _picture(url, **_cam(FIXED)).size == (640, 360)  # the camera's own size when none is asked
    assert _picture(url, deviceid=FIXED.deviceid, imagewidth=320).size == (320, 180)  # 16:9 from one side


def test_frames_a_second_apart_differ_and_cameras_differ(single_sim: Sim) -> None:
    url = single_sim[0].url
    size = {"imagewidth": 320, "imageheight": 176, "fittopanel": "true"}
    first = int(time.time())
    a = _picture(url, **_cam(FIXED), **size)
    wait_for(lambda: int(time.time()) > first, 2, "the next second")
    b = _picture(url, **_cam(FIXED), **size)
    assert _diff(a, b) > 0.05
    assert _diff(a, _picture(url, **_cam(OTHER), **size)) > 10


def _still(position: dict[str, int], canvas: Canvas) -> Image.Image:
    """The dome's picture without what moves, drawn here by the simulator's own painter."""
    return Painter().still(build_scene(DOME), dome_view(position["pan"], position["tilt"], position["zoom"]), canvas)


def _position(url: str) -> dict[str, int]:
    r = command(url, "getPosition", **_cam(DOME))
    return {k: int(r.text(k)) for k in ("pan", "tilt", "zoom")}


def test_a_dome_picture_pans_with_set_relative_position(single_sim: Sim) -> None:
    url = single_sim[0].url
    size, canvas = {"imagewidth": 320, "imageheight": 176, "fittopanel": "true"}, Canvas(320, 176, True)
    assert command(url, "setAbsolutePosition", **_cam(DOME), pan=0, tilt=-100, zoom=0).ok
    before = _picture(url, **_cam(DOME), **size)
    pointed_at_zero = time_text(time.time())
    assert command(url, "setRelativePosition", **_cam(DOME), pan=1000).ok
    wait_for(lambda: _position(url)["pan"] >= 300, 5, "the dome panning 30 degrees")
    assert command(url, "setRelativePosition", **_cam(DOME), pan=0).ok
    where = _position(url)
    after = _picture(url, **_cam(DOME), **size)
    assert _diff(before, after) > 5
    # What the server drew is the view at the dome's new position, not at the old one.
    old = _still({"pan": 0, "tilt": -100, "zoom": 0}, canvas)
    assert _diff(after, _still(where, canvas)) < _diff(after, old)
    # A recorded picture of the moment before the move shows where the dome pointed then.
    then = _picture(url, "getHistoricalImage", **_cam(DOME), time=pointed_at_zero, **size)
    assert _diff(then, old) < _diff(then, _still(where, canvas))


def test_each_preset_shows_its_own_view_every_time(single_sim: Sim) -> None:
    url = single_sim[0].url
    size, canvas = {"imagewidth": 320, "imageheight": 176, "fittopanel": "true"}, Canvas(320, 176, True)
    presets = sorted(DOME.presets)[:3]
    stills = {n: _still({k: DOME.presets[n][k] for k in ("pan", "tilt", "zoom")}, canvas) for n in presets}
    assert min(_diff(stills[a], stills[b]) for a in presets for b in presets if a < b) > 5
    seen: dict[int, list[Image.Image]] = {}
    for n in [*presets, *presets]:  # each recalled twice
        assert command(url, "gotoPreset", **_cam(DOME), preset=n).ok
        img = _picture(url, **_cam(DOME), **size)
        nearest = min(presets, key=lambda m: _diff(img, stills[m]))
        assert nearest == n, (n, {m: _diff(img, stills[m]) for m in presets})
        seen.setdefault(n, []).append(img)
    assert all(len(v) == 2 for v in seen.values())  # and both recalls of a preset were nearest its own view


def test_a_camera_marked_down_answers_device_not_active(single_sim: Sim) -> None:
    url = single_sim[0].url
    last = _last_event(url)
    went_down = time.time()
    r = raw(url, f"/sim/device?serverid={OTHER.serverid}&deviceid={OTHER.deviceid}&active=false", "POST")
    assert parse_result(r.content).ok
    try:
        assert _error(url, "getLiveImage", **_cam(OTHER)) == -21
        devices = command(url, "getDeviceList").root.iterfind("devices/device")
        assert next(d for d in devices if d.findtext("deviceid") == OTHER.deviceid).findtext("status") == "Not active"
        assert _error(url, "getHistoricalImage", **_cam(OTHER), time=time_text(time.time())) == -11
        assert _picture(url, "getHistoricalImage", **_cam(OTHER), time=time_text(went_down - 5)).size == (640, 360)
        events = command(url, "getEvents", startid=last, types="VideoLost").root.findall("events/event")
        assert events and events[-1].findtext("deviceid") == OTHER.deviceid
    finally:
        r = raw(url, f"/sim/device?deviceid={OTHER.deviceid}&active=true", "POST")
        assert parse_result(r.content).ok
    assert _picture(url, **_cam(OTHER)).size == (640, 360)
    assert parse_result(raw(url, "/sim/device?deviceid=999&active=false", "POST").content).errorcode == -2
    assert parse_result(raw(url, f"/sim/device?deviceid={OTHER.deviceid}", "POST").content).errorcode == -10


def test_bad_picture_requests_get_sense_xml_errors(single_sim: Sim) -> None:
    url = single_sim[0].url
    assert _error(url, "getLiveImage", cameraid="999") == -2
    assert _error(url, "getLiveImage", serverid="1", cameraid=FIXED.deviceid) == -17
    assert _error(url, "getLiveImage", **_cam(FIXED), imagewidth=5000, imageheight=100) == -22
    assert _error(url, "getLiveImage", **_cam(FIXED), imagewidth=1920, imageheight=1920) == -22
    assert _error(url, "getLiveImage", **_cam(FIXED), imagewidth=0) == -22
    assert _error(url, "getLiveImage", **_cam(FIXED), imagewidth="wide") == -22
    assert _error(url, "getLiveImage", **_cam(FIXED), fittopanel="maybe") == -22
    assert _error(url, "getLiveImage", serverid=FIXED.serverid) == -10
    assert _error(url, "getHistoricalImage", cameraid="999", time=time_text(time.time() - 60)) == -2


def test_a_historical_image_is_the_scene_at_that_moment(single_sim: Sim) -> None:
    url = single_sim[0].url
    at = time_text(time.time() - 600)
    size = {"imagewidth": 320, "imageheight": 176, "fittopanel": "true"}
    r = _get(url, "getHistoricalImage", **_cam(FIXED), time=at, **size)
    assert r.headers["content-type"] == "image/jpeg"
    scene, p = build_scene(FIXED), Painter()
    expected = p.jpeg(p.frame(scene, scene.home, Canvas(320, 176, True), parse_time("time", at), "PLAYBACK"))
    assert r.content == expected  # the moment asked for, its time and PLAYBACK on screen
    past = Image.open(io.BytesIO(r.content)).convert("RGB")
    assert _diff(past, _picture(url, **_cam(FIXED), **size)) > 0.05
    a_second_later = time_text(parse_time("time", at) + 1)
    assert _diff(past, _picture(url, "getHistoricalImage", **_cam(FIXED), time=a_second_later, **size)) > 0.05


def test_historical_times_that_have_no_image(single_sim: Sim) -> None:
    url = single_sim[0].url
    future = time_text(time.time() + 3600)
    assert _error(url, "getHistoricalImage", **_cam(FIXED), time=future) == -3
    assert _picture(url, "getHistoricalImage", **_cam(FIXED), time=future, type="atorbefore").size == (640, 360)
    assert _error(url, "getHistoricalImage", **_cam(FIXED), time="2026-02-30 10:00:00") == -4
    assert _error(url, "getHistoricalImage", **_cam(FIXED), time="yesterday") == -4
    assert _error(url, "getHistoricalImage", **_cam(FIXED), time=time_text(time.time() - 8 * 86400)) == -11
    assert _error(url, "getHistoricalImage", **_cam(FIXED)) == -10


def _playback(url: str, divaid: str) -> dict[str, str]:
    d = command(url, "getLayoutStatus", divaid=divaid).root.find("layoutstatus/divas/diva")
    assert d is not None
    pb = d.find("playback")
    assert pb is not None
    video = {v.text for v in d.iterfind("monitors/monitor/layout/panels/panel/status/video")} - {"none"}
    return {"mode": pb.findtext("mode") or "", "time": pb.findtext("time") or "", "speed": pb.findtext("speed") or "",
            "video": ",".join(sorted(v or "" for v in video))}  # fmt: skip


def _viewer(url: str) -> str:
    return command(url, "getLayoutStatus").root.findtext("layoutstatus/divas/diva/divaid") or ""


def test_playback_start_time_speed_and_back_to_live(single_sim: Sim) -> None:
    part, topo = single_sim
    url, divaid = part.url, _viewer(part.url)
    last = _last_event(url)
    assert _playback(url, divaid) == {"mode": "live", "time": "", "speed": "1", "video": "live"}
    assert command(url, "startPlayback", divaid=divaid, uid="pb-start").ok
    pb = _playback(url, divaid)
    assert pb["mode"] == "playback" and pb["video"] == "playback"
    assert abs(parse_time("t", pb["time"]) - (time.time() - 60)) < 5
    target = time.time() - 3600
    assert command(url, "setPlaybackDateTime", divaid=divaid, time=time_text(target, millis=False), uid="pb-time").ok
    assert abs(parse_time("t", _playback(url, divaid)["time"]) - target) < 5
    assert command(url, "setPlaybackSpeed", divaid=divaid, speed="4", uid="pb-speed").ok
    t0, p0 = time.time(), parse_time("t", _playback(url, divaid)["time"])
    wait_for(lambda: time.time() - t0 > 1, 2, "a second of playback")
    t1, p1 = time.time(), parse_time("t", _playback(url, divaid)["time"])
    assert abs((p1 - p0) - 4 * (t1 - t0)) < 0.5 and _playback(url, divaid)["speed"] == "4"
    assert command(url, "setPlaybackSpeed", divaid=divaid, speed="3").errorcode == -22
    assert command(url, "setPlaybackSpeed", divaid=divaid).errorcode == -23
    assert command(url, "setPlaybackDateTime", divaid=divaid, time="noon").errorcode == -4
    assert command(url, "setPlaybackDateTime", divaid="424242", time=time_text(target)).errorcode == -12
    assert command(url, "stopPlayback", divaid=divaid, uid="pb-live").ok
    assert _playback(url, divaid) == {"mode": "live", "time": "", "speed": "4", "video": "live"}
    journal = [(e["uid"], e["command"]) for e in read_journal(topo.journal)]
    for entry in [
        ("pb-start", "startPlayback"),
        ("pb-time", "setPlaybackDateTime"),
        ("pb-speed", "setPlaybackSpeed"),
        ("pb-live", "stopPlayback"),
    ]:
        assert entry in journal
    types = [e.findtext("eventtype") for e in command(url, "getEvents", startid=last, limit=100).root.iter("event")]
    assert {"PlaybackStarted", "PlaybackTimeSet", "PlaybackSpeedSet", "PlaybackStopped"} <= set(types)


def test_playback_of_all_viewers_at_once(single_sim: Sim) -> None:
    url = single_sim[0].url
    at = time.time() - 7200
    assert command(url, "setPlaybackDateTime", time=time_text(at)).ok  # divaid omitted: every viewer
    divas = command(url, "getLayoutStatus").root.findall("layoutstatus/divas/diva")
    assert len(divas) == 2
    for d in divas:
        assert d.findtext("playback/mode") == "playback"
        assert abs(parse_time("t", d.findtext("playback/time") or "") - at) < 5
    assert command(url, "stopPlayback", divaid="-1").ok
    assert {d.findtext("playback/mode") for d in command(url, "getLayoutStatus").root.iter("diva")} == {"live"}


def test_playback_survives_a_takeover(sim_pair: Topology) -> None:
    primary, secondary = sim_pair.parts["primary server"], sim_pair.parts["secondary server"]
    wait_for(lambda: state_of(primary.url) == "active" and state_of(secondary.url) == "standby", 5, "pair formed")
    divaid = _viewer(primary.url)
    target = time.time() - 1800
    assert command(primary.url, "setPlaybackDateTime", divaid=divaid, time=time_text(target), uid="t1").ok
    assert command(primary.url, "setPlaybackSpeed", divaid=divaid, speed="-2", uid="t2").ok
    primary.kill()
    wait_for(lambda: state_of(secondary.url) == "active", 2, "secondary active after kill -9")
    pb = _playback(secondary.url, divaid)
    assert pb["mode"] == "playback" and pb["speed"] == "-2"
    assert target - 30 < parse_time("t", pb["time"]) < target  # still moving backwards from where it was set
    assert command(secondary.url, "stopPlayback", divaid=divaid, uid="t3").ok
    assert _playback(secondary.url, divaid)["mode"] == "live"
