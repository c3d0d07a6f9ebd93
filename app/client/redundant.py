"""RedundantClient: every action to both managers at once with one uid, the first usable answer back, the
other answer still recorded; reads to the manager that executes now; a live SystemView; paired consoles."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import DEFAULTS
from ..sense import Result, SenseError, classify, encode, parse_result
from ..sense.catalogue import PTZ_MOVES
from ..tasks import cancel_and_wait
from .http import HttpLink, LinkError, MaybeSent
from .outcome import NOT_FINAL, ManagerAnswer, Outcome
from .pairing import PairLink, PairSettings
from .pictures import PICTURE_COMMANDS, ManagerOrder, Picture, PictureError, check_answer
from .uids import UidSource
from .view import Change, SystemView, now_text
from .watch import EventRecord, SystemWatch

log = logging.getLogger(__name__)
OutcomeListener = Callable[[Outcome], None]


class ActionError(Exception):
    """No manager could take the action; the message names each one and why."""


@dataclass
class ClientSettings:
    station: str
    managers: list[str]  # primary manager first
    servers: list[str] = field(default_factory=list)  # watched for the status strip (H, I)
    timeout: float = DEFAULTS.client_timeout
    pair: PairSettings | None = None
    verify: bool | str = True  # or the path of a CA bundle for https managers and servers
    token: str = field(default="", repr=False)  # sent to the managers only (X-SenseTwin-Token)
    ptz_priority: int = 5  # 1..10: a dome another console steers yields to a higher one (its PTZ moves carry it)


class RedundantClient:
    """The console's network side. Start with `await start()`, end with `await close()`."""

    def __init__(self, s: ClientSettings) -> None:
        if not s.managers:
            raise ValueError("at least one manager address is needed")
        self.s = s
        tokens = {m: s.token for m in s.managers}
        if s.pair:
            tokens[s.pair.peer_url] = s.pair.token
        self.http = HttpLink(s.timeout, verify=s.verify, tokens=tokens)
        self.uids = UidSource(s.station)
        self.watch = SystemWatch(self.http, s.managers, s.servers)
        self.pair = PairLink(s.pair, s.station, self.http, self._mirror, self._pair_changed) if s.pair else None
        self.outcomes: deque[Outcome] = deque(maxlen=2000)
        self._outcome_listeners: list[OutcomeListener] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._picture_order = ManagerOrder(DEFAULTS.picture_avoid)
        # Set by an OpsClient: the console and priority every PTZ move carries (docs/workflows-protocol.md).
        self.ptz_params: Callable[[], dict[str, str]] | None = None
        if self.pair:
            self.watch.view.peer.configured = True
            self.watch.view.peer.role = s.pair.role if s.pair else ""
            self.watch.view.peer.pair = s.pair.name if s.pair else ""

    async def start(self) -> None:
        self.watch.start()
        if self.pair:
            await self.pair.start()

    async def close(self) -> None:
        await cancel_and_wait(list(self._tasks))
        if self.pair:
            await self.pair.close()
        await self.watch.close()
        await self.http.close()

    # -- what the UI subscribes to ---------------------------------------------------------------------

    @property
    def view(self) -> SystemView:
        return self.watch.view

    @property
    def changes(self) -> list[Change]:
        """The last changes the watch saw, oldest first."""
        return self.watch.changes

    def subscribe(self, listener: Callable[[SystemView, list[Change]], None]) -> None:
        self.watch.subscribe(listener)

    def subscribe_outcomes(self, listener: OutcomeListener) -> None:
        self._outcome_listeners.append(listener)

    def subscribe_events(self, listener: Callable[[EventRecord], None]) -> None:
        self.watch.subscribe_events(listener)

    def _notify(self, o: Outcome) -> None:
        for fn in list(self._outcome_listeners):
            try:
                fn(o)
            except Exception:
                log.exception("outcome listener failed")

    # -- actions ---------------------------------------------------------------------------------------

    async def act(self, command: str, /, **params: object) -> Outcome:
        """Send an action to both managers with a new uid; the outcome says what happened (it never raises
        for a failed action: a failure is a value the UI shows)."""
        clean = {k: str(v) for k, v in params.items() if v is not None}
        if self.ptz_params is not None and command.lower() in PTZ_MOVES:
            clean = {**self.ptz_params(), **clean}
        o = Outcome(self.uids.next(), command, clean, now_text())
        if self.pair:
            self._spawn(self.pair.announce(o.uid, command, clean))
        await self._dispatch(o)
        return o

    async def act_uid(self, uid: str, command: str, /, **params: object) -> Outcome:
        """Send an action whose uid is given (an alarm's reaction, a tour's step): whichever consoles send it,
        it executes once. Not mirrored to the paired console, which sends the same uid itself."""
        clean = {k: str(v) for k, v in params.items() if v is not None}
        o = Outcome(uid, command, clean, now_text(), origin="ops")
        await self._dispatch(o)
        return o

    async def retry(self, o: Outcome) -> Outcome:
        """Send the same action again with the same uid: it cannot execute twice."""
        again = Outcome(o.uid, o.command, o.params, now_text(), o.origin)
        await self._dispatch(again)
        return again

    async def _mirror(self, uid: str, command: str, params: dict[str, str]) -> None:
        """The paired console took this action: send the very same command with the very same uid."""
        o = Outcome(uid, command, params, now_text(), origin="peer")
        await self._dispatch(o)

    async def _dispatch(self, o: Outcome) -> None:
        self.outcomes.append(o)
        query = encode(o.command, o.params, o.uid)
        tasks = {}
        for name, m in self.watch.view.managers.items():
            o.answers[name] = ManagerAnswer(name)
            tasks[name] = self._spawn(self._ask(o, name, m.url, query))
        self._notify(o)
        pending = set(tasks.values())
        while pending and o.result is None:
            _done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if o.result is None:
            o.failure = "; ".join(f"{a.manager} manager: {a.text()}" for a in o.answers.values())
            if all(not a.maybe_sent and a.state == "failed" for a in o.answers.values()):
                o.failure = "not sent — " + o.failure
        self._notify(o)

    async def _ask(self, o: Outcome, name: str, url: str, query: str) -> None:
        a = o.answers[name]
        t0 = time.perf_counter()
        try:
            reply = await self.http.get(f"{url}/command?{query}")
            result = parse_result(reply.body)
        except LinkError as exc:
            a.state, a.error, a.maybe_sent = "failed", exc.reason, isinstance(exc, MaybeSent)
        except SenseError as exc:
            a.state, a.error, a.maybe_sent = "failed", f"unusable answer ({exc.description})", True
        else:
            a.state, a.errorcode, a.description = "answered", result.errorcode, result.description
            if o.result is None and result.errorcode not in NOT_FINAL:
                o.result, o.first = result, name
        a.latency_ms = round((time.perf_counter() - t0) * 1000, 2)
        if all(x.state != "pending" for x in o.answers.values()):
            o.finished = True
        if o.result is not None or o.finished:
            self._notify(o)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- reads -----------------------------------------------------------------------------------------

    async def read(self, command: str, /, **params: object) -> Result:
        """A read, with a uid too, from the manager that executes now, falling back to the other."""
        if classify(command).is_action:
            raise ValueError(f"{command} is an action; use act()")
        query = encode(command, {k: v for k, v in params.items() if v is not None}, self.uids.next())
        managers = list(self.watch.view.managers.values())
        executing = self.watch.view.executing_manager
        if executing is not None:
            managers.sort(key=lambda m: m is not executing)
        errors = []
        for m in managers:
            try:
                r = parse_result((await self.http.get(f"{m.url}/command?{query}")).body)
            except (LinkError, SenseError) as exc:
                errors.append(f"{m.label}: {getattr(exc, 'reason', None) or getattr(exc, 'description', '')}")
                continue
            if r.errorcode in NOT_FINAL:
                errors.append(f"{m.label}: {r.message()}")
                continue
            return r
        raise ActionError(f"{command} failed on every manager — " + "; ".join(errors))

    # -- pictures --------------------------------------------------------------------------------------

    async def picture(
        self,
        command: str,
        params: Mapping[str, object],
        *,
        timeout: float = DEFAULTS.picture_timeout,
        max_bytes: int = DEFAULTS.picture_max_bytes,
    ) -> Picture:
        """A getLiveImage or getHistoricalImage answer, whole within `timeout` and at most `max_bytes`, from the
        manager that executes now, else the other; raises PictureError with the panel's words. The bytes are not
        decoded here."""
        if command not in PICTURE_COMMANDS:
            raise ValueError(f"{command} is not a picture command ({', '.join(PICTURE_COMMANDS)})")
        query = encode(command, {k: v for k, v in params.items() if v is not None}, self.uids.next())
        view = self.watch.view
        executing = view.executing_manager
        names = self._picture_order.order(list(view.managers), executing.name if executing else None)
        failures: list[PictureError] = []  # what a manager answered comes before what a link did
        for name in names:
            m = view.managers[name]
            t0 = time.perf_counter()
            try:
                reply = await self.http.get(
                    f"{m.url}/command?{query}", timeout=timeout, max_bytes=max_bytes, whole_within=timeout
                )
                check_answer(reply.body, reply.content_type)
            except LinkError as exc:
                self._picture_order.failed(name)
                failures.append(PictureError(_link_words(exc.reason), f"{m.label}: {exc.reason}"))
                continue
            except PictureError as exc:
                if exc.final:
                    self._picture_order.answered(name)
                    raise PictureError(exc.reason, f"{m.label}: {exc.detail}", exc.code, final=True) from None
                self._picture_order.failed(name)
                failures.insert(0, PictureError(exc.reason, f"{m.label}: {exc.detail}", exc.code))
                continue
            self._picture_order.answered(name)
            latency = round((time.perf_counter() - t0) * 1000, 2)
            return Picture(reply.body, reply.content_type.split(";")[0].strip(), name, latency)
        if not failures:
            raise PictureError("no manager configured")
        raise PictureError(failures[0].reason, "; ".join(sorted(f.detail for f in failures)), failures[0].code)

    # -- the pair --------------------------------------------------------------------------------------

    def _pair_changed(self, reachable: bool, station: str, reason: str) -> None:
        p = self.watch.view.peer
        was_in_control = p.in_control
        p.reachable, p.station, p.since = reachable, station or p.station, now_text()
        text = f"peer console {p.station or ''} {'is back' if reachable else 'is gone'}".replace("  ", " ")
        if reason:
            text += f" ({reason})"
        if p.in_control != was_in_control:
            text += "; this console " + ("has control" if p.in_control else "follows its primary again")
        self.watch.emit([Change(p.since, "peer console", text)])


def _link_words(reason: str) -> str:
    """A link failure in a panel's few words; the whole reason goes to the tooltip."""
    if reason.startswith("answer larger than"):
        return "picture too large (" + reason.removeprefix("answer larger than ").split(";")[0] + " limit)"
    if reason.startswith(("no answer", "answer not complete")):
        return "no answer in time"
    if reason.startswith(("cannot connect", "no connection")):
        return "manager unreachable"
    return "link failed"
