"""The manager's behaviour: each action executed once, whoever sends it how often, whatever part fails.

Every action waits in `pending` until it can be answered: from the dedup store (a copy, or a uid the peer
manager finished), or by forwarding it to the active server when this manager may forward. The primary
may forward while its lease says the secondary is not forwarding and it is not fenced; the secondary
forwards only in normal mode, which it enters when a queued action waited longer than the queue timeout,
after fencing the primary and reading its feed up to the fence.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from ..config import DEFAULTS
from ..security import RateLimit, client_tls
from ..sense import Command, CommandRequest, ResultCode, SenseError, encode, error_xml, parse_result, result_xml
from ..sense.events import EventLog, utc_now
from ..sense.login import Login
from ..tasks import cancel_and_wait
from .dedup import DedupStore, EntryState
from .feed import FeedRecord, StatusFeed
from .peer import PeerLink, PeerState
from .servers import MaybeSent, NotSent, ServerFollower
from .settings import ManagerSettings, Role

log = logging.getLogger(__name__)
_UID_OK = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces or control characters


class Mode(enum.Enum):
    NORMAL = "normal"
    FAILOVER = "failover"


@dataclass
class Counts:
    forwarded: int = 0
    deduplicated: int = 0
    answered_from_feed: int = 0
    in_doubt: int = 0
    reexecuted: int = 0
    recovered: int = 0  # in doubt, but the server confirmed it was executed
    unprotected: int = 0
    reads: int = 0
    not_executed: int = 0
    rate_limited: int = 0
    refused: int = 0  # requests without a valid token


@dataclass
class Pending:
    req: CommandRequest
    cmd: Command
    future: asyncio.Future[bytes]
    at: float


@dataclass
class ModeState:
    mode: Mode
    since: str = ""
    reason: str = "starting"
    fencing: bool = False
    # The peer feed position at which the secondary went normal: only newer primary records switch it back.
    normal_from: tuple[str, int] = ("", 0)
    history: list[str] = field(default_factory=list)


class Manager:
    def __init__(self, s: ManagerSettings, events: EventLog) -> None:
        self.s = s
        self.role = s.role
        self.events = events
        self.counts = Counts()
        self.store = DedupStore(s.state_dir / f"dedup-{s.role.value}.sqlite3", s.dedup_window, s.dedup_capacity)
        self.feed = StatusFeed(s.feed_buffer)
        # The CAs trusted for https servers and the https peer; None: the system's. Every upstream session uses it.
        self.tls = tls = client_tls(s.ca_bundle) if s.ca_bundle else None
        login = Login(s.server_user, str(s.server_password)) if s.server_user else None
        self.servers = ServerFollower(
            s.servers, s.server_poll, s.upstream_timeout, self._server_changed, tls=tls, login=login
        )
        self.peer = (
            PeerLink(
                s.peer_url,
                s.role.value,
                s.peer_poll_wait,
                s.fence_timeout,
                self._peer_update,
                token=str(s.peer_token),
                tls=tls,
            )
            if s.peer_url
            else None
        )
        self.state = ModeState(Mode.NORMAL if s.role is Role.PRIMARY else Mode.FAILOVER, since=utc_now())
        self.fenced = False  # primary: the secondary asked us to stop forwarding
        self._fenced_at = float("-inf")
        self.pending: dict[str, Pending] = {}
        self.inflight: dict[str, asyncio.Future[bytes]] = {}
        # Peer "started" records read while our own claim of the same uid waited for the peer's ack.
        self._peer_claims: dict[str, FeedRecord] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watch: asyncio.Task[None] | None = None
        self.rate = RateLimit(s.action_rate, s.action_burst)
        self.peer_poll_refused_at = float("-inf")  # the service sets it when a feed poll had no valid token

    # -- life cycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.servers.start()
        if self.peer:
            await self.peer.start()
        if self.role is Role.PRIMARY:
            # The hello record: a secondary in normal mode goes back to failover when it reads it.
            self.feed.publish("mode", "", "", "", self.role.value)
        self._watch = asyncio.create_task(self._watch_queue(), name="queue-watch")

    async def close(self) -> None:
        await cancel_and_wait([*self._tasks, self._watch])
        if self.peer:
            await self.peer.close()
        await self.servers.close()
        self.store.close()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what the outside sees -------------------------------------------------------------------------

    @property
    def mode_label(self) -> str:
        return "fencing" if self.state.fencing else self.state.mode.value

    def may_forward(self) -> bool:
        if self.role is Role.PRIMARY:
            if self.peer is None:
                return True
            return not self.fenced and self.peer.lease_valid(self.s.peer_lease)
        return self.state.mode is Mode.NORMAL and not self.state.fencing

    def _event(self, kind: str, text: str, value: str = "") -> None:
        log.warning("%s", text)
        self.events.add(kind, text, value)

    # -- commands --------------------------------------------------------------------------------------

    @staticmethod
    def check_uid(uid: str) -> None:
        if len(uid) > DEFAULTS.max_uid_length or not _UID_OK.fullmatch(uid):
            raise SenseError.of(
                ResultCode.INVALID_UID,
                f"uid must be 1 to {DEFAULTS.max_uid_length} printable ASCII characters without "
                "spaces or control characters",
            )

    def _check_rate(self, source: str) -> None:
        if not self.rate.allow(source):
            self.counts.rate_limited += 1
            raise SenseError.of(
                ResultCode.RATE_LIMITED,
                f"{source} sent more than {self.s.action_burst} actions at once or {self.s.action_rate:g} a second; "
                "this one was not executed. Wait a moment and send it again (action_rate in the manager config)",
            )

    async def action(self, req: CommandRequest, cmd: Command, source: str = "") -> bytes:
        """Execute an action once. `source` names the sender for the rate limit (a token name, an address)."""
        loop = asyncio.get_running_loop()
        if req.uid is None:
            if not self.may_forward() and self.role is Role.SECONDARY:
                raise SenseError.of(
                    ResultCode.UID_REQUIRED,
                    "this secondary manager is in failover mode and only takes actions with a uid "
                    "(add uid=UNIQUE_VALUE); without one it cannot tell a copy from a new action",
                )
            self._check_rate(f"a console without uids ({source or 'unknown'})")
            self.counts.unprotected += 1
            log.info("action %s without uid forwarded unprotected", cmd.name)
            return await self._send(encode(req.command, req.params), loop.time() + self.s.hold_timeout)
        self.check_uid(req.uid)
        params = req.canonical_params()
        entry = self.store.get(req.uid)
        if entry is not None and (entry.command != cmd.name or entry.params != params):
            raise SenseError.of(
                ResultCode.UID_CONFLICT,
                f"uid {req.uid!r} was used for {entry.command} with other parameters; each action needs its own uid",
            )
        if entry is not None and entry.state is EntryState.DONE and entry.answer is not None:
            self.counts.deduplicated += 1
            return entry.answer
        if req.uid in self.inflight:
            self.counts.deduplicated += 1
            return await self._wait(self.inflight[req.uid])
        p = self.pending.get(req.uid)
        if p is None:
            # Only a uid new to this manager counts: copies of one action (retries, the peer console) are free.
            self._check_rate(f"station {req.uid.rsplit('-', 2)[0][:40]!r} ({source or 'unknown'})")
            p = Pending(req, cmd, loop.create_future(), loop.time())
            self.pending[req.uid] = p
            self.pump()
        else:
            self.counts.deduplicated += 1
        return await self._wait(p.future)

    async def _wait(self, fut: asyncio.Future[bytes]) -> bytes:
        try:
            return await asyncio.wait_for(asyncio.shield(fut), self.s.answer_timeout)
        except TimeoutError:
            raise SenseError.of(
                ResultCode.UPSTREAM_FAILED,
                f"no answer within {self.s.answer_timeout:.1f} s; the action may still be executed. "
                "Do not send it again with a new uid; check its result on the wall",
            ) from None

    async def read(self, req: CommandRequest) -> bytes:
        self.counts.reads += 1
        return await self._send(
            encode(req.command, req.params), asyncio.get_running_loop().time() + self.s.hold_timeout
        )

    async def _send(self, query: str, deadline: float) -> bytes:
        try:
            return await self.servers.execute(query, deadline)
        except SenseError as exc:
            return error_xml(exc)

    # -- the pump: decide for every pending action -----------------------------------------------------

    def pump(self) -> None:
        for uid, p in sorted(self.pending.items(), key=lambda kv: kv[1].at):
            if p.future.done():
                self.pending.pop(uid, None)
                continue
            entry = self.store.get(uid)
            if entry is not None and entry.state is EntryState.DONE and entry.answer is not None:
                if entry.origin != self.role.value:
                    self.counts.answered_from_feed += 1
                    if self.role is Role.PRIMARY:
                        # "A status message is sent after finishing a command": our answer is one, too.
                        self.feed.publish(
                            "done", uid, entry.command, entry.params, entry.origin, entry.errorcode, entry.answer
                        )
                self._resolve(uid, p, entry.answer)
                continue
            if not self.may_forward():
                continue
            if entry is None:
                if self.store.claim(uid, p.cmd.name, p.req.canonical_params(), self.role.value) is None:
                    self._start_forward(uid, p)
                continue
            if uid in self.inflight:
                continue
            peer_alive = self.peer is not None and self.peer.state.reachable
            if entry.origin == self.role.other.value and peer_alive:
                continue  # the peer started it and is alive: its "done" record will come
            # Started by a manager that died (the peer, or this one before a restart) and never finished.
            self._start_forward(uid, p, in_doubt=True)

    def _resolve(self, uid: str, p: Pending, body: bytes) -> None:
        self.pending.pop(uid, None)
        if not p.future.done():
            p.future.set_result(body)

    def _start_forward(self, uid: str, p: Pending, in_doubt: bool = False) -> None:
        self.pending.pop(uid, None)
        self.inflight[uid] = p.future
        params = p.req.canonical_params()
        started = self.feed.publish("started", uid, p.cmd.name, params, self.role.value)
        log.debug("forwarding uid %s (%s) seq %d in_doubt=%s", uid, p.cmd.name, started.seq, in_doubt)
        self._spawn(self._forward(uid, p, params, in_doubt, started.seq), f"forward-{uid}")

    async def _forward(self, uid: str, p: Pending, params: str, in_doubt: bool, started_seq: int) -> None:
        """Execute once. `in_doubt`: someone may already have sent it; ask the server before sending again.
        An idempotent action may be sent again (reported as a re-execution); any other never is."""
        loop = asyncio.get_running_loop()
        # A peer whose feed polls we refuse (a wrong peer_token) reads nothing of ours and never takes over (it sees
        # the refusal, see _watch_queue): waiting for its ack would stop every action, so we do not.
        refused = loop.time() - self.peer_poll_refused_at < 1.0
        following = self.feed.follower_alive(self.s.peer_lease) or bool(
            self.peer and self.peer.state.reachable and not refused
        )
        if self.peer is not None and following:
            # Write-ahead: a live peer must hold our "started" record before the action leaves, or our death
            # right after sending would leave it a uid it thinks nobody sent.
            t0 = loop.time()
            acked = await self.feed.wait_acked(started_seq, self.s.peer_lease)
            log.debug("uid %s seq %d acked=%s after %.1f ms", uid, started_seq, acked, (loop.time() - t0) * 1000)
            if not acked:
                # The peer is alive but cannot read our feed (a one-way cut of E): sending now could let it send the
                # same uid too. Withdraw the claim (nothing was sent) and let the action wait; the peer takes it
                # over, or we try again once it reads us.
                log.warning(
                    "peer manager did not confirm uid %s within %.1f s; not sent, kept waiting", uid, self.s.peer_lease
                )
                self._withdraw(uid, p, params)
                return
        if uid in self._peer_claims:
            # While we waited, the peer published its own claim of this uid: it may have sent it already.
            log.warning("peer manager claimed uid %s too; not sent by us, waiting for its answer", uid)
            self._withdraw(uid, p, params)
            return
        query = encode(p.req.command, p.req.params, uid)
        deadline = loop.time() + self.s.hold_timeout
        body = b""
        sends = 0
        try:
            while True:
                if in_doubt and sends >= 2:
                    code, body = self._in_doubt(uid, p, "two attempts got no answer")
                    break
                if in_doubt:
                    outcome = await self._settle_doubt(uid, p, deadline)
                    if outcome is not None:
                        code, body = outcome
                        break
                try:
                    sends += 1
                    body = await self.servers.execute(query, deadline)
                    code = parse_result(body).errorcode
                    self.counts.forwarded += 1
                    break
                except MaybeSent as exc:
                    log.warning("uid %s: %s", uid, exc.description)
                    in_doubt = True
            self.store.finish(uid, code, body)
            self.feed.publish("done", uid, p.cmd.name, params, self.role.value, code, body)
        except NotSent as exc:
            self.counts.not_executed += 1
            self.store.withdraw(uid, self.role.value)
            self.feed.publish("dropped", uid, p.cmd.name, params, self.role.value, exc.code)
            body = error_xml(exc)
        finally:
            self.inflight.pop(uid, None)
            self._peer_claims.pop(uid, None)
            if not p.future.done():
                p.future.set_result(body or error_xml(SenseError.of(ResultCode.GENERAL_ERROR, "forwarding stopped")))

    def _withdraw(self, uid: str, p: Pending, params: str) -> None:
        """Take back a claim that was never sent; the action waits again (for the peer's answer or a new try)."""
        self.inflight.pop(uid, None)
        self.store.withdraw(uid, self.role.value)
        self.feed.publish("dropped", uid, p.cmd.name, params, self.role.value)
        peer = self._peer_claims.pop(uid, None)
        if peer is not None:  # now the peer's claim is what we know of this uid
            self.store.learn(peer.uid, peer.command, peer.params, EntryState.STARTED, peer.origin, None, None)
        if not p.future.done():
            self.pending[uid] = p

    async def _settle_doubt(self, uid: str, p: Pending, deadline: float) -> tuple[int, bytes] | None:
        """An action that may have been executed: the answer to give, or None when it must be sent (again)."""
        executed = await self.servers.uid_executed(uid, deadline)
        if executed:
            self.counts.recovered += 1
            self._event(
                "ActionRecovered", f"uid {uid} ({p.cmd.name}) was in doubt; the server confirms it was executed", uid
            )
            return ResultCode.OK, result_xml(ResultCode.OK, "Ok")
        if p.cmd.idempotent:
            self.counts.reexecuted += 1
            self._event(
                "ActionReexecuted",
                f"uid {uid} ({p.cmd.name}) was in doubt and sets an absolute state: executed again",
                uid,
            )
            return None
        return self._in_doubt(uid, p, "a manager or server failed before it answered")

    def _in_doubt(self, uid: str, p: Pending, why: str) -> tuple[int, bytes]:
        self.counts.in_doubt += 1
        self._event(
            "ActionInDoubt", f"uid {uid} ({p.cmd.name}) may or may not have been executed: check it by hand", uid
        )
        return ResultCode.IN_DOUBT, result_xml(
            ResultCode.IN_DOUBT,
            f"action {p.cmd.name} with uid {uid} may or may not have been executed ({why}), and it is not safe "
            "to repeat automatically. Check the wall and repeat it by hand with a new uid if needed",
        )

    # -- the peer and the servers ----------------------------------------------------------------------

    def _peer_update(self, records: list[FeedRecord], state: PeerState) -> None:
        assert self.peer is not None
        back_to_failover = False
        for r in records:
            if r.kind == "started":
                if r.uid in self.inflight and r.origin != self.role.value:
                    self._peer_claims[r.uid] = r  # both claimed it; see _forward
                self.store.learn(r.uid, r.command, r.params, EntryState.STARTED, r.origin, None, None)
            elif r.kind == "done" and r.answer is not None:
                self.store.learn(
                    r.uid, r.command, r.params, EntryState.DONE, r.origin, r.errorcode, r.answer.encode("utf-8")
                )
            elif r.kind == "dropped":
                entry = self.store.get(r.uid)
                if (
                    entry is not None
                    and entry.state is EntryState.STARTED
                    and entry.origin == r.origin
                    and r.uid not in self.inflight
                ):
                    self.store.forget(r.uid)
            if self.role is Role.SECONDARY and self._newer_than_normal(r):
                back_to_failover = True
        if back_to_failover and self.state.mode is Mode.NORMAL and not self.state.fencing:
            self._set_mode(Mode.FAILOVER, "primary manager is sending status records again")
        if (
            self.role is Role.PRIMARY
            and self.fenced
            and state.mode == "failover"
            and self.peer.last_sent > self._fenced_at
        ):
            self.fenced = False
            self._event("ManagerMode", "primary manager forwards again: the secondary is back in failover mode")
        self.pump()

    def _newer_than_normal(self, r: FeedRecord) -> bool:
        assert self.peer is not None
        instance, seq = self.state.normal_from
        return self.peer.instance != instance or r.seq > seq

    def fence(self) -> dict[str, Any]:
        """The secondary asks us (the primary) to stop forwarding: it is going to normal mode."""
        self.fenced = True
        self._fenced_at = asyncio.get_running_loop().time()
        self._event("ManagerMode", "primary manager stops forwarding: the secondary manager takes over forwarding")
        return {"last": self.feed.last_seq, "instance": self.feed.instance}

    def _server_changed(self, reason: str) -> None:
        self._event("ActiveServerChanged", reason)
        self.pump()

    def _set_mode(self, mode: Mode, reason: str) -> None:
        if mode is self.state.mode:
            return
        self.state.mode, self.state.since, self.state.reason = mode, utc_now(), reason
        if mode is Mode.FAILOVER:
            # What waits now waits for the primary afresh: without this an old queue flips us straight back.
            now = asyncio.get_running_loop().time()
            for q in self.pending.values():
                q.at = now
        self.feed.publish("mode", "", mode.value, "", self.role.value)
        self._event("ManagerMode", f"{self.role.value} manager switched to {mode.value} mode: {reason}", mode.value)
        self.pump()

    async def _watch_queue(self) -> None:
        """The secondary's queue timeout; and a lapsed lease renewed at once when actions wait for it."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.02)
            if not self.pending:
                continue
            oldest = min(p.at for p in self.pending.values())
            if self.role is Role.SECONDARY:
                if (
                    self.state.mode is Mode.FAILOVER
                    and not self.state.fencing
                    and loop.time() - oldest > self.s.queue_timeout
                ):
                    if self.peer is not None and self.peer.state.refused:
                        # The primary refuses our token but is alive: taking over would execute its actions again.
                        self._answer_waiting_as_refused()
                    else:
                        uid = min(self.pending.items(), key=lambda kv: kv[1].at)[0]
                        await self._go_normal(f"uid {uid} waited {self.s.queue_timeout:.1f} s for the primary manager")
            elif self.peer is not None and not self.fenced and not self.peer.lease_valid(self.s.peer_lease):
                await self.peer.poll(0)
            self.pump()

    def _answer_waiting_as_refused(self) -> None:
        """Actions waiting past the queue timeout for a primary that refuses our token are answered (the console
        has the primary's answer) instead of piling up."""
        loop = asyncio.get_running_loop()
        for uid, p in list(self.pending.items()):
            if loop.time() - p.at > self.s.queue_timeout and not p.future.done():
                p.future.set_result(
                    error_xml(
                        SenseError.of(
                            ResultCode.NOT_AUTHORIZED,
                            "this secondary manager cannot follow the primary (it refused our peer_token), so it "
                            "does not act; the primary manager handles actions. Fix peer_token in the config",
                        )
                    )
                )
                self.pending.pop(uid, None)

    async def _go_normal(self, reason: str) -> None:
        assert self.peer is not None or self.role is Role.SECONDARY
        self.state.fencing = True
        try:
            last = await self.peer.fence() if self.peer else None
            how = "the primary manager stopped forwarding"
            if last is None:
                how = "the primary manager did not answer"
            else:
                loop = asyncio.get_running_loop()
                end = loop.time() + self.s.fence_timeout
                while self.peer is not None and self.peer.after < last and loop.time() < end:
                    await self.peer.poll(0)
            inst = self.peer.instance if self.peer else ""
            self.state.normal_from = (inst, self.peer.after if self.peer else 0)
        finally:
            self.state.fencing = False
        self._set_mode(Mode.NORMAL, f"{reason}; {how}")
