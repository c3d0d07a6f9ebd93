"""Draws a scene (app.sim.scene) as a camera picture with Pillow: the still part once per camera, view and size
(cached), the moving part and the clock on every frame, then a JPEG.

A Painter is not thread-safe: the simulator keeps one in its single picture thread.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
from collections import OrderedDict
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from .scene import Color, Mover, Scene, View

ASPECT = 16 / 9  # the camera's own picture; other sizes are letterboxed, or filled with fittopanel
JPEG_QUALITY = 75
CACHE_BYTES = 96 * 1024 * 1024  # still layers kept (a 640x352 one is 0.7 MB)
_FONT_FILES = ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf")
_SKIN: Color = (225, 190, 160)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.lru_cache(maxsize=64)
def font(size: int) -> Font:
    """DejaVu when the system has it (fonts-dejavu-core), else Pillow's own font: never fails for want of fonts."""
    for name in _FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size)
    except (TypeError, OSError, ImportError):  # Pillow 10.0 (no size) or no FreeType: a small bitmap font
        return ImageFont.load_default()


@dataclass(frozen=True)
class Canvas:
    """The asked size, and where the 16:9 picture lies on it: inside it (letterbox) or around it (fill)."""

    width: int
    height: int
    fit: bool

    def content(self) -> tuple[float, float, float, float]:
        w, h = float(self.width), float(self.height)
        wider = w / h > ASPECT
        if wider != self.fit:  # letterbox a wide canvas, or fill a tall one: the height rules
            cw, ch = h * ASPECT, h
        else:
            cw, ch = w, w / ASPECT
        return (w - cw) / 2, (h - ch) / 2, cw, ch

    def visible(self) -> tuple[int, int, int, int]:
        ox, oy, cw, ch = self.content()
        return max(0, round(ox)), max(0, round(oy)), min(self.width, round(ox + cw)), min(self.height, round(oy + ch))


class Projection:
    """Angles (azimuth, elevation in degrees) to pixels for one view on one canvas."""

    def __init__(self, view: View, canvas: Canvas) -> None:
        ox, oy, cw, ch = canvas.content()
        self.view = view
        self.k = cw / view.hfov  # pixels per degree
        self.cx, self.cy = ox + cw / 2, oy + ch / 2
        self.width, self.height = canvas.width, canvas.height
        self.left = view.azimuth - view.hfov / 2
        self.half_v = ch / 2 / self.k

    def x(self, azimuth: float) -> float:
        return self.cx + ((azimuth - self.view.azimuth + 180) % 360 - 180) * self.k

    def y(self, elevation: float) -> float:
        return self.cy - (elevation - self.view.elevation) * self.k

    def elevation(self, y: float) -> float:
        return self.view.elevation + (self.cy - y) / self.k

    def shows(self, x0: float, x1: float) -> bool:
        return x1 >= -2 and x0 <= self.width + 2

    def every(self, step: float) -> range:
        """Whole multiples of `step` degrees across the view (for dashes and lamps)."""
        first = math.floor((self.left - step) / step)
        return range(first, first + math.ceil(self.view.hfov / step) + 3)


def _mix(a: Color, b: Color, f: float) -> Color:
    f = max(0.0, min(1.0, f))
    return (round(a[0] + (b[0] - a[0]) * f), round(a[1] + (b[1] - a[1]) * f), round(a[2] + (b[2] - a[2]) * f))


def _darker(c: Color, f: float = 0.7) -> Color:
    return (round(c[0] * f), round(c[1] * f), round(c[2] * f))


class Painter:
    def __init__(self, cache_bytes: int = CACHE_BYTES) -> None:
        self.cache_bytes = cache_bytes
        self._still: OrderedDict[tuple[object, ...], Image.Image] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    # -- the still layer -------------------------------------------------------------------------------

    def still(self, scene: Scene, view: View, canvas: Canvas, ptz: str = "", keep: bool = True) -> Image.Image:
        """Everything that does not move, with the camera name (and a dome's position) on it. `keep`: cache it
        (not for a dome on the move: its view changes every frame)."""
        key = (scene.key, canvas, round(view.azimuth, 2), round(view.elevation, 2), round(view.hfov, 3), ptz)
        img = self._still.get(key)
        if img is not None:
            self._still.move_to_end(key)
            self.hits += 1
            return img
        self.misses += 1
        img = self._draw_still(scene, view, canvas, ptz)
        if keep:
            self._still[key] = img
            self._bytes += canvas.width * canvas.height * 3
            while self._bytes > self.cache_bytes and len(self._still) > 1:
                _, old = self._still.popitem(last=False)
                self._bytes -= old.width * old.height * 3
        return img

    def _draw_still(self, scene: Scene, view: View, canvas: Canvas, ptz: str) -> Image.Image:
        img = Image.new("RGB", (canvas.width, canvas.height), (0, 0, 0))
        d = ImageDraw.Draw(img)
        p = Projection(view, canvas)
        x0, y0, x1, y1 = canvas.visible()
        horizon_y = p.y(scene.horizon)
        step = 3
        for y in range(y0, y1, step):  # sky or wall, then ground or floor, in bands
            e = p.elevation(y + step / 2)
            if e >= scene.ceiling:
                c = _darker(scene.sky[0], 0.8)
            elif y + step / 2 < horizon_y:
                c = _mix(scene.sky[0], scene.sky[1], (e - scene.horizon) / 40)
            else:
                c = _mix(scene.ground[0], scene.ground[1], (scene.horizon - e) / 35)
            d.rectangle((x0, y, x1, y + step), fill=c)
        if scene.hills:
            n = 48
            pts = [(-1.0, horizon_y)]
            for i in range(n + 1):
                a = p.left - 2 + (p.view.hfov + 4) * i / n
                pts.append(
                    (p.x(a) if i not in (0, n) else (-1.0 if i == 0 else canvas.width + 1.0), p.y(scene.skyline(a)))
                )
            pts.append((canvas.width + 1.0, horizon_y))
            d.polygon(pts, fill=scene.hill_color)
        if scene.indoor:
            d.line((x0, p.y(scene.ceiling), x1, p.y(scene.ceiling)), fill=_darker(scene.sky[0], 0.6), width=2)
            for i in p.every(14):
                xa = p.x(i * 14.0)
                d.rectangle(
                    (xa, p.y(scene.ceiling + 2.2), xa + 5 * p.k, p.y(scene.ceiling + 1.5)), fill=(250, 250, 235)
                )
        for band in sorted(scene.bands, key=lambda b: -b.far):
            top, bottom = p.y(band.far), p.y(band.near)
            d.rectangle((x0, top, x1, bottom), fill=band.color)
            if band.dashes is not None:
                mid, thick = (top + bottom) / 2, max(1.0, (bottom - top) * 0.06)
                for i in p.every(3):
                    xa = p.x(i * 3.0)
                    d.rectangle((xa, mid - thick / 2, xa + 1.5 * p.k, mid + thick / 2), fill=band.dashes)
        for b in scene.blocks:
            bx0 = p.x(b.a0)
            bx1 = bx0 + (b.a1 - b.a0) * p.k
            if not p.shows(bx0, bx1):
                continue
            top, bottom = p.y(b.top), p.y(b.base)
            d.rectangle((bx0, top, bx1, bottom), fill=b.color, outline=_darker(b.color), width=1)
            cw, rh = (bx1 - bx0) / b.cols, (bottom - top) / (b.rows + 0.6)
            if cw < 3 or rh < 3:
                continue
            for row in range(b.rows):
                for col in range(b.cols):
                    wx, wy = bx0 + col * cw, top + (row + 0.3) * rh
                    fill = b.lit_window if b.lit[row * b.cols + col] else b.window
                    d.rectangle((wx + cw * 0.18, wy + rh * 0.15, wx + cw * 0.82, wy + rh * 0.8), fill=fill)
        for t in scene.trees:
            tx = p.x(t.azimuth)
            r = t.radius * p.k
            if not p.shows(tx - r, tx + r):
                continue
            base = p.y(t.base)
            trunk = p.y(t.base + t.radius * 1.2)
            d.rectangle((tx - r * 0.12, trunk, tx + r * 0.12, base), fill=(95, 70, 45))
            cy = p.y(t.base + t.radius * 2.0)
            d.ellipse((tx - r, cy - r, tx + r, cy + r), fill=t.color, outline=_darker(t.color), width=1)
        for patch in scene.patches:
            px, w, h = p.x(patch.azimuth), patch.width * p.k, patch.height * p.k
            if p.shows(px - w, px + w):
                py = p.y(patch.elevation)
                box = (px - w / 2, py - h / 2, px + w / 2, py + h / 2)
                (d.ellipse if patch.round else d.rectangle)(box, fill=patch.color)
        for car in scene.parked:
            _mover(d, p, car, 0.0)
        size = _font_size(canvas)
        _label(img, (x0, y0), scene.name, size)
        if ptz:
            _label(img, (x1, y1), ptz, size, right=True, bottom=True)
        return img

    # -- a frame ---------------------------------------------------------------------------------------

    def frame(
        self, scene: Scene, view: View, canvas: Canvas, t: float, mode: str, ptz: str = "", keep: bool = True
    ) -> Image.Image:
        """The picture at UTC time `t` (seconds since the epoch): `mode` "LIVE" or "PLAYBACK"."""
        img = self.still(scene, view, canvas, ptz, keep).copy()
        d = ImageDraw.Draw(img)
        p = Projection(view, canvas)
        for m in sorted(scene.movers, key=lambda m: -m.base):
            _mover(d, p, m, t)
        for light in scene.lights:
            lx, ly = p.x(light.azimuth), p.y(light.elevation)
            r = max(1.5, light.radius * p.k)
            if p.shows(lx - r, lx + r):
                fill = light.color if light.on(t) else _darker(light.color, 0.3)
                d.ellipse((lx - r, ly - r, lx + r, ly + r), fill=fill)
        x0, y0, x1, y1 = canvas.visible()
        size = _font_size(canvas)
        stamp = dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        _label(img, (x1, y0), stamp, size, right=True)
        dot = mode != "LIVE" or t % 1 < 0.5  # a live dot blinks
        _label(img, (x0, y1), mode, size, bottom=True, dot=(230, 30, 30) if dot else (90, 20, 20))
        return img

    def jpeg(self, image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        return out.getvalue()


def _font_size(canvas: Canvas) -> int:
    _, y0, _, y1 = canvas.visible()
    return max(8, round((y1 - y0) / 19))


def _label(
    img: Image.Image,
    at: tuple[float, float],
    text: str,
    size: int,
    right: bool = False,
    bottom: bool = False,
    dot: Color | None = None,
) -> None:
    """On-screen text on a dark box, in a corner of the visible picture."""
    box = _label_box(text, size, dot)
    pad = max(2, size // 4)
    x = at[0] - box.width - pad if right else at[0] + pad
    y = at[1] - box.height - pad if bottom else at[1] + pad
    img.paste(box, (round(x), round(y)))


@functools.lru_cache(maxsize=512)
def _label_box(text: str, size: int, dot: Color | None) -> Image.Image:
    """Drawn once and pasted after: a wall of 24 panels shows the same second 24 times (text costs ~0.5 ms)."""
    f = font(size)
    pad = max(2, size // 4)
    left, top, r, b = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=f)
    lead = size if dot else 0
    w, h = round(r - left + lead + 2 * pad), round(b - top + 2 * pad)
    box = Image.new("RGB", (max(1, w), max(1, h)), (10, 10, 12))
    d = ImageDraw.Draw(box)
    if dot:
        rr = size * 0.3
        cx, cy = pad + size * 0.4, h / 2
        d.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=dot)
    d.text((pad + lead - left, pad - top), text, font=f, fill=(245, 245, 245))
    return box


def _mover(d: ImageDraw.ImageDraw, p: Projection, m: Mover, t: float) -> None:
    x0 = p.x(m.azimuth(t))
    w, h = m.width * p.k, m.height * p.k
    if not p.shows(x0, x0 + w):
        return
    yb = p.y(m.base)
    if m.kind == "car":
        d.rectangle((x0, yb - h * 0.6, x0 + w, yb - h * 0.15), fill=m.color, outline=_darker(m.color), width=1)
        d.rectangle((x0 + w * 0.22, yb - h, x0 + w * 0.74, yb - h * 0.58), fill=_darker(m.color, 0.8))
        d.rectangle((x0 + w * 0.27, yb - h * 0.92, x0 + w * 0.69, yb - h * 0.62), fill=(120, 150, 170))
        r = h * 0.17
        for fx in (0.2, 0.8):
            d.ellipse((x0 + w * fx - r, yb - h * 0.15 - r, x0 + w * fx + r, yb - h * 0.15 + r), fill=(20, 20, 20))
        front = x0 + w - w * 0.05 if m.speed > 0 else x0
        d.rectangle((front, yb - h * 0.5, front + w * 0.05, yb - h * 0.38), fill=(255, 240, 170))
        return
    swing = math.sin(t * 2 * math.pi * 1.6) * w * 0.5
    cx = x0 + w / 2
    lw = max(1, round(w * 0.22))
    d.line((cx, yb - h * 0.45, cx - swing, yb), fill=(40, 40, 50), width=lw)
    d.line((cx, yb - h * 0.45, cx + swing, yb), fill=(40, 40, 50), width=lw)
    d.rectangle((x0, yb - h * 0.82, x0 + w, yb - h * 0.42), fill=m.color)
    r = w * 0.42
    d.ellipse((cx - r, yb - h * 0.82 - 2 * r, cx + r, yb - h * 0.82), fill=_SKIN)
