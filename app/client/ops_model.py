"""The shared operator workflows as the console sees them (docs/workflows-protocol.md): alarms, tour runs and PTZ
control, parsed from the managers' getAlarms / getTours / getPtzControl answers, sorted, and compared poll to poll
into the lines an operator reads. Plain dataclasses, no network, no Qt."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from ..sense import Result
from ..sense.xml import Element

# PTZ actions that take control of a dome (gotoPreset and setPreset stay usable by every console).
PTZ_MOVES = frozenset({"setrelativeposition", "setabsoluteposition", "holdposition", "setposition"})
STATES = ("new", "acknowledged", "closed")
PRIORITIES = ("high", "medium", "low")
DWELL_RANGE = (2.0, 3600.0)
PRESET_RANGE = (1, 64)
MAX_RUN = 40
MAX_ALARMS = 1000  # kept of one answer (after sorting): a flood the managers failed to group stays bounded here
MAX_TOURS = 200
MAX_PTZ = 500
MAX_STEPS = 200
MAX_TEXT = 500  # characters of any one field kept (titles, comments)
MAX_LINES = 40  # change lines of one poll; the rest are counted in one more line
_RUN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_DECIMAL_ID = re.compile(r"^[0-9]{1,20}$")


class OpsParseError(ValueError):
    """A manager's answer is not usable as a whole; the message says which and why."""


@dataclass
class Reaction:
    uid: str
    command: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Alarm:
    id: str
    type: str = ""
    priority: str = "low"  # high | medium | low
    title: str = ""
    serverid: str = ""
    cameraid: str = ""
    time: str = ""  # UTC "YYYY-MM-DD HH:MM:SS"
    state: str = "new"  # new | acknowledged | closed
    ackedby: str = ""
    ackedat: str = ""
    comment: str = ""
    closedby: str = ""
    closedat: str = ""
    count: int = 1
    lasttime: str = ""
    flood: bool = False
    reactions: list[Reaction] = field(default_factory=list)

    @property
    def short(self) -> str:
        return self.id[:8] + "…" if len(self.id) > 8 else self.id

    @property
    def open(self) -> bool:
        return self.state != "closed"


@dataclass
class TourStep:
    number: int
    cameraid: str
    serverid: str = ""
    preset: int | None = None


@dataclass
class TourRun:
    run: str
    name: str = ""
    owner: str = ""
    divaid: str = ""
    layoutid: str = ""
    panelid: str = ""
    state: str = "running"  # running | paused | stopped
    step: int = -1  # the last executed step number, -1 before the first
    steps: list[TourStep] = field(default_factory=list)
    dwell: float = 0.0
    due: float = 0.0  # seconds until the next step is due when read; <= 0: due now


@dataclass
class PtzControl:
    serverid: str
    cameraid: str
    console: str
    priority: int = 5
    remaining: int = 0  # whole seconds until it frees itself
    tookfrom: str = ""


@dataclass
class TourDefinition:
    """What an operator asks for: the cameras in order (each with an optional preset) and the dwell."""

    name: str
    cameras: list[tuple[str, int | None]] = field(default_factory=list)
    dwell: float = 10.0

    def validate(self) -> None:
        """Raise ValueError with a sentence the operator can act on."""
        if not self.name.strip():
            raise ValueError("the tour needs a name")
        if len(self.name) > 100:
            raise ValueError("the tour's name is longer than 100 characters")
        if not self.cameras:
            raise ValueError("the tour has no cameras: add at least one")
        if len(self.cameras) > MAX_STEPS:
            raise ValueError(f"the tour has {len(self.cameras)} cameras; at most {MAX_STEPS} are allowed")
        lo, hi = DWELL_RANGE
        if isinstance(self.dwell, bool) or not isinstance(self.dwell, int | float) or not lo <= self.dwell <= hi:
            raise ValueError(f"the dwell must be {lo:g} to {hi:g} seconds, not {self.dwell!r}")
        for i, (camera, preset) in enumerate(self.cameras, 1):
            if not isinstance(camera, str) or not _DECIMAL_ID.fullmatch(camera.strip()):
                raise ValueError(f"camera {i} of the tour: {str(camera)[:40]!r} is not a camera id (digits)")
            lo_p, hi_p = PRESET_RANGE
            bad_preset = isinstance(preset, bool) or not isinstance(preset, int) or not lo_p <= preset <= hi_p
            if preset is not None and bad_preset:
                raise ValueError(f"camera {i} of the tour ({camera}): preset {preset!r} is not {lo_p} to {hi_p}")

    def cameras_param(self) -> str:
        """The startTour `cameras` parameter: `101,102:3,103`."""
        return ",".join(c.strip() + (f":{p}" if p is not None else "") for c, p in self.cameras)

    @classmethod
    def parse_cameras(cls, text: str) -> list[tuple[str, int | None]]:
        """`101, 102:3` as an operator types it; ValueError names the part it cannot use."""
        out: list[tuple[str, int | None]] = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            camera, _, preset = part.partition(":")
            try:
                out.append((camera.strip(), int(preset) if preset.strip() else None))
            except ValueError:
                raise ValueError(f"{part[:40]!r}: the preset after ':' must be a number") from None
        return out


@dataclass
class OpsState:
    alarms: list[Alarm] = field(default_factory=list)  # sorted: new, acknowledged, closed; high first; newest first
    tours: list[TourRun] = field(default_factory=list)
    ptz: dict[tuple[str, str], PtzControl] = field(default_factory=dict)
    unacknowledged: int = 0
    unacknowledged_high: int = 0
    updated: float = 0.0  # time.time() of the last poll that gave usable data; 0 before the first
    error: str = ""  # why the last poll kept (some of) the previous data; "" when all is well

    def alarm(self, alarm_id: str) -> Alarm | None:
        return next((a for a in self.alarms if a.id == alarm_id), None)

    def tour(self, run: str) -> TourRun | None:
        return next((t for t in self.tours if t.run == run), None)


# -- parsing ---------------------------------------------------------------------------------------------


def _text(node: Element, tag: str) -> str:
    return (node.findtext(tag) or "").strip()[:MAX_TEXT]


def _int(value: str | None, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _float(value: str | None, default: float) -> float:
    try:
        f = float(str(value).strip())
    except (TypeError, ValueError):
        return default
    return f if f == f and abs(f) != float("inf") else default


def _container(r: Result, tag: str, command: str) -> Element:
    if not r.ok:
        raise OpsParseError(f"{command} answered {r.errorcode}: {r.message()[:200]}")
    node = r.root.find(tag)
    if node is None:
        raise OpsParseError(f"{command} answered without <{tag}>")
    return node


def sort_alarms(alarms: list[Alarm]) -> list[Alarm]:
    """New before acknowledged before closed, then high priority first, then newest first."""

    def rank(values: tuple[str, ...], v: str) -> int:
        return values.index(v) if v in values else len(values)

    by_time = sorted(alarms, key=lambda a: (a.time, a.id), reverse=True)
    return sorted(by_time, key=lambda a: (rank(STATES, a.state), rank(PRIORITIES, a.priority)))


def parse_alarms(r: Result) -> tuple[list[Alarm], int, int, list[str]]:
    """Alarms (sorted, at most MAX_ALARMS), unacknowledged, unacknowledged high, and notes on what was left out."""
    node = _container(r, "alarms", "getAlarms")
    notes: list[str] = []
    alarms: list[Alarm] = []
    skipped = 0
    for a in node.iterfind("alarm"):
        aid = _text(a, "id")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", aid):
            skipped += 1
            continue
        reactions = []
        for x in a.iterfind("reactions/reaction"):
            uid, command = x.get("uid", "").strip(), x.get("command", "").strip()
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", uid) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,39}", command):
                notes.append(f"alarm {aid[:8]}: a reaction without a usable uid or command was ignored")
                continue
            params = dict(parse_qsl(x.get("query", ""), keep_blank_values=True)[:32])
            reactions.append(Reaction(uid, command, params))
        alarms.append(
            Alarm(
                id=aid,
                type=_text(a, "type"),
                priority=_text(a, "priority").lower() or "low",
                title=_text(a, "title"),
                serverid=_text(a, "serverid"),
                cameraid=_text(a, "cameraid"),
                time=_text(a, "time"),
                state=_text(a, "state").lower() or "new",
                ackedby=_text(a, "ackedby"),
                ackedat=_text(a, "ackedat"),
                comment=_text(a, "comment"),
                closedby=_text(a, "closedby"),
                closedat=_text(a, "closedat"),
                count=max(1, _int(a.findtext("count"), 1)),
                lasttime=_text(a, "lasttime"),
                flood=_text(a, "flood").lower() == "true",
                reactions=reactions,
            )
        )
    if skipped:
        notes.append(f"getAlarms: {skipped} alarm(s) without a usable id were ignored")
    alarms = sort_alarms(alarms)
    if len(alarms) > MAX_ALARMS:
        notes.append(f"getAlarms listed {len(alarms)} alarms; the first {MAX_ALARMS} are shown")
        alarms = alarms[:MAX_ALARMS]
    unacked = sum(1 for a in alarms if a.state == "new")
    high = sum(1 for a in alarms if a.state == "new" and a.priority == "high")
    return alarms, _int(node.get("unacknowledged"), unacked), _int(node.get("unacknowledgedhigh"), high), notes


def parse_tours(r: Result) -> tuple[list[TourRun], list[str]]:
    node = _container(r, "tours", "getTours")
    notes: list[str] = []
    tours: list[TourRun] = []
    for t in node.iterfind("tour"):
        run = _text(t, "run")
        if not _RUN.fullmatch(run):
            notes.append(f"getTours: a tour with run {run[:40]!r} was ignored")
            continue
        steps = [
            TourStep(
                _int(s.get("number"), i),
                s.get("cameraid", "")[:40],
                s.get("serverid", "")[:40],
                _int(s.get("preset"), 0) or None,
            )
            for i, s in enumerate(t.iterfind("steps/step"))
            if i < MAX_STEPS
        ]
        tours.append(
            TourRun(
                run=run,
                name=_text(t, "name"),
                owner=_text(t, "owner"),
                divaid=_text(t, "divaid"),
                layoutid=_text(t, "layoutid"),
                panelid=_text(t, "panelid"),
                state=_text(t, "state").lower(),
                step=_int(t.findtext("step"), -1),
                steps=steps,
                dwell=_float(t.findtext("dwell"), 0.0),
                due=_float(t.findtext("due"), 0.0),
            )
        )
        if len(tours) >= MAX_TOURS:
            notes.append(f"getTours listed more than {MAX_TOURS} tours; the first {MAX_TOURS} are shown")
            break
    return tours, notes


def parse_ptz(r: Result) -> tuple[dict[tuple[str, str], PtzControl], list[str]]:
    node = _container(r, "ptzcontrols", "getPtzControl")
    notes: list[str] = []
    out: dict[tuple[str, str], PtzControl] = {}
    for p in node.iterfind("ptzcontrol"):
        sid, cid, console = _text(p, "serverid"), _text(p, "cameraid"), _text(p, "console")
        if not cid or not console:
            notes.append("getPtzControl: an entry without camera or console was ignored")
            continue
        out[(sid, cid)] = PtzControl(
            sid, cid, console, _int(p.findtext("priority"), 5), _int(p.findtext("remaining"), 0), _text(p, "tookfrom")
        )
        if len(out) >= MAX_PTZ:
            break
    return out, notes


# -- what changed ----------------------------------------------------------------------------------------


def _by(who: str, comment: str) -> str:
    return (f" by {who}" if who else "") + (f": {comment}" if comment else "")


def diff_alarms(old: list[Alarm], new: list[Alarm], first: bool = False) -> list[str]:
    """Lines for alarms raised, acknowledged, closed or grown (a flood) since the last poll. On the first poll
    only a summary: the operator did not miss these alarms being raised."""
    if first:
        open_ = [a for a in new if a.open]
        return [f"{len(open_)} open alarm(s)"] if open_ else []
    before = {a.id: a for a in old}
    lines = []
    for a in reversed(new):  # oldest first: they read in the order they happened
        b = before.get(a.id)
        where = f" on camera {a.cameraid}" if a.cameraid else ""
        if b is None:
            if a.state == "closed":
                continue
            lines.append(f"alarm {a.short} raised: {a.title or a.type} ({a.priority}){where}")
            if a.state == "acknowledged":
                lines.append(f"alarm {a.short} acknowledged{_by(a.ackedby, a.comment)}")
            continue
        if a.state != b.state:
            if a.state == "acknowledged":
                lines.append(f"alarm {a.short} acknowledged{_by(a.ackedby, a.comment)}")
            elif a.state == "closed":
                lines.append(f"alarm {a.short} closed{_by(a.closedby, a.comment)}")
            else:
                lines.append(f"alarm {a.short} is {a.state}")
        if a.count > b.count:
            lines.append(f"alarm {a.short}: {a.count} events (+{a.count - b.count})")
    return lines


def diff_tours(old: list[TourRun], new: list[TourRun]) -> list[str]:
    before = {t.run: t for t in old}
    lines = []
    for t in new:
        b = before.get(t.run)
        label = f"tour {t.name or t.run} ({t.run})"
        if b is None:
            if t.state != "stopped":
                lines.append(f"{label} started by {t.owner}: {len(t.steps)} camera(s), {t.dwell:g} s each")
            continue
        if t.state != b.state:
            lines.append(f"{label} {t.state}")
        if t.step != b.step and t.step >= 0 and t.steps:
            s = t.steps[t.step % len(t.steps)]
            lines.append(f"{label} step {t.step}: camera {s.cameraid}" + (f" preset {s.preset}" if s.preset else ""))
    return lines


def diff_ptz(old: dict[tuple[str, str], PtzControl], new: dict[tuple[str, str], PtzControl]) -> list[str]:
    lines = []
    for key, c in new.items():
        b = old.get(key)
        if b is None or b.console != c.console:
            took = f" from {c.tookfrom}" if c.tookfrom else ""
            lines.append(f"camera {c.serverid}/{c.cameraid} steered by {c.console} (priority {c.priority}){took}")
    for key, b in old.items():
        if key not in new:
            lines.append(f"camera {b.serverid}/{b.cameraid} is free (was {b.console})")
    return lines


def bounded(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return lines
    return [*lines[:MAX_LINES], f"… and {len(lines) - MAX_LINES} more change(s)"]
