"""Tours (docs/workflows-protocol.md): a run of camera steps on one panel, started, paused, resumed, stopped and
stepped by the consoles, kept in etcd under `tour/`."""

from __future__ import annotations

import logging
import math
import re
import time
from typing import TYPE_CHECKING, Any

from ..sense import ResultCode, SenseError, el, encode, parse_result
from ..sense.xml import Element
from .etcd import EtcdError
from .ops import Change, ok, refuse, value_of
from .servers import MaybeSent, NotSent

if TYPE_CHECKING:
    from .ops import Ops

log = logging.getLogger(__name__)
_RUN_OK = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_NAME_OK = re.compile(r"^[^\x00-\x1f\x7f]{1,80}$")
MAX_STEPS = 200


class Tours:
    """The tour actions of one manager's Ops (each a read-modify-write of its run's key) and getTours."""

    def __init__(self, ops: Ops) -> None:
        self.ops = ops

    async def start(self, v: dict[str, object], station: str, uid: str) -> bytes:
        run = str(v["run"])
        if not _RUN_OK.fullmatch(run):
            raise refuse(ResultCode.TOUR_STATE, f"run {run[:60]!r} must be 1 to 40 letters, digits, - or _")
        ids = {k: str(v[k]).strip() for k in ("divaid", "layoutid", "panelid")}
        for k, x in ids.items():
            if not (x.isascii() and x.isdigit()):
                raise refuse(ResultCode.TOUR_STATE, f"{k} {x[:40]!r} is not a decimal id")
        try:
            dwell = int(str(v["dwell"]).strip())
        except ValueError:
            raise refuse(ResultCode.TOUR_STATE, f"dwell {str(v['dwell'])[:20]!r} is not whole seconds") from None
        if not 2 <= dwell <= 3600:
            raise refuse(ResultCode.TOUR_STATE, f"dwell {dwell} s is outside 2..3600 s")
        steps = self._steps(str(v["cameras"]))
        name = str(v.get("name") or run).strip()
        if not _NAME_OK.fullmatch(name):
            raise refuse(ResultCode.TOUR_STATE, "the tour's name must be 1 to 80 characters without control characters")
        now = time.time()
        value = {
            "run": run,
            "name": name,
            "owner": str(v.get("owner") or station)[:80],
            **ids,
            "dwell": dwell,
            "steps": steps,
            "state": "running",
            "step": -1,
            "at": now,
            "due_at": now,
            "left": 0.0,
            "by": station,
        }

        def decide(cur: dict[str, Any] | None) -> Change:
            if cur is not None:
                raise refuse(ResultCode.TOUR_STATE, f"tour run {run} was already started ({cur.get('state')})")
            return Change(value, ok(f"tour {name} started"))

        answer, _ = await self.ops.rmw("tour", run, uid, decide)
        return answer

    def _steps(self, text: str) -> list[dict[str, Any]]:
        steps = []
        for part in text.split(","):
            cam, _, preset = part.strip().partition(":")
            if not (cam.isascii() and cam.isdigit()) or (preset and not (preset.isascii() and preset.isdigit())):
                raise refuse(ResultCode.TOUR_STATE, f"cameras part {part[:40]!r} is not CAMERAID or CAMERAID:PRESET")
            if preset and not 1 <= int(preset) <= 64:
                raise refuse(ResultCode.TOUR_STATE, f"preset {preset} of camera {cam} is outside 1..64")
            serverid = self.ops.alarms.lists.serverid_of(cam)
            if serverid is None:
                raise refuse(ResultCode.TOUR_STATE, f"camera {cam} is not in the active server's device list")
            steps.append({"cameraid": str(int(cam)), "serverid": serverid, "preset": int(preset) if preset else 0})
        if not steps or len(steps) > MAX_STEPS:
            raise refuse(ResultCode.TOUR_STATE, f"a tour needs 1 to {MAX_STEPS} cameras (cameras=101,102:3,...)")
        return steps

    async def set_state(self, name: str, run: str, station: str, uid: str) -> bytes:
        lease = await self.ops.granted(self.ops.bucket_lease()) if name == "stoptour" else 0
        verb = {"pausetour": "paused", "resumetour": "running", "stoptour": "stopped"}[name]

        def decide(cur: dict[str, Any] | None) -> Change:
            if cur is None:
                raise refuse(ResultCode.TOUR_STATE, f"no tour run {run} (see getTours)")
            state = cur.get("state")
            title = f"tour {cur.get('name', run)}"
            if state == verb:
                return Change(None, ok(f"{title} is already {verb} (by {cur.get('by', '?')})"))
            if state == "stopped":
                raise refuse(ResultCode.TOUR_STATE, f"{title} is stopped; start a new run")
            new = {**cur, "state": verb, "by": station}
            now = time.time()
            if verb == "paused":
                new["left"] = max(0.0, float(cur.get("due_at", now)) - now)
            elif verb == "running":
                new["due_at"] = now + float(cur.get("left", 0.0))
            return Change(new, ok(f"{title} {verb}"), lease)

        answer, _ = await self.ops.rmw("tour", run, uid, decide)
        return answer

    async def step(self, v: dict[str, object], uid: str, deadline: float) -> bytes:
        """Record step N, then show its camera (and preset). Recorded first, so whatever fails after it the tour
        goes on from N + 1 and no step runs twice: another uid for step N (a console trying again after this one
        expired or came back in doubt) is refused once N is recorded, and a manager that held this uid and wakes
        up late finds N recorded by someone else and shows nothing. The camera switch carries this uid, so the
        server tells whether it ran when the answer is lost. A switch that fails leaves step N unshown (the
        failure is the answer); the tour does not wait on it."""
        run, n = str(v["run"]), int(str(v["step"]))
        key = self.ops.key("tour", run)
        written: dict[str, Any] = {}
        before: dict[str, Any] = {}

        def decide(cur: dict[str, Any] | None) -> Change:
            if cur is None:
                raise refuse(ResultCode.TOUR_STATE, f"no tour run {run} (see getTours)")
            step, state = int(cur.get("step", -1)), cur.get("state")
            if state != "running":
                raise refuse(ResultCode.TOUR_STATE, f"tour {cur.get('name', run)} is {state}; no step executes")
            if n != step + 1:
                raise refuse(
                    ResultCode.TOUR_STATE, f"step {n} of tour run {run} is out of order: the next step is {step + 1}"
                )
            now = time.time()
            before.update(step=step, at=cur.get("at", now), due_at=cur.get("due_at", now))
            written.update(cur, step=n, at=now, due_at=now + float(cur.get("dwell", 10)))
            return Change(dict(written), b"", 0)

        _, recorded = await self.ops.rmw("tour", run, uid, decide)
        if not recorded:  # pragma: no cover - decide refuses or writes; rmw raises when it cannot write
            raise refuse(ResultCode.TOUR_STATE, f"step {n} of tour run {run} was not recorded")
        tour = written
        if not tour:  # an earlier attempt of this uid recorded the step: show it (again)
            try:
                tour = value_of(await self.ops.client.get(key)) or {}
            except EtcdError as exc:
                raise self.ops.not_written(exc, False) from None
        steps = tour.get("steps") or []
        if not steps:
            raise refuse(ResultCode.TOUR_STATE, f"tour run {run} has no steps")
        try:
            return await self._switch(tour, steps[n % len(steps)], uid, deadline)
        except NotSent:
            if written:  # recorded by this call, certainly not shown: the console's next uid for step N shows it
                await self._unrecord(run, n, uid, before)
            raise

    async def _unrecord(self, run: str, n: int, uid: str, before: dict[str, Any]) -> None:
        """Step N back to N - 1 (and its due time), while the run's record is still this uid's step N."""

        def decide(cur: dict[str, Any] | None) -> Change:
            if cur is None or cur.get("lastuid") != uid or int(cur.get("step", -1)) != n:
                return Change(None, b"")  # moved on (paused, stopped, stepped): leave it
            return Change({**cur, **before}, b"")

        try:
            await self.ops.rmw("tour", run, f"{uid}-undo", decide)
        except (NotSent, MaybeSent) as exc:  # step N stays recorded: the tour goes on from N + 1
            log.warning("tour run %s: step %d not shown, and it stays recorded (%s)", run, n, exc.description)

    async def _switch(self, tour: dict[str, Any], target: dict[str, Any], uid: str, deadline: float) -> bytes:
        cam = str(target["cameraid"])
        query = encode(
            "selectCamera",
            {
                "cameraview": f"cameraid:{cam}",
                "divaid": tour["divaid"],
                "layoutid": tour["layoutid"],
                "panelid": tour["panelid"],
            },
            uid,
        )
        body = await self.ops.m.servers.execute(query, deadline)
        preset = int(target.get("preset") or 0)
        if not preset or not parse_result(body).ok:
            return body
        params = {"cameraid": cam, "preset": preset}
        if target.get("serverid"):
            params = {"serverid": target["serverid"], **params}
        try:
            answer = parse_result(
                await self.ops.m.servers.execute(encode("gotoPreset", params, f"{uid}-p"), deadline + 0.5)
            )
        except SenseError as exc:  # the camera is shown; its preset is a detail the next round repeats
            return ok(f"Ok; preset {preset} of camera {cam} not recalled: {exc.description}")
        return body if answer.ok else ok(f"Ok; preset {preset} of camera {cam} not recalled: {answer.message()}")

    def xml(self) -> Element:
        now = time.time()
        rows = []
        for run, e in sorted(self.ops.cache["tour"].items()):
            t = e.value
            steps = [
                el(
                    "step",
                    None,
                    number=i,
                    cameraid=s.get("cameraid", ""),
                    serverid=s.get("serverid", ""),
                    **({"preset": s["preset"]} if s.get("preset") else {}),
                )
                for i, s in enumerate(t.get("steps") or [])
            ]
            state = str(t.get("state", ""))
            left = float(t.get("left", 0.0)) if state == "paused" else float(t.get("due_at", now)) - now
            rows.append(
                el(
                    "tour",
                    None,
                    *(el(k, t.get(k, "")) for k in ("name", "owner", "divaid", "layoutid", "panelid", "state")),
                    el("step", t.get("step", -1)),
                    el("steps", None, *steps, count=len(steps)),
                    el("dwell", t.get("dwell", "")),
                    el("due", 0 if state == "stopped" else math.ceil(left)),
                )
            )
            rows[-1].insert(0, el("run", run))
        return el("tours", None, *rows, count=len(rows))

    def changed(self, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        """Our cache saw a tour run change: the manager's event log tells it."""
        state = new.get("state")
        if old is not None and old.get("state") == state:
            return
        kind = {"running": "TourResumed" if old else "TourStarted", "paused": "TourPaused", "stopped": "TourStopped"}
        if state not in kind:
            return
        verb = {"TourStarted": "started", "TourResumed": "resumed", "TourPaused": "paused", "TourStopped": "stopped"}
        k = kind[str(state)]
        run = str(new.get("run", ""))
        self.ops.event(k, f"tour {new.get('name', run)} (run {run}) {verb[k]} by {new.get('by', '?')}", run)
