"""The command catalogue: every Sense function the project uses, read or action, idempotent or not.

An unknown command is treated as a non-idempotent action: the safe assumption for deduplication.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from .codes import ResultCode
from .errors import SenseError

MAX_VALUE_LENGTH = 1024
_UINT64_MAX = 2**64 - 1


class Kind(enum.Enum):
    READ = "read"
    ACTION = "action"


class ParamType(enum.Enum):
    UID = "uid"  # decimal unsigned 64-bit, kept as a string
    INT = "int"
    STR = "str"
    BOOL = "bool"
    TIMESTAMP = "timestamp"  # yyyy-mm-dd hh:mm:ss, UTC
    CAMERAVIEW = "cameraview"


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    required: bool = False
    min: int | None = None
    max: int | None = None
    # The code a value outside min..max gets (presets have their own).
    range_code: ResultCode = ResultCode.VALUE_OUT_OF_RANGE
    # -1 ("all viewers") is allowed for this UID.
    allow_all: bool = False


@dataclass(frozen=True)
class Command:
    name: str
    kind: Kind
    idempotent: bool = True
    params: tuple[Param, ...] = ()
    # Groups of names of which exactly one is required (cameraid or deviceid, ...).
    one_of: tuple[tuple[str, ...], ...] = ()
    aliases: tuple[str, ...] = ()
    # Free-form parameters are passed on as they are (executeAction's action parameters).
    free_params: bool = False
    summary: str = ""
    known: bool = True
    _by_name: dict[str, Param] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({p.name: p for p in self.params})

    @property
    def is_action(self) -> bool:
        return self.kind is Kind.ACTION

    def param(self, name: str) -> Param | None:
        return self._by_name.get(name)


def _uid(name: str, required: bool = False, allow_all: bool = False) -> Param:
    return Param(name, ParamType.UID, required, allow_all=allow_all)


def _int(
    name: str, lo: int, hi: int, required: bool = False, code: ResultCode = ResultCode.VALUE_OUT_OF_RANGE
) -> Param:
    return Param(name, ParamType.INT, required, lo, hi, code)


_CAMERA = (_uid("serverid"), _uid("cameraid"), _uid("deviceid"))
_CAMERA_ONE_OF = (("cameraid", "deviceid"),)
_PAN_TILT = (-1800, 1800)
_LENS = (-1, 1000)
_SPEED = (-1000, 1000)
_AXES = ("pan", "tilt", "zoom", "focus", "iris")
_IMAGE_SIZE = (_int("imagewidth", 16, 1920), _int("imageheight", 16, 1920), Param("fittopanel", ParamType.BOOL))
# SenseTwin's PTZ control (docs/workflows-protocol.md): who moves a dome, stripped by the manager before forwarding.
_PTZ_CONTROL = (Param("console", ParamType.STR), _int("priority", 1, 10))


def _str(name: str, required: bool = False) -> Param:
    return Param(name, ParamType.STR, required)


_STATION = _str("station")

_COMMANDS: tuple[Command, ...] = (
    Command("getDivaList", Kind.READ, summary="servers and viewer stations"),
    Command("getDeviceList", Kind.READ, aliases=("getCameraList",), summary="cameras and devices"),
    Command("getLayoutList", Kind.READ, summary="layouts and their panels"),
    Command("getMultiLayoutList", Kind.READ, summary="multilayouts"),
    Command("getLayoutStatus", Kind.READ, params=(_uid("divaid", allow_all=True),), summary="what every monitor shows"),
    Command(
        "getOptions", Kind.READ, params=_CAMERA, one_of=_CAMERA_ONE_OF, summary="PTZ capabilities and preset names"
    ),
    Command(
        "getPosition",
        Kind.READ,
        params=_CAMERA,
        one_of=_CAMERA_ONE_OF,
        aliases=("getAbsolutePosition",),
        summary="PTZ position",
    ),
    Command(
        "getEvents",
        Kind.READ,
        params=(
            _int("startid", -(2**62), 2**62),
            Param("starttime", ParamType.TIMESTAMP),
            Param("endtime", ParamType.TIMESTAMP),
            Param("types", ParamType.STR),
            _int("limit", -10000, 10000),
            _uid("deviceid"),
            _uid("serverid"),
            Param("valuecontains", ParamType.STR),
            Param("valueequals", ParamType.STR),
            # Long-poll extension of ours: wait up to this many ms for a first event. A real server ignores it.
            _int("wait", 0, 30000),
        ),
        summary="events after an id",
    ),
    Command("getActionList", Kind.READ, summary="the actions executeAction knows"),
    Command("getHardwareStatus", Kind.READ, summary="hardware and failover status"),
    Command("getServerOptions", Kind.READ, params=(_uid("serverid"),)),
    Command("getServerStatus", Kind.READ, params=(_uid("serverid"),)),
    Command("getSystemStatus", Kind.READ, params=(_uid("serverid"),)),
    Command("getManagerStatus", Kind.READ, summary="a SenseTwin manager's role, mode and counters"),
    # Extension of ours: did the action with this uid change anything here? A real server answers -1.
    Command("getUidStatus", Kind.READ, summary="whether the action with the given uid was executed"),
    Command(
        "selectLayout",
        Kind.ACTION,
        params=(
            _uid("divaid", allow_all=True),
            _int("monitorindex", 0, 63, required=True),
            _uid("layoutid", required=True),
        ),
        summary="show a layout on a monitor",
    ),
    Command(
        "selectMultiLayout",
        Kind.ACTION,
        params=(_uid("divaid", allow_all=True), _uid("multilayoutid"), Param("name", ParamType.STR)),
        one_of=(("multilayoutid", "name"),),
        summary="show a multilayout on a viewer",
    ),
    Command(
        "selectCamera",
        Kind.ACTION,
        params=(
            Param("cameraview", ParamType.CAMERAVIEW, required=True),
            _uid("layoutid", required=True),
            _uid("panelid"),
            _int("panelindex", 0, 63),
            _uid("divaid", allow_all=True),
            Param("keeppanelselection", ParamType.BOOL),
        ),
        one_of=(("panelid", "panelindex"),),
        summary="show a camera on a panel",
    ),
    Command(
        "setAbsolutePosition",
        Kind.ACTION,
        params=(
            *_CAMERA,
            _int("pan", *_PAN_TILT),
            _int("tilt", *_PAN_TILT),
            _int("zoom", *_LENS),
            _int("focus", *_LENS),
            _int("iris", *_LENS),
            *_PTZ_CONTROL,
        ),
        one_of=_CAMERA_ONE_OF,
        summary="move a dome to a position",
    ),
    Command(
        "setRelativePosition",
        Kind.ACTION,
        idempotent=False,
        params=(*_CAMERA, *(_int(a, *_SPEED) for a in _AXES), *_PTZ_CONTROL),
        one_of=_CAMERA_ONE_OF,
        summary="move a dome at a speed (0 stops)",
    ),
    Command(
        "setPreset",
        Kind.ACTION,
        idempotent=False,
        params=(*_CAMERA, _int("preset", 1, 64, True, ResultCode.PRESET_OUT_OF_RANGE), Param("name", ParamType.STR)),
        one_of=_CAMERA_ONE_OF,
        summary="store the position as a preset",
    ),
    Command(
        "gotoPreset",
        Kind.ACTION,
        params=(*_CAMERA, _int("preset", 1, 64, True, ResultCode.PRESET_OUT_OF_RANGE)),
        one_of=_CAMERA_ONE_OF,
        summary="recall a preset",
    ),
    Command(
        "executeAction",
        Kind.ACTION,
        idempotent=False,
        params=(Param("actionname", ParamType.STR, required=True), _uid("divaid", allow_all=True)),
        free_params=True,
        summary="run a server or viewer action",
    ),
    # Pictures (TP-49, TP-46). imagewidth/imageheight are documented for getLiveImage only ("[number > 0]", with
    # transcoding); the bounds 16..1920 are ours. getHistoricalImage documents serverid, cameraid/deviceid, time
    # (UTC, milliseconds allowed: a STR here, parsed by the server, -4 when malformed) and type; taking the size
    # parameters there too is our inference (streamVideo has them), a real server would ignore them.
    Command(
        "getLiveImage",
        Kind.READ,
        params=(*_CAMERA, *_IMAGE_SIZE),
        one_of=_CAMERA_ONE_OF,
        summary="a live JPEG of a camera",
    ),
    Command(
        "getHistoricalImage",
        Kind.READ,
        params=(*_CAMERA, Param("time", ParamType.STR, required=True), Param("type", ParamType.STR), *_IMAGE_SIZE),
        one_of=_CAMERA_ONE_OF,
        summary="a recorded JPEG of a camera at a UTC time",
    ),
    # Viewer playback (TP-21..23). Each sets an absolute state (mode, position, speed): idempotent. The speed is
    # one of a fixed list (0.5..16 and negatives, checked by the server: -22); a missing speed is -23 (TP-22),
    # so it is not `required` here (that would be -10).
    Command(
        "startPlayback", Kind.ACTION, params=(_uid("divaid", allow_all=True),), summary="switch a viewer to playback"
    ),
    Command(
        "setPlaybackDateTime",
        Kind.ACTION,
        params=(_uid("divaid", allow_all=True), Param("time", ParamType.STR, required=True)),
        summary="move a viewer's playback to a UTC time",
    ),
    Command(
        "setPlaybackSpeed",
        Kind.ACTION,
        params=(_uid("divaid", allow_all=True), Param("speed", ParamType.STR)),
        summary="set a viewer's playback speed",
    ),
    # Extension of ours: no documented function returns a viewer to live (TP-19/20 and 24/25 are not in any
    # stored copy). A real server answers -1.
    Command("stopPlayback", Kind.ACTION, params=(_uid("divaid", allow_all=True),), summary="return a viewer to live"),
    # Simulator control of ours: a standby server asks the active one to hand over (manual failback).
    Command("takeOver", Kind.ACTION, summary="make this server the active one"),
    # Shared operator workflows, SenseTwin extensions a manager answers itself (docs/workflows-protocol.md). Each
    # action's effect is keyed by its uid in etcd, so executing one again (a copy in doubt) changes nothing twice.
    Command("getAlarms", Kind.READ, params=(_str("state"), _str("since")), summary="the control room's alarms"),
    Command("getTours", Kind.READ, summary="the camera tours and where each stands"),
    Command("getPtzControl", Kind.READ, summary="which console steers which dome"),
    Command(
        "acknowledgeAlarm",
        Kind.ACTION,
        params=(_str("alarmid", True), _STATION, _str("comment")),
        summary="acknowledge an alarm",
    ),
    Command(
        "closeAlarm", Kind.ACTION, params=(_str("alarmid", True), _STATION, _str("comment")), summary="close an alarm"
    ),
    Command(
        "startTour",
        Kind.ACTION,
        params=(
            _str("run", True),
            _str("name"),
            _str("owner"),
            _str("divaid", True),
            _str("layoutid", True),
            _str("panelid", True),
            _str("dwell", True),
            _str("cameras", True),
            _STATION,
        ),
        summary="start a camera tour on a panel",
    ),
    Command("pauseTour", Kind.ACTION, params=(_str("run", True), _STATION), summary="pause a tour"),
    Command("resumeTour", Kind.ACTION, params=(_str("run", True), _STATION), summary="resume a paused tour"),
    Command("stopTour", Kind.ACTION, params=(_str("run", True), _STATION), summary="stop a tour"),
    Command(
        "tourStep",
        Kind.ACTION,
        params=(_str("run", True), _int("step", 0, 2**62, True, ResultCode.TOUR_STATE)),
        summary="show a tour's next camera",
    ),
)

# PTZ actions that steer a dome (a console's PTZ control, docs/workflows-protocol.md) and those that use presets
# (usable by every console), lower-case as commands are matched.
PTZ_MOVES = frozenset({"setrelativeposition", "setabsoluteposition", "holdposition", "setposition"})
PTZ_PRESETS = frozenset({"gotopreset", "setpreset"})
# setPlaybackSpeed's forward speeds; the same backwards (negative) are valid too.
PLAYBACK_FORWARD_SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)

CATALOGUE: dict[str, Command] = {}
for _c in _COMMANDS:
    for _n in (_c.name, *_c.aliases):
        CATALOGUE[_n.lower()] = _c


def lookup(name: str) -> Command | None:
    """The catalogue entry for a command name (case-insensitive, aliases included), or None."""
    return CATALOGUE.get(name.strip().lower())


def classify(name: str) -> Command:
    """Like lookup, but an unknown name gives a non-idempotent action (never executed twice by mistake)."""
    found = lookup(name)
    if found is not None:
        return found
    return Command(name, Kind.ACTION, idempotent=False, known=False)


def commands() -> tuple[Command, ...]:
    return _COMMANDS


def parse_uid(name: str, value: str, allow_all: bool = False) -> str:
    """A Sense UID is a decimal unsigned 64-bit integer; it stays a string (no float, no signed int)."""
    v = value.strip()
    if allow_all and v == "-1":
        return v
    if not v.isascii() or not v.isdigit():
        raise SenseError.of(ResultCode.VALUE_OUT_OF_RANGE, f"parameter '{name}' must be a decimal id, not {v[:40]!r}")
    if int(v) > _UINT64_MAX:
        raise SenseError.of(ResultCode.VALUE_OUT_OF_RANGE, f"parameter '{name}' is larger than an unsigned 64-bit id")
    return str(int(v))


def parse_int(p: Param, value: str) -> int:
    v = value.strip()
    try:
        if not v.isascii():
            raise ValueError(v)
        n = int(v, 10)
    except ValueError:
        raise SenseError.of(
            ResultCode.VALUE_OUT_OF_RANGE, f"parameter '{p.name}' must be a whole number, not {v[:40]!r}"
        ) from None
    if (p.min is not None and n < p.min) or (p.max is not None and n > p.max):
        raise SenseError.of(p.range_code, f"parameter '{p.name}' = {n} is outside {p.min}..{p.max}")
    return n


def parse_cameraview(value: str) -> dict[str, str]:
    """`serverid:1;cameraid:2` (deviceid works too; left/top/right/bottom cut-out per mille)."""
    out: dict[str, str] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        key, sep, val = part.partition(":")
        key = key.strip().lower()
        if not sep or key not in {"serverid", "cameraid", "deviceid", "left", "top", "right", "bottom"}:
            raise SenseError.of(
                ResultCode.VALUE_OUT_OF_RANGE,
                f"cameraview part {part[:40]!r} is not serverid:, cameraid:, left:, top:, right: or bottom:",
            )
        if key in out or (key in {"cameraid", "deviceid"} and "camera" in out):
            raise SenseError.of(ResultCode.BAD_REQUEST, f"cameraview names {key!r} twice")
        if key in {"cameraid", "deviceid"}:
            out["camera"] = parse_uid("cameraview " + key, val)
        elif key == "serverid":
            out["serverid"] = parse_uid("cameraview serverid", val)
        else:
            out[key] = str(parse_int(Param(key, ParamType.INT, min=0, max=1000), val))
    if "camera" not in out:
        raise SenseError.of(ResultCode.NOT_ENOUGH_PARAMETERS, "cameraview needs cameraid (e.g. cameraview=cameraid:1)")
    return out


_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no"}


def validate(cmd: Command, params: Mapping[str, str]) -> dict[str, object]:
    """Check and convert a command's parameters (names lower-case). Unknown extra parameters are ignored,
    as Sense does, except for free-form commands, which keep them as strings."""
    out: dict[str, object] = {}
    for p in cmd.params:
        raw = params.get(p.name)
        if raw is None:
            if p.required:
                raise SenseError.of(ResultCode.NOT_ENOUGH_PARAMETERS, f"{cmd.name} needs parameter '{p.name}'")
            continue
        if raw.strip() == "":
            raise SenseError.of(ResultCode.EMPTY_VALUE, f"parameter '{p.name}' of {cmd.name} is empty")
        if len(raw) > MAX_VALUE_LENGTH:
            raise SenseError.of(
                ResultCode.VALUE_OUT_OF_RANGE,
                f"parameter '{p.name}' is {len(raw)} characters long; at most {MAX_VALUE_LENGTH}",
            )
        if p.type is ParamType.UID:
            out[p.name] = parse_uid(p.name, raw, p.allow_all)
        elif p.type is ParamType.INT:
            out[p.name] = parse_int(p, raw)
        elif p.type is ParamType.BOOL:
            low = raw.strip().lower()
            if low not in _TRUE | _FALSE:
                raise SenseError.of(ResultCode.VALUE_OUT_OF_RANGE, f"parameter '{p.name}' must be true or false")
            out[p.name] = low in _TRUE
        elif p.type is ParamType.TIMESTAMP:
            out[p.name] = parse_timestamp(p.name, raw)
        elif p.type is ParamType.CAMERAVIEW:
            out[p.name] = parse_cameraview(raw)
        else:
            out[p.name] = raw
    for group in cmd.one_of:
        given = [g for g in group if g in out]
        if not given:
            raise SenseError.of(ResultCode.NOT_ENOUGH_PARAMETERS, f"{cmd.name} needs one of {', '.join(group)}")
        if len(given) > 1:
            raise SenseError.of(ResultCode.BAD_REQUEST, f"{cmd.name} takes only one of {', '.join(group)}")
    if cmd.free_params:
        for k, v in params.items():
            if k not in out and k not in ("command", "uid"):
                if len(v) > MAX_VALUE_LENGTH:
                    raise SenseError.of(
                        ResultCode.VALUE_OUT_OF_RANGE,
                        f"parameter '{k}' is {len(v)} characters long; at most {MAX_VALUE_LENGTH}",
                    )
                out[k] = v
    return out


def parse_timestamp(name: str, raw: str) -> str:
    try:
        datetime.datetime.strptime(raw.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise SenseError.of(
            ResultCode.INVALID_TIMESTAMP,
            f"parameter '{name}' must be a UTC time as yyyy-mm-dd hh:mm:ss, not {raw[:40]!r}",
        ) from None
    return raw.strip()
