"""The link to the peer manager (E): follow its status feed, fence it, and know how fresh that news is.

Each poll of the peer's feed brings its records (uids it started and finished) and its mode. The primary may
forward only while it holds a lease: a poll *sent* within `lease` seconds that found the secondary in failover
mode or unreachable. A poll's send time counts, not its arrival: an answer read after a pause is old news.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from ..security import TOKEN_HEADER
from ..tasks import cancel_and_wait
from .feed import FeedRecord, record_from_json

log = logging.getLogger(__name__)
MAX_FEED_BYTES = 16 * 1024 * 1024
MAX_FEED_RECORDS = 5000


@dataclass(frozen=True)
class FeedPage:
    instance: str
    records: list[FeedRecord]
    mode: str
    healthy: bool
    role: str
    gap: bool


def parse_feed(body: bytes) -> FeedPage:
    """One answer of the peer's /manager/feed, checked field by field: ValueError says what is wrong."""
    if len(body) > MAX_FEED_BYTES:
        raise ValueError("feed answer too large")
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("feed answer is not a JSON object")
        raw = data["records"]
        if not isinstance(raw, list) or len(raw) > MAX_FEED_RECORDS:
            raise ValueError(f"records must be a list of at most {MAX_FEED_RECORDS}")
        page = FeedPage(
            _text(data["instance"]),
            [record_from_json(x) for x in raw],
            _text(data["mode"]),
            data["healthy"] is True,
            _text(data["role"]),
            data.get("gap", False) is True,
        )
    except (KeyError, TypeError, AttributeError, RecursionError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed feed answer ({type(exc).__name__}: {str(exc)[:80]})") from None
    return page


def _text(v: object) -> str:
    if not isinstance(v, str) or len(v) > 64:
        raise ValueError("a feed text field is not a short string")
    return v


@dataclass
class PeerState:
    reachable: bool = False
    mode: str = "unknown"  # the peer's mode: normal | failover | fencing
    healthy: bool = False  # the peer has an active server
    role: str = ""
    errors: int = 0  # malformed answers seen
    gap: bool = False  # we fell out of its buffer at least once
    refused: bool = False  # it answered but refused our token: alive, and we cannot coordinate with it


class PeerLink:
    def __init__(
        self,
        url: str,
        role: str,
        wait: float,
        timeout: float,
        on_update: Callable[[list[FeedRecord], PeerState], None],
        token: str = "",
        tls: ssl.SSLContext | None = None,
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
        self._headers = {TOKEN_HEADER: token} if token else {}
        self._tls = tls
        self._refused_logged = False

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            headers=self._headers, connector=aiohttp.TCPConnector(ssl=self._tls or True)
        )
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
                if r.status == 403:
                    if not self._refused_logged:
                        self._refused_logged = True
                        log.error(
                            "peer manager at %s refused our token: set peer_token to a token listed in its "
                            "tokens. Until then this manager never takes over from it",
                            self.url,
                        )
                    self.state = PeerState(
                        False, "refused our token", False, "", self.state.errors, self.state.gap, True
                    )
                    self._confirmed_at = sent  # it cannot read our feed either way; see Manager._watch_queue
                    self._on_update([], self.state)
                    return False
                if r.status != 200:
                    raise ValueError(f"HTTP {r.status}")
                body = await r.content.read(MAX_FEED_BYTES + 1)
            page = parse_feed(body)
            instance, records, mode, healthy, role, gap = (
                page.instance,
                page.records,
                page.mode,
                page.healthy,
                page.role,
                page.gap,
            )
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
