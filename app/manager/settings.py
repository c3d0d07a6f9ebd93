"""A manager's settings: from the command line or a TOML file, every default from app.config."""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..config import DEFAULTS, parse_listen


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
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if not self.servers or len(self.servers) > 2:
            raise ValueError("servers: give one or two Sense server addresses (primary first)")
        for u in [*self.servers, *([self.peer_url] if self.peer_url else [])]:
            if not u.startswith(("http://", "https://")):
                raise ValueError(f"{u!r} is not an http:// or https:// address")
        if self.fence_timeout <= self.peer_lease:
            raise ValueError("fence_timeout must be longer than peer_lease, or a paused primary could act late")


_FLOATS = {f.name for f in fields(ManagerSettings) if f.type in ("float", float)}


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
    out: dict[str, Any] = {}
    for k, v in section.items():
        if k == "listen":
            out["host"], out["port"] = parse_listen(str(v))
        elif k in ("peer", "peer_url"):
            out["peer_url"] = str(v).rstrip("/")
        elif k == "role":
            out["role"] = Role(str(v))
        elif k == "state_dir":
            out["state_dir"] = Path(str(v))
        elif k == "servers":
            out["servers"] = [str(x).rstrip("/") for x in (v if isinstance(v, list) else str(v).split(","))]
        elif k in _FLOATS:
            out[k] = float(v)
        else:
            out[k] = v
    return out
