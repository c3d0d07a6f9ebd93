"""OpsClient: the console's side of the shared operator workflows (docs/workflows-protocol.md). It polls the
managers' alarms, tour runs and PTZ control, tells subscribers what changed in words, applies each new alarm's
reactions once, drives the tours this console owns while it is in control, and marks its PTZ moves.

`from app.client.ops import OpsClient, OpsState, TourDefinition`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..sense import Result, ResultCode, SenseError
from ..sense.catalogue import PTZ_MOVES
from ..tasks import cancel_and_wait
from .ops_diff import bounded, diff_alarms, diff_ptz, diff_tours
from .ops_model import MAX_RUN, Alarm, OpsState, PtzControl, Reaction, TourDefinition, TourRun, TourStep
from .ops_parse import OpsParseError, parse_alarms, parse_ptz, parse_tours, revision_of
from .outcome import Outcome
from .uids import station_slug

if TYPE_CHECKING:
    from .redundant import RedundantClient

log = logging.getLogger(__name__)
OpsListener = Callable[[OpsState, list[str]], None]
POLL_INTERVAL = 0.5  # the protocol's: every console reads the shared state this often
REACTION_TRIES = 3  # a reaction no manager took (not sent, no answer) is sent again on the next polls
REACTIONS_PER_POLL = 10
MAX_REACTIONS = 20_000  # reaction uids remembered

__all__ = [
    "PTZ_MOVES",
    "Alarm",
    "OpsClient",
    "OpsListener",
    "OpsState",
    "PtzControl",
    "Reaction",
    "TourDefinition",
    "TourRun",
    "TourStep",
]


class OpsClient:
    """Start with `await start()`, end with `await close()`. `state` is replaced (never changed in place) after
    every poll, so a listener may keep the one it was given.

    Listeners: `subscribe(fn)`; fn(state, lines) after a poll that changed something (lines: what an operator
    reads, e.g. "alarm 3f2a9c1b… acknowledged by ws2: checked") or changed `state.error`."""

    def __init__(self, client: RedundantClient, station: str, owner: str, ptz_priority: int = 5) -> None:
        if not 1 <= ptz_priority <= 10:
            raise ValueError(f"the PTZ priority must be 1 to 10, not {ptz_priority}")
        self.client = client
        self.station = station
        self.owner = owner
        self.ptz_priority = ptz_priority
        self.interval = POLL_INTERVAL
        self.state = OpsState()
        self._listeners: list[OpsListener] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._polled = False
        self._stalled: dict[str, str] = {}  # run -> name of the running tours nobody steps
        self.clock: Callable[[], float] = time.monotonic
        # command -> (revision, clock() when read) of the last full list taken: the next read sends since=REV
        self._since: dict[str, tuple[str, float]] = {}
        self._tours_read: list[TourRun] = []  # tours and PTZ control as their last full list gave them: an
        self._ptz_read: dict[tuple[str, str], PtzControl] = {}  # unchanged answer counts their seconds down
        self._alarms_known = False  # the first usable getAlarms answer has been taken (the reactions' baseline)
        self._run_prefix = f"-{secrets.token_hex(4)}-t"
        self._runs = itertools.count(1)
        self._reactions: OrderedDict[str, int] = OrderedDict()  # uid -> tries; done when it reaches REACTION_TRIES
        self._stepping: set[str] = set()  # runs with a tourStep in flight
        self._sent_step: dict[str, int] = {}  # run -> the step this console last had executed
        self._step_tries: dict[tuple[str, int], int] = {}  # (run, step) -> uids spent on it (RUN-N, RUN-N-r1, …)
        self.applied: list[Outcome] = []  # reactions and tour steps this console sent, newest last (bounded)
        client.ptz_params = self.ptz_params  # every PTZ move the console sends carries console and priority

    # -- life ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll_loop(), name="ops-poll")

    async def close(self) -> None:
        if self.client.ptz_params == self.ptz_params:
            self.client.ptz_params = None
        await cancel_and_wait([self._poller, *self._tasks])
        self._poller = None

    def subscribe(self, listener: OpsListener) -> None:
        self._listeners.append(listener)

    def refresh(self) -> None:
        """Poll now (after an action of ours, so the state shows it at once)."""
        self._wake.set()

    # -- operator actions ------------------------------------------------------------------------------

    async def acknowledge(self, alarm_id: str, comment: str = "") -> Outcome:
        return await self._act("acknowledgeAlarm", alarmid=alarm_id, station=self.station, comment=comment or None)

    async def close_alarm(self, alarm_id: str, comment: str = "") -> Outcome:
        return await self._act("closeAlarm", alarmid=alarm_id, station=self.station, comment=comment or None)

    def new_run(self) -> str:
        """A run id: this station, a random part drawn at start and a counter; at most 40 characters."""
        suffix = f"{self._run_prefix}{next(self._runs)}"
        return station_slug(self.station)[: MAX_RUN - len(suffix)] + suffix

    async def start_tour(self, d: TourDefinition, divaid: str, layoutid: str, panelid: str) -> Outcome:
        """Start a tour this console (or its pair) owns and drives. A bad definition raises ValueError with the
        operator's words and nothing is sent; the run id is in the outcome's params["run"]."""
        d.validate()
        return await self._act(
            "startTour",
            run=self.new_run(),
            name=d.name.strip(),
            owner=self.owner,
            divaid=divaid,
            layoutid=layoutid,
            panelid=panelid,
            dwell=f"{d.dwell:g}",
            cameras=d.cameras_param(),
            station=self.station,
        )

    async def pause_tour(self, run: str) -> Outcome:
        return await self._act("pauseTour", run=run, station=self.station)

    async def resume_tour(self, run: str) -> Outcome:
        return await self._act("resumeTour", run=run, station=self.station)

    async def stop_tour(self, run: str) -> Outcome:
        return await self._act("stopTour", run=run, station=self.station)

    async def _act(self, command: str, **params: object) -> Outcome:
        o = await self.client.act(command, **params)
        self.refresh()
        return o

    # -- PTZ -------------------------------------------------------------------------------------------

    def holder(self, serverid: str, cameraid: str) -> PtzControl | None:
        """Who else steers this dome now: None when it is free or ours."""
        c = self.state.ptz.get((str(serverid), str(cameraid)))
        if c is None:
            c = next((x for (_s, cid), x in self.state.ptz.items() if cid == str(cameraid) and not serverid), None)
        return None if c is None or c.console == self.owner else c

    def ptz_params(self) -> dict[str, str]:
        """The extension parameters every PTZ move of this console carries. The console is named by its owner:
        the pair's name when paired (two workstations of one operator position steer a dome as one), else its
        station."""
        return {"console": self.owner, "priority": str(self.ptz_priority)}

    # -- polling ---------------------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:  # the poller outlives any answer; poll() already turns the known ones into error
                log.exception("ops poll failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    async def _read(self, command: str, **params: object) -> Result | str:
        try:
            return await self.client.read(command, **params)
        except Exception as exc:  # ActionError, a bad answer, anything: an error line, the last data kept
            return f"{command}: {exc}"[:300]

    async def poll(self) -> None:
        """Read the three lists, replace the state, tell the listeners, then act on it (reactions, tours)."""
        answers = await asyncio.gather(
            self._read("getAlarms", state="all", since=self._since_param("getAlarms")),
            self._read("getTours", since=self._since_param("getTours")),
            self._read("getPtzControl", since=self._since_param("getPtzControl")),
        )
        old = self.state
        new = OpsState(
            alarms=old.alarms,
            tours=old.tours,
            ptz=old.ptz,
            unacknowledged=old.unacknowledged,
            unacknowledged_high=old.unacknowledged_high,
            updated=old.updated,
        )
        errors: list[str] = []
        fresh = 0
        took_alarms = False
        parsers = (self._take_alarms, self._take_tours, self._take_ptz)
        for i, (answer, parse) in enumerate(zip(answers, parsers, strict=True)):
            if isinstance(answer, str):
                errors.append(answer)
                continue
            try:
                errors.extend(parse(new, answer))
                fresh += 1
                took_alarms = took_alarms or i == 0
            except (OpsParseError, SenseError, ValueError) as exc:
                errors.append(str(exc)[:300])
            except Exception as exc:  # an answer nobody foresaw: the last data stays, the poller goes on
                log.exception("unusable ops answer")
                errors.append(f"unusable answer ({type(exc).__name__}: {str(exc)[:200]})")
        if fresh:
            new.updated = time.time()
        new.error = "; ".join(errors)[:1000]
        first = not self._polled and bool(fresh)
        lines = diff_alarms(old.alarms, new.alarms, first=first) if new.alarms is not old.alarms else []
        if new.tours is not old.tours:
            lines += diff_tours(old.tours, new.tours)
        if new.ptz is not old.ptz:
            lines += diff_ptz(old.ptz, new.ptz)
        lines += self._stalls(new.tours)
        if fresh:
            self._polled = True
        if took_alarms and not self._alarms_known:
            self._alarms_known = True
            self._settle_reactions(new.alarms)
        self.state = new
        if lines or new.error != old.error or first:  # the first state, even a quiet one: "waiting" ends
            self._emit(new, bounded(lines))
        self._apply_reactions(new.alarms)
        self._drive_tours(new.tours)

    def _stalls(self, tours: list[TourRun]) -> list[str]:
        """A line when a running tour stops stepping (nobody drives it) and when it steps again."""
        stalled = {t.run: t for t in tours if t.overdue > 0}
        lines = [
            f"tour {t.name or run} stalled: no step for {round(t.late)} s ({t.owner or '?'} is not stepping it)"
            for run, t in stalled.items()
            if run not in self._stalled
        ]
        running = {t.run for t in tours if t.state == "running"}
        lines += [f"tour {name} steps again" for run, name in self._stalled.items() if run in running - stalled.keys()]
        self._stalled = {run: t.name or run for run, t in stalled.items()}
        return lines

    def _since_param(self, command: str) -> str | None:
        got = self._since.get(command)
        return got[0] if got else None

    def _revision(self, r: Result, tag: str, command: str) -> bool:
        """True when the answer says nothing changed since the revision we sent (keep what we have). A full list
        (with or without a revision: older managers ignore `since`) is taken by the caller; `_taken` then keeps
        its revision for the next read."""
        _rev, unchanged = revision_of(r, tag, command)
        if not unchanged:
            return False
        if command not in self._since:
            raise OpsParseError(f"{command} answered unchanged to a read without since; the last data is kept")
        return True

    def _taken(self, r: Result, tag: str, command: str) -> None:
        rev, _ = revision_of(r, tag, command)
        if rev is None:
            self._since.pop(command, None)
        else:
            self._since[command] = (rev, self.clock())

    def _elapsed(self, command: str) -> float:
        return max(0.0, self.clock() - self._since[command][1])

    def _take_alarms(self, s: OpsState, r: Result) -> list[str]:
        if self._revision(r, "alarms", "getAlarms"):
            return []  # s keeps the alarms and counts of the last full list
        s.alarms, s.unacknowledged, s.unacknowledged_high, notes = parse_alarms(r)
        self._taken(r, "alarms", "getAlarms")
        return notes

    def _take_tours(self, s: OpsState, r: Result) -> list[str]:
        if self._revision(r, "tours", "getTours"):
            # `due` was the seconds to the next step when the full list was read: count them down since.
            gone = self._elapsed("getTours")
            s.tours = [dataclasses.replace(t, due=t.due - gone) for t in self._tours_read]
            return []
        s.tours, notes = parse_tours(r)
        self._tours_read = s.tours
        self._taken(r, "tours", "getTours")
        return notes

    def _take_ptz(self, s: OpsState, r: Result) -> list[str]:
        if self._revision(r, "ptzcontrols", "getPtzControl"):
            gone = self._elapsed("getPtzControl")
            s.ptz = {
                k: dataclasses.replace(c, remaining=max(0, round(c.remaining - gone)))
                for k, c in self._ptz_read.items()
            }
            return []
        s.ptz, notes = parse_ptz(r)
        self._ptz_read = s.ptz
        self._taken(r, "ptzcontrols", "getPtzControl")
        return notes

    def _emit(self, state: OpsState, lines: list[str]) -> None:
        for line in lines:
            log.info("ops: %s", line)
        for fn in list(self._listeners):
            try:
                fn(state, lines)
            except Exception:  # a broken listener must not stop the poller
                log.exception("ops listener failed")

    # -- reactions -------------------------------------------------------------------------------------

    def _settle_reactions(self, alarms: list[Alarm]) -> None:
        """The alarms listed when this console first reads them were new before it (re)started: another console
        applied their reactions when they were raised, and applying them now would move the wall back to an old
        camera. Only alarms appearing after this baseline get their reactions from this console."""
        for a in alarms:
            for x in a.reactions:
                self._reactions[x.uid] = REACTION_TRIES

    def _apply_reactions(self, alarms: list[Alarm]) -> None:
        """Each reaction of an alarm still new that appeared after the first poll is sent once with its own uid:
        however many consoles send it, the managers execute it once."""
        if not self._alarms_known:
            return
        budget = REACTIONS_PER_POLL
        for a in alarms:
            if a.state != "new":
                continue
            for x in a.reactions:
                if budget <= 0:
                    return
                tries = self._reactions.get(x.uid, 0)
                if tries < 0 or tries >= REACTION_TRIES:
                    continue
                self._reactions[x.uid] = -1  # in flight
                budget -= 1
                self._spawn(self._react(x, tries))
        if len(self._reactions) > MAX_REACTIONS:
            # Forget the reactions of alarms no longer listed first: one still listed, forgotten, would be sent again.
            live = {x.uid for a in alarms for x in a.reactions}
            gone = [uid for uid in self._reactions if uid not in live]
            for uid in gone[: len(self._reactions) - MAX_REACTIONS]:
                del self._reactions[uid]
            while len(self._reactions) > MAX_REACTIONS:
                self._reactions.popitem(last=False)

    async def _react(self, x: Reaction, tries: int) -> None:
        o = await self.client.act_uid(x.uid, x.command, **x.params)
        self._keep(o)
        # An answer (whatever it says) settles it; no answer at all may be tried again with the same uid.
        self._reactions[x.uid] = REACTION_TRIES if o.result is not None else tries + 1

    # -- tours -----------------------------------------------------------------------------------------

    @property
    def in_control(self) -> bool:
        return self.client.view.peer.in_control

    def _drive_tours(self, tours: list[TourRun]) -> None:
        """Send the next step of each running tour this console owns, when due, while it is in control. The step
        number comes from the managers' record, so a console taking over neither repeats nor skips one."""
        if not self.in_control:
            return
        for t in tours:
            if t.owner != self.owner or t.state != "running" or t.run in self._stepping or not t.steps:
                continue
            if t.step < self._sent_step.get(t.run, -1):
                continue  # our step is executed but this answer predates it
            if t.due > 0:
                if t.due < self.interval:
                    self._stepping.add(t.run)
                    self._spawn(self._step(t, t.step + 1, delay=t.due))
                continue
            self._stepping.add(t.run)
            self._spawn(self._step(t, t.step + 1))

    async def _step(self, t: TourRun, n: int, delay: float = 0.0) -> None:
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            if not self.in_control:
                return
            tries = self._step_tries.get((t.run, n), 0)
            uid = f"{t.run}-{n}" if tries == 0 else f"{t.run}-{n}-r{tries}"
            o = await self.client.act_uid(uid, "tourStep", run=t.run, step=n)
            self._keep(o)
            if o.ok:
                self._sent_step[t.run] = n
                self._step_tries = {k: v for k, v in self._step_tries.items() if k[0] != t.run}
            elif o.errorcode == ResultCode.TOUR_STATE:
                log.info("tour %s: step %d refused (%s); reading the tours again", t.run, n, o.message)
            elif o.result is not None:
                # A final answer under this uid (expired: it could not run in time; in doubt: its manager died):
                # the uid is spent, so step N goes again under another. The managers record a step before they
                # show it, so the new uid runs only if N was not recorded: the tour neither stalls nor repeats.
                self._step_tries[(t.run, n)] = tries + 1
                log.info("tour %s: step %d not executed (%s); trying it again", t.run, n, o.message)
            self.refresh()
        finally:
            self._stepping.discard(t.run)

    # -- tasks -----------------------------------------------------------------------------------------

    def _keep(self, o: Outcome) -> None:
        self.applied.append(o)
        del self.applied[:-500]

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
