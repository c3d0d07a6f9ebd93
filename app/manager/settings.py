"""A manager's settings: from the command line or a TOML file, every default from app.config."""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..config import DEFAULTS, parse_listen
from ..security import Secret, TokenCheck, is_loopback, readable_by_others, server_tls

PRIORITIES = ("high", "medium", "low")
_RULE_KEYS = {"type", "priority", "title", "camera", "serverid", "reaction"}
_REACTION_KEYS = ("divaid", "layoutid", "panelid")


@dataclass(frozen=True)
class Reaction:
    """Put the alarm's camera on a monitor panel."""

    divaid: str
    layoutid: str
    panelid: str


@dataclass(frozen=True)
class AlarmRule:
    """Which server events become alarms ([[alarms]] in the manager config, docs/workflows-protocol.md)."""

    index: int
    type: str  # matched case-insensitively as a substring of the event type
    priority: str
    title: str = ""
    camera: str = ""
    serverid: str = ""
    reaction: Reaction | None = None

    def matches(self, eventtype: str) -> bool:
        return self.type.lower() in eventtype.lower()


def parse_alarm_rules(raw: object) -> list[AlarmRule]:
    """The [[alarms]] tables as rules; a ValueError naming the rule and what to write for the first bad one."""
    if not isinstance(raw, list):
        raise ValueError('alarms: write each rule as an [[alarms]] table (type = "Motion", priority = "high")')
    rules = []
    for i, r in enumerate(raw):
        where = f"alarm rule {i + 1}" + (f" (type {r.get('type')!r})" if isinstance(r, dict) and r.get("type") else "")
        if not isinstance(r, dict):
            raise ValueError(f'{where}: write it as an [[alarms]] table with type = "..." and priority = "high"')
        unknown = sorted(set(r) - _RULE_KEYS)
        if unknown:
            raise ValueError(
                f"{where}: unknown key(s) {', '.join(unknown)}; a rule has {', '.join(sorted(_RULE_KEYS))}"
            )
        kind = r.get("type")
        if not isinstance(kind, str) or not kind.strip():
            raise ValueError(f'{where}: no type; write the server event type it matches, e.g. type = "Motion"')
        prio = r.get("priority", "")
        if not isinstance(prio, str) or prio.strip().lower() not in PRIORITIES:
            raise ValueError(f'{where}: priority {prio!r} is not high, medium or low; write e.g. priority = "high"')
        text = {k: r.get(k, "") for k in ("title", "camera", "serverid")}
        for k, v in text.items():
            if not isinstance(v, str) and not (k != "title" and isinstance(v, int) and not isinstance(v, bool)):
                raise ValueError(f'{where}: {k} must be text, e.g. {k} = "101"')
        camera, serverid = str(text["camera"]).strip(), str(text["serverid"]).strip()
        for k, v in (("camera", camera), ("serverid", serverid)):
            if v and not (v.isascii() and v.isdigit()):
                raise ValueError(f'{where}: {k} {v!r} is not a decimal id; write e.g. {k} = "101"')
        if serverid and not camera:
            raise ValueError(f'{where}: serverid goes with camera; add camera = "CAMERAID" or remove serverid')
        reaction = None
        if "reaction" in r:
            rx = r["reaction"]
            example = 'reaction = { divaid = "1", layoutid = "1", panelid = "1" }'
            if not isinstance(rx, dict) or set(rx) != set(_REACTION_KEYS):
                raise ValueError(f"{where}: a malformed reaction; write {example}")
            ids = [str(rx[k]).strip() for k in _REACTION_KEYS]
            if not all(v.isascii() and v.isdigit() for v in ids) or any(isinstance(rx[k], bool) for k in rx):
                raise ValueError(
                    f"{where}: the reaction's divaid, layoutid and panelid must be decimal ids; write {example}"
                )
            reaction = Reaction(*ids)
        rules.append(
            AlarmRule(i, kind.strip(), prio.strip().lower(), str(text["title"]).strip(), camera, serverid, reaction)
        )
    return rules


class Role(enum.Enum):
    PRIMARY = "primary"
    SECONDARY = "secondary"

    @property
    def other(self) -> Role:
        return Role.SECONDARY if self is Role.PRIMARY else Role.PRIMARY


@dataclass
class ManagerSettings:
    role: Role
    servers: list[str]
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    # The three etcd members' client URLs (one per manager host, one on a third machine), the key prefix and the
    # site's name (both managers must agree), TLS / user for the members, and whether fewer than three are allowed
    # (a one-host trial or a test: shown as such everywhere).
    etcd: list[str] = field(default_factory=list)
    etcd_prefix: str = "/sensetwin/"
    site: str = "sensetwin"
    etcd_allow_fewer: bool = False
    etcd_ttl: int = DEFAULTS.etcd_ttl
    etcd_timeout: float = DEFAULTS.etcd_timeout
    etcd_ca: Path | None = None
    etcd_cert: Path | None = None
    etcd_key: Path | None = None
    etcd_user: str = ""
    etcd_password: str = ""
    etcd_start_wait: float = 30.0  # at start, wait this long for the cluster (and, secondary, the site marker)
    queue_timeout: float = DEFAULTS.manager_queue_timeout
    dedup_window: float = DEFAULTS.dedup_window
    dedup_capacity: int = DEFAULTS.dedup_capacity
    server_poll: float = DEFAULTS.server_poll
    upstream_timeout: float = DEFAULTS.upstream_timeout
    hold_timeout: float = DEFAULTS.hold_timeout
    answer_timeout: float = DEFAULTS.client_timeout * 2
    # Security (SECURITY.md): tokens by name that consoles must present, whether reads need a token too, the
    # per-console action rate (0 = no limit).
    tokens: dict[str, str] = field(default_factory=dict)
    reads_need_token: bool = False
    allow_unauthenticated: bool = False
    action_rate: float = DEFAULTS.action_rate
    action_burst: int = DEFAULTS.action_burst
    tls_cert: Path | None = None
    tls_key: Path | None = None
    ca_bundle: Path | None = None
    server_user: str = ""
    server_password: str = ""
    # Shared operator workflows (docs/workflows-protocol.md): alarm rules ([[alarms]] tables), PTZ control, floods.
    alarms: list[dict[str, Any]] = field(default_factory=list)
    ptz_hold: float = DEFAULTS.ptz_hold
    # token name -> the highest PTZ priority a console presenting that token may steer with (its own setting is cut
    # down to it); a console whose token is not listed keeps the priority it asks for.
    ptz_priority_max: dict[str, int] = field(default_factory=dict)
    flood_count: int = DEFAULTS.flood_count
    flood_window: float = DEFAULTS.flood_window
    reaction_window: float = DEFAULTS.reaction_window
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.alarm_rules: list[AlarmRule] = []  # parsed from `alarms` by check()
        # Secrets never print themselves (repr, logs, tracebacks), whatever check() is called or not.
        self.etcd_password = Secret(self.etcd_password)
        self.server_password = Secret(self.server_password)

    def check(self) -> None:
        if not self.servers or len(self.servers) > 2:
            raise ValueError("servers: give one or two Sense server addresses (primary first)")
        for u in [*self.servers, *self.etcd]:
            if not u.startswith(("http://", "https://")):
                raise ValueError(f"{u!r} is not an http:// or https:// address")
        if not self.etcd:
            raise ValueError(
                "etcd: give the three etcd members' client addresses (--etcd URL,URL,URL or etcd = [...] in the "
                "config); the managers keep every action's uid there, so without etcd no action could be executed once"
            )
        if len(set(self.etcd)) != len(self.etcd):
            raise ValueError(f"etcd: the same member is named twice in {', '.join(self.etcd)}")
        if len(self.etcd) < 3 and not self.etcd_allow_fewer:
            raise ValueError(
                f"etcd: {len(self.etcd)} member(s) given, a control room needs three (one per manager host and one on "
                "a third machine), so that either manager host can fail. For a one-host trial or a test set "
                "etcd_allow_fewer = true (--etcd-allow-fewer); it is then shown as a trial everywhere"
            )
        if not self.etcd_prefix.startswith("/") or not self.etcd_prefix.endswith("/") or len(self.etcd_prefix) < 2:
            raise ValueError(f"etcd_prefix {self.etcd_prefix!r} must start and end with '/', e.g. \"/sensetwin/\"")
        if not self.site or not self.site.isprintable():
            raise ValueError("site: give the site's name (the same in both managers' configs)")
        if not 2 <= self.etcd_ttl <= 30:
            raise ValueError("etcd_ttl must be 2 to 30 seconds (etcd's shortest lease is 2 s)")
        if self.hold_timeout + self.upstream_timeout >= DEFAULTS.client_timeout:
            raise ValueError(
                "hold_timeout + upstream_timeout must stay below the console's timeout "
                f"({DEFAULTS.client_timeout:.1f} s), or an action could execute after the console gave up on it"
            )
        if (self.etcd_cert is None) != (self.etcd_key is None):
            raise ValueError("etcd_cert and etcd_key go together (the manager's client certificate for etcd)")
        if self.etcd_password and not self.etcd_user:
            raise ValueError("etcd_password is set but etcd_user is not")
        TokenCheck(self.tokens)  # raises with the name of a token that is too short or not printable
        if not self.tokens and not is_loopback(self.host) and not self.allow_unauthenticated:
            raise ValueError(
                f"listening on {self.host} without [manager.tokens] would let any computer that reaches it act; "
                "add tokens (see SECURITY.md), listen on 127.0.0.1, or set allow_unauthenticated = true"
            )
        if self.action_rate < 0 or self.action_burst < 1:
            raise ValueError("action_rate must be 0 (no limit) or more, action_burst at least 1")
        if self.server_password and not self.server_user:
            raise ValueError("server_password is set but server_user is not")
        server_tls(self.tls_cert, self.tls_key)  # raises with the file that is missing or unusable
        if self.ca_bundle is not None and not self.ca_bundle.is_file():
            raise ValueError(f"ca_bundle {self.ca_bundle} does not exist")
        self.alarm_rules = parse_alarm_rules(self.alarms)
        if not 1 <= self.ptz_hold <= 300:
            raise ValueError("ptz_hold must be 1 to 300 seconds (a dome stays with the console that moved it last)")
        if not isinstance(self.ptz_priority_max, dict):
            raise ValueError("ptz_priority_max is a table of token name = highest priority, e.g. { desk3 = 5 }")
        for name, top in self.ptz_priority_max.items():
            if name not in self.tokens:
                raise ValueError(
                    f"ptz_priority_max names {name!r}, which is not a token name in [manager.tokens]: the limit "
                    "goes with the token a console presents"
                )
            if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 10:
                raise ValueError(f"ptz_priority_max: {name} = {top!r} must be a whole number from 1 to 10")
        if isinstance(self.flood_count, bool) or not isinstance(self.flood_count, int) or self.flood_count < 1:
            raise ValueError("flood_count must be a whole number of alarms, 1 or more (e.g. flood_count = 10)")
        if not 1 <= self.flood_window <= 86400:
            raise ValueError("flood_window must be 1 to 86400 seconds (e.g. flood_window = 600)")
        if not 1 <= self.reaction_window <= self.dedup_window / 2:
            raise ValueError(
                f"reaction_window must be 1 to {self.dedup_window / 2:g} seconds (half the dedup_window): a reaction "
                "offered after its uid is forgotten would move the wall again (e.g. reaction_window = 60)"
            )

    @property
    def etcd_tls_needed(self) -> bool:
        return any(u.startswith("https://") for u in self.etcd) or self.etcd_cert is not None

    @property
    def etcd_trial(self) -> bool:
        """Fewer than three members: a one-host trial or a test, never a control room."""
        return len(self.etcd) < 3

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("tokens", "extra")}
        shown["tokens"] = sorted(self.tokens)  # names only
        return "ManagerSettings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


_FLOATS = {f.name for f in fields(ManagerSettings) if f.type in ("float", float)}
_PATHS = {"state_dir", "tls_cert", "tls_key", "ca_bundle", "etcd_ca", "etcd_cert", "etcd_key"}
SECRET_KEYS = ("tokens", "server_password", "etcd_password")
# Keys of the manager-to-manager protocol that etcd replaced: a clear word instead of "unknown key".
_REPLACED = ("peer", "peer_url", "peer_token", "peer_poll_wait", "peer_lease", "fence_timeout", "feed_buffer")


def load_toml(path: Path) -> dict[str, Any]:
    """Read a manager config file. Keys are those of ManagerSettings plus `listen`; unknown keys are an error."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {path} is not valid TOML: {exc}") from None
    section = data.get("manager", data)
    if section is not data and "alarms" in data:  # [[alarms]] written beside a [manager] table, as in the docs
        section = {**section, "alarms": [*section.get("alarms", []), *data["alarms"]]}
    replaced = sorted(set(section) & set(_REPLACED))
    if replaced:
        raise ValueError(
            f"config file {path}: {', '.join(replaced)} belonged to the direct manager-to-manager link, which etcd "
            "replaced; remove them and give etcd = [three member URLs] instead (see the example configs)"
        )
    known = {f.name for f in fields(ManagerSettings)} | {"listen"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ValueError(f"config file {path}: unknown key(s) {', '.join(unknown)}")
    if any(section.get(k) for k in SECRET_KEYS) and readable_by_others(path):
        raise ValueError(
            f"config file {path} holds secrets and can be read by other users. "
            f"Fix it with: chmod 600 {path} (owned by the user the manager runs as)"
        )
    out: dict[str, Any] = {}
    for k, v in section.items():
        if k == "listen":
            out["host"], out["port"] = parse_listen(str(v))
        elif k == "role":
            out["role"] = Role(str(v))
        elif k in _PATHS:
            out[k] = Path(str(v))
        elif k == "tokens":
            if not isinstance(v, dict) or not all(isinstance(t, str) for t in v.values()):
                raise ValueError(f'config file {path}: [manager.tokens] is a table of name = "token" lines')
            out["tokens"] = {str(n): t for n, t in v.items()}
        elif k in ("servers", "etcd"):
            out[k] = [
                str(x).strip().rstrip("/") for x in (v if isinstance(v, list) else str(v).split(",")) if str(x).strip()
            ]
        elif k in _FLOATS:
            out[k] = float(v)
        else:
            out[k] = v
    return out
