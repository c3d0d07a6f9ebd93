"""A loopback TCP proxy that injects network faults between two parts (tc netem and Toxiproxy are not available
here): added latency, dropped connections, a one-way cut where requests pass but answers do not, and a
segmenting link.

`segment` passes everything, but in pieces of at most `segment_bytes` (default 1,460, one Ethernet TCP segment)
with a gap of `gap` seconds (a range, drawn from a seeded generator) after each, or paced to `rate` bytes a
second: what a LAN does to an answer and loopback does not (TESTING.md, "What loopback hides"). Answers only,
or both directions with `segment_both`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from dataclasses import dataclass, field
from typing import Any

MODES = ("pass", "latency", "drop", "oneway", "segment")


@dataclass
class FaultProxy:
    name: str
    target_port: int
    mode: str = "pass"
    latency: float = 0.3
    port: int = 0
    segment_bytes: int = 1460
    gap: tuple[float, float] = (0.001, 0.003)  # seconds after each piece in segment mode, min and max
    rate: float = 0.0  # bytes a second in segment mode instead of `gap`: pieces back to back, paced to this rate
    segment_both: bool = False  # segment requests too, not only answers
    seed: int = 0
    pieces: int = 0  # pieces written in segment mode (a test can check the link really cut something)
    _rng: random.Random = field(init=False)
    _server: asyncio.base_events.Server | None = None
    _conns: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        assert self.segment_bytes > 0 and 0 <= self.gap[0] <= self.gap[1]
        self._rng = random.Random(self.seed)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server:
            self._server.close()
        for t in list(self._conns):
            t.cancel()
        for t in list(self._conns):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    def set(self, mode: str) -> None:
        assert mode in MODES
        self.mode = mode
        if mode == "drop":
            for t in list(self._conns):  # cut what is open now, too
                t.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if self.mode == "drop":
            writer.transport.abort()
            return
        self._conns.add(task)
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            self._conns.discard(task)
            return
        try:
            await asyncio.gather(self._pipe(reader, up_w, upstream=True), self._pipe(up_r, writer, upstream=False))
        except (asyncio.CancelledError, OSError):
            pass
        finally:
            self._conns.discard(task)
            for w in (writer, up_w):
                w.transport.abort()

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter, upstream: bool) -> None:
        while True:
            data = await r.read(65536)
            if not data:
                with contextlib.suppress(OSError):
                    w.write_eof()
                return
            if self.mode == "latency":
                await asyncio.sleep(self.latency)
            if self.mode == "oneway" and not upstream:
                continue  # the answer is swallowed: the request passed, nothing comes back
            if self.mode == "drop":
                raise OSError("dropped")
            if self.mode == "segment" and (self.segment_both or not upstream):
                await self._segmented(w, data)
                continue
            w.write(data)
            await w.drain()

    async def _segmented(self, w: asyncio.StreamWriter, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        start, sent = loop.time(), 0
        for i in range(0, len(data), self.segment_bytes):
            piece = data[i : i + self.segment_bytes]
            w.write(piece)
            await w.drain()
            self.pieces += 1
            sent += len(piece)
            if not self.rate:
                await asyncio.sleep(self._rng.uniform(*self.gap))
                continue
            # asyncio sleeps in whole milliseconds at best: wait once we are 2 ms ahead of the rate, else yield
            ahead = start + sent / self.rate - loop.time()
            await asyncio.sleep(ahead if ahead >= 0.002 else 0)


class ProxyLoop:
    """FaultProxies on an event loop of their own thread, for synchronous tests: the proxies keep forwarding
    while the test blocks (Topology.wait_ready, a sync HTTP call, another asyncio.run)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fault-proxies", daemon=True)
        self._thread.start()
        self.proxies: list[FaultProxy] = []

    def proxy(self, name: str, target_port: int, **kw: Any) -> FaultProxy:
        p = FaultProxy(name, target_port, **kw)
        asyncio.run_coroutine_threadsafe(p.start(), self.loop).result(10)
        self.proxies.append(p)
        return p

    def close(self) -> None:
        for p in self.proxies:
            asyncio.run_coroutine_threadsafe(p.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
