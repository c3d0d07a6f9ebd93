"""A loopback TCP proxy that injects network faults between two parts (tc netem and Toxiproxy are not available
here): added latency, dropped connections, and a one-way cut where requests pass but answers do not."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

MODES = ("pass", "latency", "drop", "oneway")


@dataclass
class FaultProxy:
    name: str
    target_port: int
    mode: str = "pass"
    latency: float = 0.3
    port: int = 0
    _server: asyncio.base_events.Server | None = None
    _conns: set[asyncio.Task[None]] = field(default_factory=set)

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
            w.write(data)
            await w.drain()
