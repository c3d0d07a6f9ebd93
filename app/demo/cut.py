"""Links the demo can cut: a loopback TCP relay per link, run in a thread of the demo process.

On one host without root there are no routes to cut, so the demo puts a relay on each link between a manager and
the other manager host's etcd member. `silent` swallows new and open connections (what a dead switch port looks
like: connects hang), `refused` resets them at once (a firewall that rejects), `pass` relays. The raft link between
the two members stays (a real cut of it is the lab's, tests/lab).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from ..config import LOOPBACK

MODES = ("pass", "silent", "refused")


@dataclass
class CutLink:
    name: str
    target_port: int
    port: int = 0
    mode: str = "pass"
    _conns: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    async def serve(self) -> asyncio.base_events.Server:
        server = await asyncio.start_server(self._handle, LOOPBACK, self.port)
        self.port = server.sockets[0].getsockname()[1]
        return server

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.mode = mode
        if mode != "pass":
            for t in list(self._conns):  # what is open now is cut too
                t.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            if self.mode == "refused":
                return
            if self.mode == "silent":
                await asyncio.Event().wait()  # held open, nothing passes, until the link is restored or cut again
            up_r, up_w = await asyncio.open_connection(LOOPBACK, self.target_port)
            try:
                await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer))
            finally:
                up_w.transport.abort()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._conns.discard(task)
            writer.transport.abort()

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            data = await r.read(65536)
            if not data or self.mode != "pass":
                with contextlib.suppress(OSError):
                    w.write_eof()
                return
            w.write(data)
            await w.drain()


class CutLinks:
    """The demo's relays, on an event loop of their own in a daemon thread."""

    def __init__(self) -> None:
        self.links: dict[str, CutLink] = {}
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.base_events.Server] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="demo-cut-links", daemon=True)
        self._thread.start()

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def add(self, name: str, target_port: int) -> CutLink:
        link = CutLink(name, target_port)
        self._servers.append(self._run(link.serve()))
        self.links[name] = link
        return link

    def set_mode(self, mode: str, names: list[str] | None = None) -> None:
        for name in names or list(self.links):
            link = self.links[name]
            self._loop.call_soon_threadsafe(link.set_mode, mode)

    def close(self) -> None:
        async def stop() -> None:
            for s in self._servers:
                s.close()
            for link in self.links.values():
                for t in list(link._conns):
                    t.cancel()

        with contextlib.suppress(Exception):
            self._run(stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
