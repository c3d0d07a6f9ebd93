"""The simulator's pictures and playback, in process: scenes, the painter and its cache, sizes, recorded times."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image, ImageChops, ImageFont, ImageStat

from app.sense import ResultCode, SenseError
from app.sense.events import EventLog
from app.sim import painter as painter_module
from app.sim.dome import Dome
from app.sim.painter import Canvas, Painter
from app.sim.pictures import Pictures, canvas_of
from app.sim.playback import RETENTION_S, START_BACK_S, Mode, Playback, parse_speed, parse_time, time_text
from app.sim.scene import build_scene, dome_view
from app.sim.site import Camera, load_site
from app.sim.world import World

SITE = load_site()
FIXED = next(c for c in SITE.cameras.values() if not c.ptz)
OTHER = next(c for c in SITE.cameras.values() if not c.ptz and c is not FIXED)
DOME = next(c for c in SITE.cameras.values() if c.ptz)
T = 1_790_000_000.25  # a fixed moment: 2026-09-21 14:13:20.250 UTC


def _decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    return img.convert("RGB")


def _diff(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


WALL = Canvas(320, 176, True)


def _frame(cam: Camera, t: float = T, canvas: Canvas = WALL, mode: str = "LIVE") -> Image.Image:
    scene = build_scene(cam)
    return Painter().frame(scene, scene.home, canvas, t, mode)


def test_a_scene_is_the_same_every_time_and_differs_between_cameras() -> None:
    assert build_scene(FIXED) == build_scene(FIXED)
    assert build_scene(FIXED) != build_scene(OTHER)
    assert _diff(_frame(FIXED), _frame(OTHER)) > 10


def test_frames_move_with_time_and_are_a_pure_function_of_it() -> None:
    p = Painter()
    scene = build_scene(FIXED)
    canvas = Canvas(320, 176, True)
    a = p.jpeg(p.frame(scene, scene.home, canvas, T, "LIVE"))
    assert a == p.jpeg(p.frame(scene, scene.home, canvas, T, "LIVE"))
    assert a == Painter().jpeg(Painter().frame(scene, scene.home, canvas, T, "LIVE"))  # no state carried over
    assert _diff(_decode(a), _decode(p.jpeg(p.frame(scene, scene.home, canvas, T + 1, "LIVE")))) > 0.05
    assert _diff(_frame(FIXED, mode="LIVE"), _frame(FIXED, mode="PLAYBACK")) > 0


def test_sizes_letterbox_unless_filled() -> None:
    boxed = _frame(FIXED, canvas=Canvas(320, 240, False))
    assert boxed.size == (320, 240)
    assert boxed.getpixel((160, 5)) == (0, 0, 0) and boxed.getpixel((160, 234)) == (0, 0, 0)  # bars top and bottom
    filled = _frame(FIXED, canvas=Canvas(320, 240, True))
    assert filled.getpixel((160, 5)) != (0, 0, 0)
    assert Canvas(320, 240, False).content() == (0.0, 30.0, 320.0, 180.0)
    assert Canvas(400, 180, False).content() == (40.0, 0.0, 320.0, 180.0)  # a wide canvas: bars at the sides


def test_asked_sizes_are_bounded_and_default() -> None:
    assert canvas_of({}) == Canvas(640, 360, False)
    assert canvas_of({"imagewidth": 320}) == Canvas(320, 180, False)
    assert canvas_of({"imageheight": 176, "fittopanel": True}) == Canvas(313, 176, True)
    for bad in ({"imagewidth": 1920, "imageheight": 1920}, {"imageheight": 1900}):  # 3378 wide
        with pytest.raises(SenseError) as info:
            canvas_of(bad)
        assert info.value.code == ResultCode.VALUE_OUT_OF_RANGE


def test_the_still_part_is_cached_and_the_cache_is_bounded() -> None:
    p = Painter(cache_bytes=3 * 320 * 176 * 3)
    scene = build_scene(FIXED)
    for t in range(5):
        p.frame(scene, scene.home, Canvas(320, 176, True), T + t, "LIVE")
    assert (p.misses, p.hits) == (1, 4)
    for w in range(321, 331):
        p.frame(scene, scene.home, Canvas(w, 176, True), T, "LIVE")
    assert p._bytes <= p.cache_bytes and len(p._still) <= 3


def test_pictures_are_drawn_without_any_font_file(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ImageFont.truetype

    def no_fonts(font: object = None, *args: object, **kw: object) -> ImageFont.FreeTypeFont:
        if isinstance(font, str):  # a font file by name; Pillow's own font comes as bytes
            raise OSError("cannot open resource")
        return real(font, *args, **kw)  # type: ignore[arg-type]

    painter_module.font.cache_clear()
    painter_module._label_box.cache_clear()
    monkeypatch.setattr(ImageFont, "truetype", no_fonts)
    try:
        assert _frame(FIXED).size == (320, 176)
        assert not isinstance(getattr(painter_module.font(12), "path", None), str)  # not a font file: Pillow's own
    finally:
        painter_module.font.cache_clear()
        painter_module._label_box.cache_clear()


def test_a_dome_view_follows_pan_tilt_and_zoom() -> None:
    home = dome_view(0, 0, 0)
    assert dome_view(900, 0, 0).azimuth == 90 and dome_view(-900, 0, 0).azimuth == 270
    assert dome_view(0, -300, 0).elevation == -30  # a negative tilt looks down
    assert dome_view(0, 0, 1000).hfov == pytest.approx(home.hfov / 18)
    scene = build_scene(DOME)
    p, canvas = Painter(), Canvas(320, 176, True)
    a = p.still(scene, dome_view(0, -100, 0), canvas)
    b = p.still(scene, dome_view(300, -100, 0), canvas)
    assert _diff(a, b) > 5


def test_a_dome_remembers_where_it_pointed() -> None:
    d = Dome(pos={"pan": 0, "tilt": 0, "zoom": 0, "focus": -1, "iris": -1})
    d.settle()
    d.pos["pan"] = 100.0
    d.remember()
    first = d.history[-1][0]
    d.settle()
    d.speed = {"tilt": 1000}  # full speed down: 45 degrees a second
    d.remember()
    moved = d.history[-1][0]
    assert d.position_at(first - 10)["pan"] == 0  # before the first move
    assert d.position_at((first + moved) / 2)["pan"] == 100
    assert d.position_at(moved + 1)["tilt"] == -450
    assert d.moving()


def test_playback_moves_at_its_speed_within_the_recordings() -> None:
    now = 1_800_000_000.0
    pb = Playback()
    assert pb.mode is Mode.LIVE and pb.position(now) == now
    pb.start(now)
    assert pb.position(now) == now - START_BACK_S
    pb.start(now + 5)  # a repeated start does not jump
    assert pb.position(now + 10) == now - START_BACK_S + 10
    pb.seek(now - 100, now)
    pb.set_speed(4, now)
    assert pb.position(now + 10) == now - 60
    assert pb.position(now + 100) == now + 100  # never past now
    pb.set_speed(-16, now)
    assert pb.position(now + RETENTION_S) == now  # never before the oldest recording
    pb.stop(now)
    assert pb.mode is Mode.LIVE and pb.speed == -16
    assert Playback.from_json(pb.to_json()) == pb


@pytest.mark.parametrize(("raw", "code"), [(None, -23), ("", -23), ("3", -22), ("0", -22), ("nan", -22), ("x", -22)])
def test_only_documented_speeds(raw: str | None, code: int) -> None:
    with pytest.raises(SenseError) as info:
        parse_speed(raw)
    assert info.value.code == code


def test_documented_speeds_and_times() -> None:
    assert [parse_speed(s) for s in ("0.5", "1", "16", "-0.5", "-16")] == [0.5, 1, 16, -0.5, -16]
    assert parse_time("time", "2026-09-21 14:13:20.250") == T
    assert parse_time("time", " 2026-09-21 14:13:20") == T - 0.25
    assert time_text(T) == "2026-09-21 14:13:20.250"
    for bad in ("2026-09-21T14:13:20", "2026-13-01 00:00:00", "yesterday", "2026-09-21 14:13:20.2500"):
        with pytest.raises(SenseError) as info:
            parse_time("time", bad)
        assert info.value.code == ResultCode.INVALID_TIMESTAMP


def _code(pictures: Pictures, **p: object) -> int:
    with pytest.raises(SenseError) as info:
        pictures.historical_job({"cameraid": FIXED.deviceid, **p})
    return info.value.code


def test_recorded_times_and_their_errors() -> None:
    world = World(SITE, EventLog(100))
    pictures = Pictures(world)
    try:
        now = time.time()
        future = time_text(now + 3600)
        assert _code(pictures, time=future) == ResultCode.ERROR_HISTORICAL_IMAGE
        assert pictures.historical_job({"cameraid": FIXED.deviceid, "time": future, "type": "atorbefore"}).t <= now + 1
        old = time_text(now - RETENTION_S - 60)
        assert _code(pictures, time=old) == ResultCode.NO_IMAGE
        assert (
            pictures.historical_job({"cameraid": FIXED.deviceid, "time": old, "type": "after"}).t >= now - RETENTION_S
        )
        assert _code(pictures, time=time_text(now - 10), type="sideways") == ResultCode.VALUE_OUT_OF_RANGE
        assert _code(pictures, time="soon") == ResultCode.INVALID_TIMESTAMP
        world.set_device_active(None, FIXED.deviceid, False)
        world.down[FIXED.key] = now - 100  # down since 100 s ago
        during = time_text(now - 50)
        assert _code(pictures, time=during) == ResultCode.NO_IMAGE
        before = pictures.historical_job({"cameraid": FIXED.deviceid, "time": during, "type": "atorbefore"})
        assert before.t < now - 100
        assert _code(pictures, time=during, type="atorafter") == ResultCode.NO_IMAGE  # still down: nothing after
        world.set_device_active(None, FIXED.deviceid, True)
        after = pictures.historical_job({"cameraid": FIXED.deviceid, "time": during, "type": "atorafter"})
        assert after.t >= now
        with pytest.raises(SenseError) as info:
            pictures.live_job({"cameraid": "999"})
        assert info.value.code == ResultCode.NO_DEVICE
    finally:
        pictures.close()
