"""The link to the peer manager (E): follow its status feed, fence it, and know how fresh that news is.

Each poll of the peer's feed brings its records (uids it started and finished) and its mode. The primary may
forward only while it holds a lease: a poll *sent* within `lease` seconds that found the secondary in failover
mode or unreachable. A poll's send time counts, not its arrival: an answer read after a pause is old news.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from ..tasks import cancel_and_wait
from .feed import FeedRecord, record_from_json

log = logging.getLogger(__name__)
MAX_FEED_BYTES = 16 * 1024 * 1024


@dataclass
class PeerState:
    reachable: bool = False
    mode: str = "unknown"  # the peer's mode: normal | failover | fencing
    healthy: bool = False  # the peer has an active server
    role: str = ""
    errors: int = 0  # malformed answers seen
    gap: bool = False  # we fell out of its buffer at least once


class PeerLink:
    def __init__(
        self, url: str, role: str, wait: float, timeout: float, on_update: Callable[[list[FeedRecord], PeerState], None]
    ) -> None:
        self.url = url.rstrip("/")
        self.role = role
        self.wait = wait
        self.timeout = timeout
        self.state = PeerState()
        self._on_update = on_update
        self._instance = ""
        self._after = 0
        self._confirmed_at = float("-inf")  # send time of the latest poll that found the peer not forwarding
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._poll_lock = asyncio.Lock()
        self.last_sent = float("-inf")  # send time of the latest poll that the peer answered

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(), name="peer-follower")

    async def close(self) -> None:
        await cancel_and_wait([self._task])
        if self._session:
            await self._session.close()

    def lease_valid(self, lease: float) -> bool:
        return asyncio.get_running_loop().time() - self._confirmed_at < lease

    async def _run(self) -> None:
        while True:
            ok = await self.poll(self.wait)
            if not ok:
                await asyncio.sleep(self.wait)

    async def poll(self, wait: float) -> bool:
        """One poll of the peer's feed; True if it answered well."""
        async with self._poll_lock:
            return await self._poll(wait)

    async def _poll(self, wait: float) -> bool:
        assert self._session is not None
        loop = asyncio.get_running_loop()
        sent = loop.time()
        params = {
            "after": str(self._after),
            "wait": str(int(wait * 1000)),
            "instance": self._instance,
            "from": self.role,
        }
        try:
            async with self._session.get(
                self.url + "/manager/feed", params=params, timeout=aiohttp.ClientTimeout(total=wait + self.timeout)
            ) as r:
                if r.status != 200:
                    raise ValueError(f"HTTP {r.status}")
                body = await r.content.read(MAX_FEED_BYTES + 1)
            if len(body) > MAX_FEED_BYTES:
                raise ValueError("feed answer too large")
            data = json.loads(body)
            instance = str(data["instance"])
            records = [record_from_json(x) for x in data["records"]]
            mode, healthy, role = str(data["mode"]), bool(data["healthy"]), str(data["role"])
            gap = bool(data.get("gap", False))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.debug("peer poll failed: %r", exc)  # noted at every failure; warned once per outage below
            was = self.state.reachable
            self.state.reachable = False
            self.state.mode = "unreachable"
            # An unreachable peer cannot be forwarding through us; the lease holds from this send time.
            self._confirmed_at = sent
            if was:
                log.warning("peer manager at %s is unreachable", self.url)
            self._on_update([], self.state)
            return False
        except (ValueError, KeyError, TypeError) as exc:
            self.state.errors += 1
            self.state.reachable = False
            self.state.mode = "garbled"
            # A peer that cannot speak the feed protocol is not coordinating with anyone: like an unreachable one.
            self._confirmed_at = sent
            log.warning("peer manager at %s sent a malformed feed answer: %s", self.url, exc)
            self._on_update([], self.state)
            return False
        if instance != self._instance:
            # A new peer process: its sequence starts again; read all it still has.
            if self._instance:
                log.warning("peer manager restarted; following its new feed from the start")
            self._instance, self._after = instance, 0
            records = [r for r in records if r.seq > 0]
        if gap:
            self.state.gap = True
            log.error("fell behind the peer manager's feed: some of its records were dropped before we read them")
        if records:
            self._after = max(self._after, max(r.seq for r in records))
        self.state = PeerState(True, mode, healthy, role, self.state.errors, self.state.gap)
        self.last_sent = sent
        # Only "failover" (the secondary is not forwarding) renews the lease; any other mode ends it at once.
        self._confirmed_at = sent if mode == "failover" else float("-inf")
        self._on_update(records, self.state)
        return True

    async def fence(self) -> int | None:
        """Ask the peer (the primary) to stop forwarding. Returns its last seq, or None if it did not answer."""
        assert self._session is not None
        try:
            async with self._session.post(
                self.url + "/manager/fence", json={"from": self.role}, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as r:
                if r.status != 200:
                    return None
                data = await r.json()
            if str(data.get("instance")) != self._instance:
                return None  # a different process than the one we follow: catch up on a fresh poll instead
            return int(data["last"])
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError, KeyError, TypeError):
            return None

    @property
    def after(self) -> int:
        return self._after

    @property
    def instance(self) -> str:
        return self._instance
