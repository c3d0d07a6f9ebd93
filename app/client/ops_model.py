"""The shared operator workflows as the console sees them (docs/workflows-protocol.md): alarms, tour runs, PTZ
control and the tour an operator defines. Plain dataclasses, no network, no Qt."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# PTZ actions that take control of a dome (gotoPreset and setPreset stay usable by every console).
STATES = ("new", "acknowledged", "closed")
PRIORITIES = ("high", "medium", "low")
DWELL_RANGE = (2.0, 3600.0)
PRESET_RANGE = (1, 64)
MAX_RUN = 40
MAX_ALARMS = 1000  # kept of one answer (after sorting): a flood the managers failed to group stays bounded here
MAX_TOURS = 200
STALL_GRACE = 10.0  # seconds (at least one dwell) a step may be late before the tour shows as stalled
MAX_PTZ = 500
MAX_STEPS = 200
MAX_TEXT = 500  # characters of any one field kept (titles, comments)
MAX_LINES = 40  # change lines of one poll; the rest are counted in one more line
_DECIMAL_ID = re.compile(r"^[0-9]{1,20}$")


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

    @property
    def late(self) -> float:
        """Seconds the next step is late (the poller counts `due` down between full reads)."""
        return -self.due

    @property
    def overdue(self) -> float:
        """Seconds a running tour's next step is late beyond a grace (a failover delays a step a few seconds);
        more than 0: nobody drives it (its console and the console's pair are gone)."""
        if self.state != "running":
            return 0.0
        return max(0.0, self.late - max(STALL_GRACE, self.dwell))


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
