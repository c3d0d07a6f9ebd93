"""What a simulated camera sees: a scene of simple shapes, the same for a camera every time (seeded by its id).

A scene lives in angles around the camera: azimuth in degrees (0..360, wrapping) and elevation in degrees
(0 = horizon, negative = below). A dome's scene goes all the way round, so panning shows other things; a fixed
camera's scene covers its own field of view and a margin. Moving things (cars, people, a blinking light) are
described here as paths; where they are at a time is `Mover.azimuth`.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

from .site import Camera

Color = tuple[int, int, int]

_INDOOR_WORDS = ("lobby", "corridor", "reception", "room", "aisle", "canteen", "stairwell", "warehouse", "office")
# A dome at zoom 0 sees 58 degrees across, at zoom 1000 an 18th of that (an 18x lens).
DOME_WIDE_HFOV = 58.0
DOME_ZOOM_RATIO = 18.0


@dataclass(frozen=True)
class View:
    """Where a picture looks: centre azimuth and elevation and the horizontal field of view, in degrees."""

    azimuth: float
    elevation: float
    hfov: float


@dataclass(frozen=True)
class Block:
    """A building (outdoors) or a door, rack or shelf (indoors): a rectangle with a grid of windows."""

    a0: float
    a1: float
    base: float
    top: float
    color: Color
    rows: int
    cols: int
    lit: tuple[bool, ...]
    window: Color
    lit_window: Color


@dataclass(frozen=True)
class Tree:
    azimuth: float
    base: float
    radius: float
    color: Color


@dataclass(frozen=True)
class Band:
    """A road, a pavement or a floor stripe: a band of ground between two elevations."""

    near: float
    far: float
    color: Color
    dashes: Color | None = None


@dataclass(frozen=True)
class Patch:
    """Something flat on the ground: a painted line, a manhole, a patch of grass or oil."""

    azimuth: float
    elevation: float
    width: float
    height: float
    color: Color
    round: bool


@dataclass(frozen=True)
class Mover:
    """A car or a person going round (a dome) or across (a fixed camera) at a steady angular speed."""

    kind: str  # "car" | "person"
    base: float  # elevation of its feet or wheels
    width: float
    height: float
    speed: float  # degrees per second, negative = leftwards
    start: float
    lo: float
    hi: float
    color: Color

    def azimuth(self, t: float) -> float:
        span = self.hi - self.lo + self.width
        return self.lo - self.width + (self.start + self.speed * t) % span


@dataclass(frozen=True)
class Light:
    azimuth: float
    elevation: float
    radius: float
    color: Color
    period: float

    def on(self, t: float) -> bool:
        return (t % self.period) < self.period / 2


@dataclass(frozen=True)
class Scene:
    key: str
    name: str
    indoor: bool
    dome: bool
    home: View
    sky: tuple[Color, Color]  # at the horizon (or the wall's foot), at the top
    ground: tuple[Color, Color]  # at the horizon, near the camera
    horizon: float  # where the ground (or floor) begins
    ceiling: float  # indoors: where the wall meets the ceiling; outdoors above everything
    hills: tuple[tuple[float, float, float], ...]  # (amplitude, whole waves round, phase) of the far skyline
    hill_color: Color
    bands: tuple[Band, ...]
    blocks: tuple[Block, ...]
    trees: tuple[Tree, ...]
    patches: tuple[Patch, ...]
    parked: tuple[Mover, ...]  # cars standing still (speed 0), part of the still picture
    movers: tuple[Mover, ...]
    lights: tuple[Light, ...]

    def skyline(self, azimuth: float) -> float:
        rad = math.radians(azimuth)
        return 0.6 + sum(a * (1 + math.sin(n * rad + p)) / 2 for a, n, p in self.hills)


def seed_of(key: str) -> int:
    """Stable across processes and runs (Python's hash() of a str is not)."""
    return int.from_bytes(hashlib.sha256(f"sensetwin scene/{key}".encode()).digest()[:8], "big")


def dome_view(pan: float, tilt: float, zoom: float) -> View:
    """A dome's Sense position (tenths of a degree; zoom 0..1000, -1 auto) as a view. [I] A negative tilt looks
    down: getPosition's example (TP-13) is a dome at tilt -450, and the sites' presets look at the ground with
    negative tilts; setRelativePosition's + (down, TP-18) lowers the tilt (app.sim.world)."""
    z = max(0.0, min(1000.0, zoom))
    hfov = DOME_WIDE_HFOV / DOME_ZOOM_RATIO ** (z / 1000)
    return View(pan / 10 % 360, max(-85.0, min(85.0, tilt / 10)), hfov)


def _mix(a: Color, b: Color, f: float) -> Color:
    f = max(0.0, min(1.0, f))
    return (round(a[0] + (b[0] - a[0]) * f), round(a[1] + (b[1] - a[1]) * f), round(a[2] + (b[2] - a[2]) * f))


def _vary(rng: random.Random, c: Color, by: int = 24) -> Color:
    return (
        max(0, min(255, c[0] + rng.randint(-by, by))),
        max(0, min(255, c[1] + rng.randint(-by, by))),
        max(0, min(255, c[2] + rng.randint(-by, by))),
    )


_SKIES: tuple[tuple[Color, Color], ...] = (
    ((190, 215, 235), (70, 130, 200)),  # clear
    ((205, 208, 212), (150, 156, 165)),  # overcast
    ((235, 190, 150), (90, 110, 170)),  # low sun
    ((200, 220, 230), (110, 160, 210)),  # hazy
)
_GROUNDS: tuple[tuple[Color, Color], ...] = (
    ((120, 150, 95), (70, 110, 55)),  # grass
    ((150, 150, 145), (105, 105, 100)),  # concrete
    ((175, 160, 125), (130, 115, 85)),  # sand
)
_FACADES: tuple[Color, ...] = ((170, 90, 70), (200, 195, 180), (120, 125, 135), (90, 100, 120), (215, 180, 120))
_CARS: tuple[Color, ...] = (
    (200, 30, 30),
    (240, 240, 240),
    (30, 30, 35),
    (40, 80, 170),
    (150, 150, 155),
    (230, 190, 40),
)
_CLOTHES: tuple[Color, ...] = ((40, 60, 140), (160, 40, 40), (50, 50, 50), (230, 140, 30), (60, 130, 60))


def build_scene(cam: Camera) -> Scene:
    rng = random.Random(seed_of(cam.key))
    indoor = any(w in f"{cam.name} {cam.location}".lower() for w in _INDOOR_WORDS)
    if cam.ptz:
        home = View(0.0, -8.0, DOME_WIDE_HFOV)
        lo, hi = 0.0, 360.0
    else:
        home = View(rng.uniform(0, 360), rng.uniform(-7, -3), rng.uniform(50, 70))
        lo, hi = home.azimuth - home.hfov / 2 - 6, home.azimuth + home.hfov / 2 + 6
    build = _indoor if indoor else _outdoor
    return build(rng, cam, home, lo, hi)


def _outdoor(rng: random.Random, cam: Camera, home: View, lo: float, hi: float) -> Scene:
    sky, ground = rng.choice(_SKIES), rng.choice(_GROUNDS)
    road_far = -rng.uniform(5, 7)
    road_near = road_far - rng.uniform(4, 7)
    bands = [Band(road_far, -2.5, (185, 182, 175)), Band(road_near, road_far, (70, 72, 75), (235, 235, 225))]
    if rng.random() < 0.5:
        far2 = road_near - rng.uniform(3, 6)
        bands.append(Band(far2 - rng.uniform(5, 9), far2, (85, 85, 88), (240, 210, 60)))
    blocks, trees = [], []
    a = lo + rng.uniform(0, 4)
    while a < hi - 3:
        width = rng.uniform(5, 16)
        if rng.random() < 0.78:
            tall = rng.random() < 0.12
            top = rng.uniform(30, 52) if tall else rng.uniform(5, 26)
            base = -rng.uniform(1.0, 2.4)
            rows = max(1, min(14, int((top - base) / 2.4)))
            cols = max(1, min(10, int(width / 1.9)))
            blocks.append(
                Block(
                    a,
                    min(a + width, hi),
                    base,
                    top,
                    _vary(rng, rng.choice(_FACADES)),
                    rows,
                    cols,
                    tuple(rng.random() < 0.3 for _ in range(rows * cols)),
                    (60, 70, 85),
                    (250, 225, 140),
                )
            )
        else:
            for _ in range(rng.randint(1, 3)):
                trees.append(
                    Tree(
                        rng.uniform(a, a + width),
                        -rng.uniform(1.8, 3.5),
                        rng.uniform(1.5, 3.8),
                        _vary(rng, (50, 105, 45)),
                    )
                )
        a += width + rng.uniform(0.5, 6)
    movers = _cars(rng, bands[1:], lo, hi, cam.ptz) + _people(rng, -2.6, lo, hi, cam.ptz, 3.2)
    lights = []
    if blocks:
        tallest = max(blocks, key=lambda b: b.top)
        lights.append(Light((tallest.a0 + tallest.a1) / 2, tallest.top + 0.6, 0.7, (255, 40, 30), 1.5))
    lights.append(Light(rng.uniform(lo + 4, hi - 4), -rng.uniform(0.5, 1.5), 0.5, (255, 190, 0), 1.0))
    hills = tuple((rng.uniform(0.5, 2.5), float(rng.randint(2, 9)), rng.uniform(0, 6.28)) for _ in range(3))
    return Scene(
        cam.key,
        cam.name,
        False,
        cam.ptz,
        home,
        sky,
        ground,
        0.0,
        90.0,
        hills,
        _mix(sky[0], (90, 110, 100), 0.45),
        tuple(bands),
        tuple(blocks),
        tuple(trees),
        *_ground(rng, bands[-1].near, lo, hi, cam.ptz, parked=True),
        tuple(movers),
        tuple(lights),
    )


def _indoor(rng: random.Random, cam: Camera, home: View, lo: float, hi: float) -> Scene:
    wall = _vary(rng, rng.choice(((225, 220, 205), (200, 210, 215), (235, 235, 230), (190, 185, 170))), 12)
    floor = _vary(rng, rng.choice(((160, 150, 135), (120, 125, 130), (175, 170, 160))), 12)
    foot = -rng.uniform(2, 4)
    ceiling = rng.uniform(14, 22)
    bands = [Band(foot - 7, foot - 5.8, (230, 200, 40))]
    blocks = []
    a = lo + rng.uniform(0, 3)
    while a < hi - 2:
        if rng.random() < 0.5:  # a door
            width, top, rows, cols, color = (
                rng.uniform(3, 5),
                foot + rng.uniform(8, 10),
                1,
                1,
                _vary(rng, (120, 90, 60)),
            )
            pane, lit = (170, 200, 215), (210, 230, 240)
        else:  # a rack or shelf of boxes
            width, top = rng.uniform(6, 14), min(ceiling - 1, foot + rng.uniform(9, 16))
            rows, cols, color = max(2, int((top - foot) / 2.5)), max(2, int(width / 1.6)), (70, 75, 85)
            pane, lit = (150, 120, 80), (60, 140, 90)
        blocks.append(
            Block(
                a,
                min(a + width, hi),
                foot,
                top,
                color,
                rows,
                cols,
                tuple(rng.random() < 0.35 for _ in range(rows * cols)),
                pane,
                lit,
            )
        )
        a += width + rng.uniform(2, 9)
    movers = _people(rng, foot - 4.5, lo, hi, cam.ptz, 5.0)
    if "warehouse" in f"{cam.name} {cam.location}".lower():
        movers += _cars(rng, [Band(foot - 9, foot - 5, floor)], lo, hi, cam.ptz)
    lights = [Light(rng.uniform(lo + 3, hi - 3), ceiling - 2, 0.45, (255, 30, 30), 1.0)]
    lights.append(Light(rng.uniform(lo + 3, hi - 3), foot + 11, 0.5, (40, 220, 90), 2.0))
    return Scene(
        cam.key,
        cam.name,
        True,
        cam.ptz,
        home,
        (wall, _mix(wall, (255, 255, 255), 0.3)),
        (floor, _mix(floor, (40, 40, 40), 0.35)),
        foot,
        ceiling,
        (),
        wall,
        tuple(bands),
        tuple(blocks),
        (),
        *_ground(rng, foot - 8, lo, hi, cam.ptz, parked=False),
        tuple(movers),
        tuple(lights),
    )


def _cars(rng: random.Random, roads: list[Band], lo: float, hi: float, dome: bool) -> list[Mover]:
    out = []
    for i, road in enumerate(roads):
        depth = road.far - road.near
        for _ in range(rng.randint(4, 6) if dome else 1):
            speed = rng.uniform(8, 20) if dome else (hi - lo) / rng.uniform(4, 9)
            height = depth * 0.55
            out.append(
                Mover(
                    "car",
                    road.near + depth * (0.15 if i % 2 == 0 else 0.45),
                    height * 2.3,
                    height,
                    speed if i % 2 == 0 else -speed,
                    rng.uniform(0, 360),
                    lo,
                    hi,
                    rng.choice(_CARS),
                )
            )
    return out


def _people(rng: random.Random, base: float, lo: float, hi: float, dome: bool, height: float) -> list[Mover]:
    out = []
    for _ in range(rng.randint(3, 5) if dome else rng.randint(1, 2)):
        speed = rng.uniform(1.0, 2.5) if dome else (hi - lo) / rng.uniform(14, 30)
        out.append(
            Mover(
                "person",
                base - rng.uniform(0, 1.5),
                height * 0.3,
                height,
                speed * rng.choice((1, -1)),
                rng.uniform(0, 360),
                lo,
                hi,
                rng.choice(_CLOTHES),
            )
        )
    return out


def _ground(
    rng: random.Random, below: float, lo: float, hi: float, dome: bool, parked: bool
) -> tuple[tuple[Patch, ...], tuple[Mover, ...]]:
    """What a dome sees when it looks down (and a fixed camera at its feet): markings, patches, parked cars.
    Things nearer the camera (lower) are drawn larger, roughly as tan(depression) for a camera on a pole."""
    patches, cars = [], []
    for _ in range(rng.randint(130, 170) if dome else rng.randint(3, 6)):
        e = rng.uniform(-70, below - 1)
        size = max(1.5, min(30.0, 30 * math.tan(math.radians(-e))))
        kind = rng.random()
        if parked and kind < 0.35:
            a = rng.uniform(lo, hi)  # Mover.azimuth with speed 0 is lo - width + start
            cars.append(Mover("car", e, size, size * 0.42, 0.0, a - lo + size, lo, hi, rng.choice(_CARS)))
        elif kind < 0.7:
            patches.append(Patch(rng.uniform(lo, hi), e, size * 0.08, size * 0.5, (235, 235, 230), False))
        else:
            color = rng.choice(((60, 60, 62), (95, 120, 70), (110, 100, 90)))
            patches.append(Patch(rng.uniform(lo, hi), e, size * 0.5, size * 0.3, color, True))
    return tuple(patches), tuple(sorted(cars, key=lambda c: -c.base))
