"""The manager's behaviour: each action executed once, whoever sends it how often, whatever part fails.

Safety is in etcd (coord.py): an action leaves this manager only after its claim on the uid won, and exactly one
claim can ever win. The seed's roles are the policy on top, deciding who tries first: the primary claims at once;
the secondary in failover mode queues each copy and answers it from the primary's `done`, claims itself only when
nobody claimed the uid within the queue timeout (and is then in normal mode), and goes back to failover mode when
the primary's claims appear again. Every action has a deadline from its arrival: one not sent by then is written
`expired`, so no manager can execute it late.
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
from ..security import RateLimit, client_tls, etcd_tls
from ..sense import Command, CommandRequest, ResultCode, SenseError, encode, error_xml, parse_result, result_xml
from ..sense.events import EventLog, utc_now
from ..sense.login import Login
from ..tasks import cancel_and_wait
from .coord import Coordination, UidRecord
from .etcd import EtcdClient, EtcdError, EtcdUnknown
from .ops import Ops
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
    answered_from_peer: int = 0
    in_doubt: int = 0
    reexecuted: int = 0
    recovered: int = 0  # in doubt, but the server confirmed it was executed
    unprotected: int = 0
    reads: int = 0
    not_executed: int = 0
    expired: int = 0
    rate_limited: int = 0
    refused: int = 0  # requests without a valid token
    claims: int = 0
    claims_lost: int = 0
    etcd_errors: int = 0


@dataclass
class Pending:
    """One uid this manager was asked for and has not answered yet (copies of it share the future)."""

    req: CommandRequest
    cmd: Command
    params: str
    future: asyncio.Future[bytes]
    at: float  # loop time of the first copy's arrival
    deadline: float  # loop time after which it is never sent
    unsure: bool = False  # a claim of ours whose outcome etcd did not tell
    source: str = ""  # who sent the first copy (its token's name, else its address): the PTZ priority limit


@dataclass
class ModeState:
    mode: Mode
    since: str = ""
    reason: str = "starting"
    history: list[str] = field(default_factory=list)


class Manager:
    def __init__(self, s: ManagerSettings, events: EventLog) -> None:
        self.s = s
        self.role = s.role
        self.events = events
        self.counts = Counts()
        # The CAs trusted for https servers; None: the system's. Every upstream session uses it.
        self.tls = tls = client_tls(s.ca_bundle) if s.ca_bundle else None
        login = Login(s.server_user, str(s.server_password)) if s.server_user else None
        self.servers = ServerFollower(
            s.servers, s.server_poll, s.upstream_timeout, self._server_changed, tls=tls, login=login
        )
        self.etcd = EtcdClient(
            s.etcd,
            s.etcd_timeout,
            tls=etcd_tls(s.etcd_ca or s.ca_bundle, s.etcd_cert, s.etcd_key) if s.etcd_tls_needed else None,
            user=s.etcd_user,
            password=str(s.etcd_password),
        )
        self.coord = Coordination(
            self.etcd,
            s.etcd_prefix,
            s.site,
            s.role.value,
            s.etcd_ttl,
            s.dedup_window,
            s.dedup_capacity,
            s.state_dir,
            self._coord_changed,
            create_site=s.role is Role.PRIMARY,
        )
        self.state = ModeState(Mode.NORMAL if s.role is Role.PRIMARY else Mode.FAILOVER, since=utc_now())
        self.pending: dict[str, Pending] = {}
        self.inflight: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._resolver: asyncio.Task[None] | None = None
        self._unsure: dict[str, Pending] = {}  # claims whose outcome etcd did not tell, resolved once it answers
        self.rate = RateLimit(s.action_rate, s.action_burst)
        self._normal_since_revision = 0
        self.ops = Ops(self)  # alarms, tours, PTZ control: actions of ours, executed in this uid machinery

    # -- life cycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.etcd.start()
        try:
            if self.s.etcd_user:
                await self.etcd.authenticate()
            self.coord.mode = (self.state.mode.value, self.state.since, self.state.reason)
            await self.coord.start(self.s.etcd_start_wait)
        except BaseException:
            await self.etcd.close()
            raise
        await self.servers.start()
        await self.ops.start()
        self._resolver = asyncio.create_task(self._resolve_unsure(), name="unsure-claims")

    async def close(self) -> None:
        await cancel_and_wait([*self._tasks, self._resolver])
        await self.ops.close()
        await self.coord.close()
        await self.servers.close()
        await self.etcd.close()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- what the outside sees -------------------------------------------------------------------------

    @property
    def mode_label(self) -> str:
        return self.state.mode.value

    def may_forward(self) -> bool:
        """Whether this manager is the one that executes new actions now: the primary, or the secondary in normal
        mode or with no live primary in etcd (it claims each action after the queue timeout); and it can (etcd
        usable, an active server)."""
        executes = self.role is Role.PRIMARY or self.state.mode is Mode.NORMAL or self.coord.peer() is None
        return executes and self.coord.health.ok and self.servers.active is not None

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
            if self.ops.needs_uid(cmd):
                raise SenseError.of(
                    ResultCode.UID_REQUIRED,
                    f"{cmd.name} changes the control room's shared state and needs a uid (add uid=UNIQUE_VALUE)",
                )
            if self.role is Role.SECONDARY and self.state.mode is Mode.FAILOVER:
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
        rec = self.coord.cached(req.uid)
        if rec is not None:
            self._check_same(req.uid, rec.command, rec.params, cmd.name, params)
            if rec.final and rec.answer is not None:
                self.counts.deduplicated += 1
                return rec.answer
        p = self.pending.get(req.uid)
        if p is None:
            # Only a uid new to this manager counts: copies of one action (retries, the peer console) are free.
            self._check_rate(f"station {req.uid.rsplit('-', 2)[0][:40]!r} ({source or 'unknown'})")
            now = loop.time()
            p = Pending(req, cmd, params, loop.create_future(), now, now + self.s.hold_timeout, source=source)
            self.pending[req.uid] = p
            self._spawn(self._handle(req.uid, p), f"action-{req.uid}")
        else:
            self._check_same(req.uid, p.cmd.name, p.params, cmd.name, params)
            self.counts.deduplicated += 1
        return await self._wait(p.future)

    @staticmethod
    def _check_same(uid: str, was_command: str, was_params: str, command: str, params: str) -> None:
        """The uid was first used for (was_command, was_params): another action under it is a UID_CONFLICT."""
        if was_command != command or was_params != params:
            raise SenseError.of(
                ResultCode.UID_CONFLICT,
                f"uid {uid!r} was used for {was_command} with other parameters; each action needs its own uid",
            )

    async def _wait(self, fut: asyncio.Future[bytes]) -> bytes:
        try:
            return await asyncio.wait_for(asyncio.shield(fut), self.s.answer_timeout)
        except TimeoutError:
            raise SenseError.of(
                ResultCode.UPSTREAM_FAILED,
                f"no answer within {self.s.answer_timeout:.1f} s; the action may still be executed. "
                "Do not send it again with a new uid; check its result on the wall",
            ) from None

    async def read(self, req: CommandRequest) -> tuple[bytes, str]:
        """A read, forwarded to the active server: its answer and content type (a picture passes untouched).
        The shared workflows' reads (getAlarms...) are answered by this manager itself."""
        self.counts.reads += 1
        if self.ops.answers(req):
            return self.ops.read(req), "text/xml"
        deadline = asyncio.get_running_loop().time() + self.s.hold_timeout
        try:
            return await self.servers.fetch(encode(req.command, req.params), deadline)
        except SenseError as exc:
            return error_xml(exc), "text/xml"

    async def _send(self, query: str, deadline: float) -> bytes:
        try:
            return await self.servers.execute(query, deadline)
        except SenseError as exc:
            return error_xml(exc)

    # -- one uid, from arrival to answer ---------------------------------------------------------------

    def _claims_now(self, p: Pending, now: float) -> bool:
        if self.role is Role.PRIMARY or self.state.mode is Mode.NORMAL:
            return True
        return now - p.at >= self.s.queue_timeout

    async def _handle(self, uid: str, p: Pending) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not p.future.done():
                now = loop.time()
                rec = self.coord.cached(uid)
                if p.unsure:
                    rec = await self._reread(uid, p)
                    if p.unsure:
                        if now > p.deadline:
                            self._answer(
                                p,
                                self._unavailable(
                                    f"etcd did not confirm this manager's claim ({self.etcd.last_error})"
                                ),
                            )
                            return
                        await asyncio.sleep(0.05)
                        continue
                if rec is not None:
                    self._check_same_rec(p, rec)
                    if p.future.done():
                        return
                    if rec.final:
                        if rec.by != self.role.value:
                            self.counts.answered_from_peer += 1
                        self._answer(p, rec.answer or self._not_executed(rec))
                        return
                    if rec.instance == self.coord.instance:
                        await self._execute(uid, p, rec)
                        return
                    if not self.coord.alive(rec.instance):
                        await self._in_doubt_of_dead(uid, p, rec)
                        continue
                    # Claimed by the live peer: its done (or its death) will come through the watch.
                    # Until its done, or its liveness lapses (then it is in doubt, settled once for every copy).
                    patience = max(p.deadline + self.s.upstream_timeout, p.at + self.s.etcd_ttl) + 0.5
                    await self.coord.wait_change(uid, max(0.05, patience - now))
                    if loop.time() > patience:
                        self._answer(p, self._peer_slow(rec))
                        return
                    continue
                if now > p.deadline:
                    await self._expire(uid, p)
                    continue
                if not self._claims_now(p, now):
                    await self.coord.wait_change(uid, p.at + self.s.queue_timeout - now)
                    continue
                if self.servers.active is None:
                    # No server to send to: claiming now would only keep the uid from a manager that has one.
                    await self.servers.wait_change(min(self.s.server_poll, max(0.01, p.deadline - now)))
                    continue
                taking_over = self.role is Role.SECONDARY and self.state.mode is Mode.FAILOVER
                if await self._claim(uid, p) and taking_over:
                    # Only a won claim says the primary is not claiming: a lost one was the primary's, just slow.
                    self._set_mode(Mode.NORMAL, f"uid {uid} waited {self.s.queue_timeout:.1f} s and nobody claimed it")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("uid %s: handling failed", uid)
            self._answer(p, error_xml(SenseError.of(ResultCode.GENERAL_ERROR, "the manager failed; see its log")))
        finally:
            if self.pending.get(uid) is p:
                self.pending.pop(uid, None)
            if p.unsure:
                self._unsure[uid] = p

    def _check_same_rec(self, p: Pending, rec: UidRecord) -> None:
        try:
            self._check_same(rec.uid, rec.command, rec.params, p.cmd.name, p.params)
        except SenseError as exc:
            self._answer(p, error_xml(exc))

    async def _reread(self, uid: str, p: Pending) -> UidRecord | None:
        try:
            rec = await self.coord.read(uid)
        except EtcdError:
            self.counts.etcd_errors += 1
            return None
        p.unsure = False
        return rec

    async def _claim(self, uid: str, p: Pending) -> bool:
        """Try to win the uid; True when we did (the caller's loop then executes it from the cached record)."""
        self.counts.claims += 1
        try:
            result = await self.coord.claim(uid, p.cmd.name, p.params)
        except EtcdUnknown as exc:
            self.counts.etcd_errors += 1
            log.warning("uid %s: claim outcome unknown (%s); reading it again", uid, exc)
            p.unsure = True
            return False
        except EtcdError as exc:
            self.counts.etcd_errors += 1
            loop = asyncio.get_running_loop()
            if loop.time() + 0.1 > p.deadline:
                self._answer(p, self._unavailable(str(exc)))
                return False
            await asyncio.sleep(0.05)
            return False
        if not result.won:
            self.counts.claims_lost += 1
        return result.won

    def _unavailable(self, why: str) -> bytes:
        self.counts.not_executed += 1
        return error_xml(
            SenseError.of(
                ResultCode.COORDINATION_UNAVAILABLE,
                f"not executed: the managers' etcd cluster cannot be used ({why}). Without etcd no manager executes "
                "actions, so nothing runs twice; check that at least two of the three etcd members run and reach "
                "each other",
            )
        )

    def _not_executed(self, rec: UidRecord) -> bytes:
        return result_xml(ResultCode.EXPIRED, f"action {rec.command} with uid {rec.uid} was not executed in time")

    def _peer_slow(self, rec: UidRecord) -> bytes:
        return error_xml(
            SenseError.of(
                ResultCode.UPSTREAM_FAILED,
                f"the {rec.by} manager claimed uid {rec.uid} and has not finished it; its answer counts "
                "(do not send it again with a new uid)",
            )
        )

    def _answer(self, p: Pending, body: bytes) -> None:
        if not p.future.done():
            p.future.set_result(body)

    async def _expire(self, uid: str, p: Pending) -> None:
        """The deadline passed and nobody claimed the uid: write it expired, so no manager executes it late."""
        why = "no active Sense server" if self.servers.active is None else "it waited too long"
        body = result_xml(
            ResultCode.EXPIRED,
            f"action {p.cmd.name} with uid {uid} was not executed: {why} within "
            f"{self.s.hold_timeout:.1f} s. It will not run later; send it again if still needed",
        )
        try:
            result = await self.coord.expire_unclaimed(uid, p.cmd.name, p.params, ResultCode.EXPIRED, body)
        except EtcdUnknown:
            self.counts.etcd_errors += 1
            p.unsure = True  # our `expired` may be there: read it again
            return
        except EtcdError as exc:
            self.counts.etcd_errors += 1
            self._answer(p, self._unavailable(str(exc)))
            return
        if result.won:
            self.counts.expired += 1
            self.counts.not_executed += 1
            self._answer(p, body)

    async def _execute(self, uid: str, p: Pending, rec: UidRecord, maybe_sent: bool = False) -> None:
        """Send the uid we hold; answer; then write `done` (the peer answers its copies from it).
        `maybe_sent`: a manager that died may have sent it already (we took its claim over)."""
        in_doubt = False
        loop = asyncio.get_running_loop()
        self.inflight.add(uid)
        try:
            if loop.time() > p.deadline and not maybe_sent:
                await self._settle(rec, "expired", ResultCode.EXPIRED, self._not_executed(rec), p)
                return
            query = encode(p.req.command, p.req.params, uid)
            sends = 0
            body = b""
            while True:
                if in_doubt and sends >= 2:
                    code, body = self._in_doubt_answer(uid, p, "two attempts got no answer")
                    break
                if in_doubt:
                    outcome = await self._settle_doubt(uid, p, p.deadline + self.s.upstream_timeout)
                    if outcome is not None:
                        code, body = outcome
                        break
                try:
                    sends += 1
                    if self.ops.handles(p.cmd, p.req):
                        body = await self.ops.execute(p.req, p.cmd, uid, p.deadline, p.source)
                    else:
                        body = await self.servers.execute(query, p.deadline)
                    code = parse_result(body).errorcode
                    self.counts.forwarded += 1
                    break
                except MaybeSent as exc:
                    log.warning("uid %s: %s", uid, exc.description)
                    in_doubt = maybe_sent = True
                except NotSent as exc:
                    if maybe_sent:
                        # An earlier copy may still be in a server's socket (a paused server runs it when it goes on):
                        # "not executed" would be false, and an operator would click again.
                        code, body = self._in_doubt_answer(
                            uid, p, f"the first send got no answer, then {exc.description}"
                        )
                        break
                    self.counts.not_executed += 1
                    body = result_xml(
                        ResultCode.EXPIRED,
                        f"action {p.cmd.name} with uid {uid} was not executed: {exc.description}. It will not run "
                        "later; send it again if still needed",
                    )
                    await self._settle(rec, "expired", ResultCode.EXPIRED, body, p)
                    return
            self._answer(p, body)
            await self._settle(rec, "done", code, body, p)
        finally:
            self.inflight.discard(uid)

    async def _settle(self, rec: UidRecord, state: str, code: int, body: bytes, p: Pending) -> None:
        """Write done/expired, trying until etcd takes it (copies wait for it); answer `p` with what holds."""
        loop = asyncio.get_running_loop()
        end = loop.time() + max(30.0, self.s.dedup_window / 10)
        while True:
            try:
                final = await self.coord.settle(rec, state, code, body)
                self._answer(p, final.answer or body)
                return
            except EtcdError as exc:
                self.counts.etcd_errors += 1
                if loop.time() > end:
                    log.error(
                        "uid %s: could not write %s to etcd (%s); copies will see it in doubt", rec.uid, state, exc
                    )
                    self._answer(p, body)
                    return
                self._answer(p, body)
                await asyncio.sleep(0.1)
                fresh = await self._reread(rec.uid, p)
                if fresh is not None and (fresh.final or fresh.instance != self.coord.instance):
                    return
                if fresh is not None:
                    rec = fresh

    async def _in_doubt_of_dead(self, uid: str, p: Pending, rec: UidRecord) -> None:
        """`rec` was claimed by a manager process that is gone and never wrote done: it may have been sent."""
        loop = asyncio.get_running_loop()
        executed = await self.servers.uid_executed(uid, loop.time() + self.s.upstream_timeout * 2)
        if executed:
            self._recovered(uid, p)
            await self._settle_other(rec, ResultCode.OK, result_xml(ResultCode.OK, "Ok"), p)
            return
        # Executing it again makes sense only while the console still waits for the answer (an action run after the
        # console gave up on it can undo the operator's next choice): otherwise it is in doubt, for every copy.
        in_time = loop.time() + self.s.upstream_timeout < p.at + DEFAULTS.client_timeout - 0.1
        if p.cmd.idempotent and in_time:
            try:
                mine = await self.coord.take_over(rec)
            except EtcdError:
                self.counts.etcd_errors += 1
                await asyncio.sleep(0.05)
                return
            if mine is None:
                return  # someone else settled or took it: look again
            self._reexecuted(uid, p)
            p.deadline = max(p.deadline, loop.time() + self.s.upstream_timeout)
            await self._execute(uid, p, mine, maybe_sent=True)
            return
        code, body = self._in_doubt_answer(uid, p, f"the {rec.by} manager that claimed it stopped before it answered")
        await self._settle_other(rec, code, body, p)

    async def _settle_other(self, rec: UidRecord, code: int, body: bytes, p: Pending) -> None:
        try:
            final = await self.coord.settle(rec, "done", code, body)
        except EtcdError:
            self.counts.etcd_errors += 1
            await asyncio.sleep(0.05)
            return
        self._answer(p, final.answer or body)

    async def _settle_doubt(self, uid: str, p: Pending, deadline: float) -> tuple[int, bytes] | None:
        """An action of ours that may have been executed: the answer to give, or None when it must be sent again."""
        executed = await self.servers.uid_executed(uid, deadline)
        if executed:
            self._recovered(uid, p)
            return ResultCode.OK, result_xml(ResultCode.OK, "Ok")
        if p.cmd.idempotent:
            self._reexecuted(uid, p)
            return None
        return self._in_doubt_answer(uid, p, "a manager or server failed before it answered")

    def _recovered(self, uid: str, p: Pending) -> None:
        self.counts.recovered += 1
        self._event(
            "ActionRecovered", f"uid {uid} ({p.cmd.name}) was in doubt; the server confirms it was executed", uid
        )

    def _reexecuted(self, uid: str, p: Pending) -> None:
        self.counts.reexecuted += 1
        self._event(
            "ActionReexecuted", f"uid {uid} ({p.cmd.name}) was in doubt and sets an absolute state: executed again", uid
        )

    def _in_doubt_answer(self, uid: str, p: Pending, why: str) -> tuple[int, bytes]:
        self.counts.in_doubt += 1
        self._event(
            "ActionInDoubt", f"uid {uid} ({p.cmd.name}) may or may not have been executed: check it by hand", uid
        )
        return ResultCode.IN_DOUBT, result_xml(
            ResultCode.IN_DOUBT,
            f"action {p.cmd.name} with uid {uid} may or may not have been executed ({why}), and it is not safe "
            "to repeat automatically. Check the wall and repeat it by hand with a new uid if needed",
        )

    async def _resolve_unsure(self) -> None:
        """Claims of ours whose outcome etcd did not tell, whose copies were answered "not executed": once etcd
        answers, a claim that did win is written expired, so the uid never waits on us and never runs late."""
        while True:
            await asyncio.sleep(0.5)
            for uid in list(self._unsure):
                try:
                    rec = await self.coord.read(uid)
                except EtcdError:
                    break
                if rec is not None and rec.state == "claimed" and rec.instance == self.coord.instance:
                    try:
                        await self.coord.settle(rec, "expired", ResultCode.EXPIRED, self._not_executed(rec))
                    except EtcdError:
                        break
                self._unsure.pop(uid, None)

    # -- the coordination and the servers --------------------------------------------------------------

    def _coord_changed(self) -> None:
        """A watch event: the primary's claims bring the secondary back to failover mode."""
        if self.role is not Role.SECONDARY or self.state.mode is not Mode.NORMAL:
            return
        for rec in reversed(self.coord.records.values()):
            if rec.mod_revision <= self._normal_since_revision:
                break
            if rec.by == Role.PRIMARY.value and rec.state == "claimed":
                self._set_mode(Mode.FAILOVER, "the primary manager claims actions again")
                return

    def _server_changed(self, reason: str) -> None:
        self._event("ActiveServerChanged", reason)

    def _set_mode(self, mode: Mode, reason: str) -> None:
        if mode is self.state.mode:
            return
        self.state.mode, self.state.since, self.state.reason = mode, utc_now(), reason
        if mode is Mode.NORMAL:
            last = next(reversed(self.coord.records.values()), None)
            self._normal_since_revision = last.mod_revision if last else 0
        else:
            # What waits now waits for the primary afresh: without this an old queue flips us straight back.
            now = asyncio.get_running_loop().time()
            for q in self.pending.values():
                q.at = min(now, q.deadline - self.s.queue_timeout) if q.deadline > now else q.at
        self._spawn(self.coord.publish_mode(mode.value, self.state.since, reason), "publish-mode")
        self._event("ManagerMode", f"{self.role.value} manager switched to {mode.value} mode: {reason}", mode.value)
