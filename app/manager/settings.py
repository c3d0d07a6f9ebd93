"""A manager's settings: from the command line or a TOML file, every default from app.config."""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..config import DEFAULTS, parse_listen
from ..security import Secret, TokenCheck, is_loopback, readable_by_others, server_tls


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
    peer_url: str | None = None
    queue_timeout: float = DEFAULTS.manager_queue_timeout
    dedup_window: float = DEFAULTS.dedup_window
    dedup_capacity: int = DEFAULTS.dedup_capacity
    server_poll: float = DEFAULTS.server_poll
    upstream_timeout: float = DEFAULTS.upstream_timeout
    hold_timeout: float = DEFAULTS.hold_timeout
    answer_timeout: float = DEFAULTS.client_timeout * 2
    peer_poll_wait: float = DEFAULTS.peer_poll_wait
    peer_lease: float = DEFAULTS.peer_lease
    fence_timeout: float = DEFAULTS.fence_timeout
    feed_buffer: int = DEFAULTS.feed_buffer
    # Security (SECURITY.md): tokens by name that consoles and the peer manager must present, the token this
    # manager presents to its peer, whether reads need a token too, the per-console action rate (0 = no limit).
    tokens: dict[str, str] = field(default_factory=dict)
    peer_token: str = ""
    reads_need_token: bool = False
    allow_unauthenticated: bool = False
    action_rate: float = DEFAULTS.action_rate
    action_burst: int = DEFAULTS.action_burst
    tls_cert: Path | None = None
    tls_key: Path | None = None
    ca_bundle: Path | None = None
    server_user: str = ""
    server_password: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Secrets never print themselves (repr, logs, tracebacks), whatever check() is called or not.
        self.peer_token = Secret(self.peer_token)
        self.server_password = Secret(self.server_password)

    def check(self) -> None:
        if not self.servers or len(self.servers) > 2:
            raise ValueError("servers: give one or two Sense server addresses (primary first)")
        for u in [*self.servers, *([self.peer_url] if self.peer_url else [])]:
            if not u.startswith(("http://", "https://")):
                raise ValueError(f"{u!r} is not an http:// or https:// address")
        if self.fence_timeout <= self.peer_lease:
            raise ValueError("fence_timeout must be longer than peer_lease, or a paused primary could act late")
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

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("tokens", "extra")}
        shown["tokens"] = sorted(self.tokens)  # names only
        return "ManagerSettings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


_FLOATS = {f.name for f in fields(ManagerSettings) if f.type in ("float", float)}
_PATHS = {"state_dir", "tls_cert", "tls_key", "ca_bundle"}
SECRET_KEYS = ("tokens", "peer_token", "server_password")


def load_toml(path: Path) -> dict[str, Any]:
    """Read a manager config file. Keys are those of ManagerSettings plus `listen`; unknown keys are an error."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {path} is not valid TOML: {exc}") from None
    section = data.get("manager", data)
    known = {f.name for f in fields(ManagerSettings)} | {"listen", "peer"}
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
        elif k in ("peer", "peer_url"):
            out["peer_url"] = str(v).rstrip("/")
        elif k == "role":
            out["role"] = Role(str(v))
        elif k in _PATHS:
            out[k] = Path(str(v))
        elif k == "tokens":
            if not isinstance(v, dict) or not all(isinstance(t, str) for t in v.values()):
                raise ValueError(f'config file {path}: [manager.tokens] is a table of name = "token" lines')
            out["tokens"] = {str(n): t for n, t in v.items()}
        elif k == "servers":
            out["servers"] = [str(x).rstrip("/") for x in (v if isinstance(v, list) else str(v).split(","))]
        elif k in _FLOATS:
            out[k] = float(v)
        else:
            out[k] = v
    return out
