"""The server pair: who is active, the J heartbeat, takeover, failback and state replication.

Each server watches its peer's /info every heartbeat interval. A standby takes over after `misses` missed
checks, with an epoch one above any it has seen. An active server acts only while it holds a lease: fresh
news of its peer within (misses - 1) intervals; a server resumed after a pause checks its peer first and
steps down if the peer has taken over, so two servers never execute actions at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ..config import DEFAULTS
from ..http_service import BodyTooLarge, read_body
from ..sense import ResultCode, SenseError, parse_xml
from ..tasks import cancel_and_wait
from .world import World

log = logging.getLogger(__name__)
MAX_INFO_BYTES = 64 * 1024  # the peer's /info: a few hundred bytes
MAX_STATE_BYTES = 32 * 1024 * 1024  # the peer's whole state (the big site's is ~0.2 MiB, plus up to 10,000 events)


class Role(enum.Enum):
    PRIMARY = "primary"
    SECONDARY = "secondary"


class State(enum.Enum):
    ACTIVE = "active"
    STANDBY = "standby"


class Failback(enum.Enum):
    AUTO = "auto"
    MANUAL = "manual"


@dataclass
class PairSettings:
    role: Role
    peer_url: str | None
    interval: float
    misses: int
    failback: Failback
    replicate_timeout: float
    state_file: Path | None = None
    startup_grace: float = DEFAULTS.startup_grace


@dataclass
class PeerView:
    reachable: bool = False
    state: str = "unknown"
    role: str = ""
    epoch: int = 0
    stateversion: int = -1
    misses: int = 0


@dataclass
class Transition:
    at: str
    state: str
    epoch: int
    reason: str


def _utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class _Lease:
    fresh_at: float = float("-inf")


@dataclass
class Pair:
    settings: PairSettings
    world: World
    state: State = State.STANDBY
    epoch: int = 0
    since: str = field(default_factory=_utc)
    reason: str = "starting"
    peer: PeerView = field(default_factory=PeerView)
    history: list[Transition] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = asyncio.Lock()
        self._lease = _Lease()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._peer_acked_event = 0
        self.highest_seen = 0
        self._peer_seen = False
        self._started = 0.0
        if self.settings.state_file and self.settings.state_file.exists():
            with contextlib.suppress(ValueError, OSError, KeyError):
                self.epoch = int(json.loads(self.settings.state_file.read_text())["epoch"])

    # -- life cycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._started = asyncio.get_running_loop().time()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.interval * 0.75))
        if self.settings.peer_url is None:
            self._become(State.ACTIVE, self._next_epoch(), "no peer configured")
            return
        self._task = asyncio.create_task(self._run(), name="pair-heartbeat")

    async def close(self) -> None:
        await cancel_and_wait([self._task])
        if self._session:
            await self._session.close()

    @property
    def role(self) -> Role:
        return self.settings.role

    @property
    def failover_active(self) -> bool:
        """Sense's getHardwareStatus view: the failover (secondary) server is the one serving."""
        if self.role is Role.SECONDARY:
            return self.state is State.ACTIVE
        return self.state is State.STANDBY and self.peer.reachable and self.peer.state == State.ACTIVE.value

    # -- heartbeat -------------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self._probe()
                async with self.lock:
                    await self._decide()
            except asyncio.CancelledError:
                raise
            except Exception:  # the heartbeat must outlive any one bad answer
                log.exception("heartbeat step failed")
            await asyncio.sleep(max(0.0, self.settings.interval - (loop.time() - started)))

    def _url(self, path: str) -> str:
        assert self.settings.peer_url is not None
        return self.settings.peer_url.rstrip("/") + path

    async def _probe(self) -> None:
        assert self._session is not None
        # The lease counts from when the probe was sent, never from when its answer was read: an answer read
        # after a pause (SIGSTOP, a long stall) describes the peer as it was before the pause.
        sent = asyncio.get_running_loop().time()
        params = {"from": self.role.value, "state": self.state.value, "epoch": str(self.epoch)}
        try:
            async with self._session.get(self._url("/info"), params=params) as resp:
                body = await read_body(resp, MAX_INFO_BYTES, "the peer server's /info")
            info = parse_xml(body)
            self.peer = PeerView(
                True,
                info.findtext("state", "unknown"),
                info.findtext("role", ""),
                int(info.findtext("epoch", "0")),
                int(info.findtext("stateversion", "-1")),
                0,
            )
            self._seen(self.peer.epoch)
            self._peer_seen = True
        except (aiohttp.ClientError, TimeoutError, SenseError, ValueError, OSError) as exc:
            if isinstance(exc, BodyTooLarge) and self.peer.reachable:
                log.error("the peer server counts as unreachable: %s", exc)
            self.peer.reachable = False
            self.peer.misses += 1
        self._lease.fresh_at = max(self._lease.fresh_at, sent)

    def on_peer_probe(self, state: str, epoch: int) -> None:
        """The peer checked us (J) and says what it is; an active peer above us wins. This does not renew the
        lease: the request may have waited in our socket through a pause and already counted as a miss."""
        self.peer.misses = 0  # a sign of life: at worst a late one, which only delays a takeover
        self._peer_seen = True  # the peer exists: no start-up grace for it any more
        self._seen(epoch)
        if state == State.ACTIVE.value and epoch > self.epoch and self.state is State.ACTIVE:
            self._become(State.STANDBY, self.epoch, f"peer is active with a higher epoch {epoch}")

    async def _decide(self) -> None:
        was = self.state
        await self._decide_once()
        if was is not State.ACTIVE and self.state is State.ACTIVE and self.peer.reachable:
            await self.replicate()  # tell a live standby our epoch at once, not a heartbeat later

    async def _decide_once(self) -> None:
        peer, s = self.peer, self.settings
        peer_name = "secondary" if self.role is Role.PRIMARY else "primary"
        if self.state is State.ACTIVE:
            superior = peer.epoch > self.epoch or (peer.epoch == self.epoch and peer.role == Role.PRIMARY.value)
            if peer.reachable and peer.state == State.ACTIVE.value and superior:
                self._become(State.STANDBY, self.epoch, f"{peer_name} server is active with epoch {peer.epoch}")
            elif peer.reachable and peer.state == State.STANDBY.value and peer.stateversion != self.world.version:
                await self.replicate()
            return
        if not peer.reachable:
            # A peer never seen yet is more likely still booting than dead: give it the start-up grace.
            booting = not self._peer_seen and asyncio.get_running_loop().time() - self._started < s.startup_grace
            if peer.misses >= s.misses and not booting:
                self._become(
                    State.ACTIVE,
                    self._next_epoch(),
                    f"{peer_name} server missed {peer.misses} heartbeats",
                    event="ServerTakeover",
                )
            return
        if peer.state == State.ACTIVE.value:
            if peer.stateversion != self.world.version:
                await self._pull()
            if self.role is Role.PRIMARY and s.failback is Failback.AUTO:
                await self._handover("primary server is back (automatic failback)")
        elif peer.state == State.STANDBY.value and self.role is Role.PRIMARY:
            if peer.stateversion > self.world.version:
                await self._pull()
            self._become(
                State.ACTIVE,
                self._next_epoch(),
                "both servers standby: primary takes the lead",
                event="ServerTakeover",
            )

    # -- transitions -----------------------------------------------------------------------------------

    def _seen(self, epoch: int) -> None:
        self.highest_seen = max(self.highest_seen, epoch)

    def _next_epoch(self) -> int:
        """Above every epoch seen, odd for the primary and even for the secondary: two servers can never be
        active in the same epoch, even when news of the other's epoch was lost."""
        e = max(self.highest_seen, self.epoch, self.peer.epoch) + 1
        if e % 2 != (1 if self.role is Role.PRIMARY else 0):
            e += 1
        return e

    def _become(self, state: State, epoch: int, reason: str, event: str | None = None) -> None:
        changed = state is not self.state or epoch != self.epoch
        self.state, self.epoch, self.reason = state, epoch, reason
        if not changed:
            return
        self.since = _utc()
        self.history.append(Transition(self.since, state.value, epoch, reason))
        log.warning("%s server is now %s (epoch %d): %s", self.role.value, state.value, epoch, reason)
        if self.settings.state_file:
            tmp = self.settings.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"epoch": epoch}))
            tmp.replace(self.settings.state_file)
        if event:
            self.world.note(event, f"{self.role.value} server active: {reason}", str(epoch))
        if state is State.ACTIVE:
            self._lease.fresh_at = asyncio.get_running_loop().time()

    async def confirm(self) -> None:
        """Called with `lock` held. An active server whose lease ran out (it may have been paused) asks its
        peer before it claims to be active again, and steps down if the peer took over meanwhile."""
        if self.state is not State.ACTIVE or self.settings.peer_url is None:
            return
        lease = self.settings.interval * (self.settings.misses - 1)
        if asyncio.get_running_loop().time() - self._lease.fresh_at > lease:
            await self._probe()
            await self._decide()

    async def ensure_can_act(self) -> None:
        """Called with `lock` held before an action. Raises STANDBY_SERVER unless this server may act now."""
        await self.confirm()
        if self.state is not State.ACTIVE:
            other = "secondary" if self.role is Role.PRIMARY else "primary"
            raise SenseError.of(
                ResultCode.STANDBY_SERVER,
                f"this is the standby {self.role.value} server; send actions to the active "
                f"{other} server (or the manager)",
            )

    async def take_over(self) -> str:
        """command=takeOver: make this server active now (manual failback)."""
        if self.state is State.ACTIVE:
            return f"{self.role.value} server is already active"
        if await self._handover("operator requested takeOver"):
            return f"{self.role.value} server is now active"
        if not self.peer.reachable:
            self._become(
                State.ACTIVE,
                self._next_epoch(),
                "operator requested takeOver; peer down",
                event="ServerTakeover",
            )
            return f"{self.role.value} server is now active"
        raise SenseError.of(ResultCode.GENERAL_ERROR, "the active server did not hand over; try again")

    async def _handover(self, reason: str) -> bool:
        assert self._session is not None
        try:
            async with self._session.post(self._url("/pair/handover"), json={"epoch": self.epoch}) as resp:
                if resp.status != 200:
                    return False
                snap = json.loads(await read_body(resp, MAX_STATE_BYTES, "the peer server's handover state"))
        except (aiohttp.ClientError, TimeoutError, ValueError, OSError):
            return False
        self._apply(snap)
        self._seen(int(snap["epoch"]))
        self._become(State.ACTIVE, self._next_epoch(), reason, event="ServerFailback")
        return True

    async def give_up(self, caller_epoch: int) -> dict[str, Any] | None:
        """The peer asks to take over (/pair/handover). Called with `lock` held, so no action is half done."""
        if self.state is not State.ACTIVE:
            return None
        self.peer.misses = 0  # the peer just spoke to us; count its misses afresh from here
        self._become(State.STANDBY, self.epoch, "handed over to the peer server")
        return self.state_payload(0)

    # -- replication -----------------------------------------------------------------------------------

    def state_payload(self, after_event: int) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "world": self.world.snapshot(),
            "events": self.world.events.since(after_event),
            "next_event": self.world.events.next_id,
        }

    def _apply(self, payload: dict[str, Any]) -> None:
        self.world.restore(payload["world"])
        self.world.events.merge(payload["events"], int(payload["next_event"]))

    def accept_state(self, payload: dict[str, Any]) -> bool:
        """A push from the active peer. Refused when we are active ourselves or know a higher epoch."""
        self._seen(int(payload["epoch"]))
        if self.state is State.ACTIVE or int(payload["epoch"]) < self.epoch:
            return False
        self._apply(payload)
        return True

    async def replicate(self) -> None:
        """Copy the state to a live standby peer before an action's answer leaves (bounded wait)."""
        if self._session is None or not self.peer.reachable or self.peer.state != State.STANDBY.value:
            return
        try:
            payload = self.state_payload(self._peer_acked_event)
            async with self._session.post(
                self._url("/pair/state"),
                json=payload,
                timeout=aiohttp.ClientTimeout(total=self.settings.replicate_timeout),
            ) as r:
                if r.status == 200:
                    self._peer_acked_event = int(payload["next_event"]) - 1
                    self.peer.stateversion = self.world.version
                elif r.status != 409:  # 409: the peer is active or knows a higher epoch (the heartbeat sorts it)
                    log.warning("the standby refused the state (HTTP %s); it will pull it", r.status)
        except (aiohttp.ClientError, TimeoutError, OSError):
            log.info("replication to the standby failed; it will pull the state")

    async def _pull(self) -> None:
        assert self._session is not None
        try:
            async with self._session.get(
                self._url("/pair/state"), params={"after": str(self.world.events.last_id)}
            ) as resp:
                if resp.status == 200:
                    payload = json.loads(await read_body(resp, MAX_STATE_BYTES, "the peer server's state"))
                    if int(payload["epoch"]) >= self.epoch:
                        self._apply(payload)
        except BodyTooLarge as exc:
            log.error("could not pull the peer server's state: %s", exc)
        except (aiohttp.ClientError, TimeoutError, ValueError, OSError):
            pass
