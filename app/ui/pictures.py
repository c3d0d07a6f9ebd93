"""Pictures for the views on screen: PictureFeed asks for the pictures of the PictureViews it was given that are
on screen and due, at most one request per view and a cap for the whole console, decodes them in worker
threads (never on the UI thread) and hands them to the views.

Signals (PictureFeed):
    frameShown(object view)   a new picture was put on a view
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import time
from typing import Any

import shiboken6
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QImageReader

from ..client import RedundantClient
from ..client.pictures import PictureError
from ..config import DEFAULTS
from .picture_view import PictureView

log = logging.getLogger(__name__)
__all__ = ["PictureFeed", "PictureView", "decode"]


def decode(body: bytes, width: int, height: int, max_pixels: int) -> tuple[QImage | None, str, bytes]:
    """In a worker thread: the picture scaled down to fit width×height, or None and why; and a digest of the
    bytes (the same bytes twice are the same picture, however fresh the answer)."""
    digest = hashlib.blake2b(body, digest_size=16).digest()
    buf = QBuffer()
    buf.setData(QByteArray(body))
    buf.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buf)
    size = reader.size()
    if not size.isValid() or size.isEmpty():
        return None, "corrupt picture (cannot be decoded)", digest
    if size.width() * size.height() > max_pixels:
        return None, f"picture too large ({size.width()}×{size.height()} pixels)", digest
    if size.width() > width or size.height() > height:
        reader.setScaledSize(size.scaled(width, height, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        return None, f"corrupt picture ({reader.errorString().lower()})", digest
    return image, "", digest


class PictureFeed(QObject):
    """Asks the client for the pictures of the views it was given that are on screen and due, at most
    `max_in_flight` at once and one per view; decodes in `decode_threads` worker threads. `stop()` ends it all."""

    frameShown = Signal(object)

    def __init__(
        self,
        client: RedundantClient,
        max_in_flight: int = DEFAULTS.picture_max_in_flight,
        decode_threads: int = DEFAULTS.picture_decode_threads,
    ) -> None:
        super().__init__()
        self.client = client
        self.max_in_flight = max_in_flight
        self._views: dict[int, PictureView] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pool = concurrent.futures.ThreadPoolExecutor(decode_threads, thread_name_prefix="picture-decode")
        self.in_flight = 0
        self.most_in_flight = 0
        self.requests = 0
        self.frames = 0
        self.failures = 0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._stopped = False

    def add(self, view: PictureView) -> None:
        key = id(view)
        self._views[key] = view
        view.destroyed.connect(lambda *_: self._views.pop(key, None))

    def remove(self, view: PictureView) -> None:
        self._views.pop(id(view), None)

    def start(self) -> None:
        if not self._stopped:
            self._timer.start(round(DEFAULTS.picture_tick * 1000))

    def stop(self) -> None:
        """Closing the window: no new request, the ones out cancelled, the decoders told to finish."""
        self._stopped = True
        self._timer.stop()
        for t in list(self._tasks):
            t.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def wait_stopped(self) -> None:
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    def _alive(self, view: PictureView) -> bool:
        return shiboken6.isValid(view) and id(view) in self._views

    def _tick(self) -> None:
        now = time.monotonic()
        due: list[PictureView] = []
        for view in list(self._views.values()):
            if not shiboken6.isValid(view) or not view.on_screen():
                continue
            view.sync_mode()
            view.refresh_badge(now)
            if view.source is not None and not view.in_flight and view.due <= now:
                due.append(view)
        for view in sorted(due, key=lambda v: v.due):  # the longest waiting first
            if self.in_flight >= self.max_in_flight:
                break  # no pile-up: the rest waits for a free place
            self._start(view, now)

    def _start(self, view: PictureView, now: float) -> None:
        view.in_flight = True
        view.requests += 1
        self.requests += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        task = asyncio.ensure_future(self._fetch(view, view.generation, now))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("picture request failed: %r", task.exception())

    async def _fetch(self, view: PictureView, generation: int, started: float) -> None:
        try:
            if not self._alive(view) or view.source is None:
                return
            ask = view.query()
            try:
                pic = await self.client.picture(ask.command, ask.params)
                image, why, digest = await asyncio.get_running_loop().run_in_executor(
                    self._pool, decode, pic.body, ask.width, ask.height, DEFAULTS.picture_max_pixels
                )
            except PictureError as exc:
                self.failures += 1
                if self._alive(view) and view.generation == generation:
                    view.fail(exc.reason, exc.detail, exc.final, time.monotonic())
                return
            except RuntimeError:  # the decoders were shut down: the window is closing
                return
            if not self._alive(view) or view.generation != generation:
                return  # the panel shows another camera (or moment) now
            if image is None:
                self.failures += 1
                detail = f"{pic.manager} manager: {pic.content_type}, {len(pic.body)} bytes: {why}"
                view.fail(why, detail, False, time.monotonic())
                return
            view.take(image, digest, time.monotonic(), ask)
            self.frames += 1
            self.frameShown.emit(view)
        finally:
            self.in_flight -= 1
            if self._alive(view):
                view.in_flight = False
                view.due = started + view.interval
