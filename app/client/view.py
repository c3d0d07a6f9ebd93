"""SystemView: what the console knows about both servers, both managers and the peer console.

Plain dataclasses, no Qt: the UI adapts them to signals. `Change` carries the short reason a person reads.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field


def now_text() -> str:
    return dt.datetime.now().strftime("%H:%M:%S")


@dataclass
class ServerState:
    name: str  # "primary" | "secondary": its place in the pair
    url: str
    state: str = "unknown"  # active | standby | unreachable | reachable (no role given) | unknown
    epoch: int = 0
    since: str = ""  # local time it was first seen in this state
    reason: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} server"


@dataclass
class ManagerState:
    name: str
    url: str
    reachable: bool = False
    mode: str = "unknown"  # normal | failover | fencing | down | unknown
    forwarding: bool = False
    queue: int = 0
    server: str = ""  # the name of the server it sends to
    since: str = ""
    reason: str = ""
    in_doubt: int = 0
    token_refused: bool = False  # it refuses this console's access token: our actions through it get -104
    # The etcd cluster as this manager uses it: usable (quorum reached), members it reaches of those configured,
    # and whether it runs as a trial with fewer than three.
    etcd_ok: bool = False
    etcd_up: int = 0
    etcd_members: int = 0
    etcd_trial: bool = False
    etcd_error: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} manager"


@dataclass
class PeerConsole:
    configured: bool = False
    role: str = ""  # our role in the pair: primary | secondary
    pair: str = ""
    station: str = ""  # the peer's station name, once heard
    reachable: bool = False
    since: str = ""

    @property
    def in_control(self) -> bool:
        """Which console of the pair drives: the primary, or the secondary once the primary is gone."""
        return not self.configured or self.role == "primary" or not self.reachable


@dataclass
class Change:
    at: str
    part: str  # "primary server", "secondary manager", "peer console"
    text: str  # the short reason a person reads


@dataclass
class SystemView:
    servers: dict[str, ServerState] = field(default_factory=dict)
    managers: dict[str, ManagerState] = field(default_factory=dict)
    peer: PeerConsole = field(default_factory=PeerConsole)

    @property
    def active_server(self) -> ServerState | None:
        active = [s for s in self.servers.values() if s.state == "active"]
        return max(active, key=lambda s: s.epoch) if active else None

    @property
    def executing_manager(self) -> ManagerState | None:
        """The manager that sends actions to the server now."""
        for m in self.managers.values():
            if m.reachable and m.forwarding:
                return m
        return None

    @property
    def coordination(self) -> tuple[str, str, str]:
        """(level, words, detail) of the managers' etcd cluster, from the managers that answer: "ok" when every
        member is reached, "warn" when some are not (or a trial), "down" when no manager has quorum."""
        seen = [m for m in self.managers.values() if m.reachable and m.etcd_members]
        if not seen:
            return "unknown", "UNKNOWN", "no manager answers"
        best = max(seen, key=lambda m: (m.etcd_ok, m.etcd_up))
        if not any(m.etcd_ok for m in seen):
            return "down", "NO QUORUM", f"{best.etcd_up} of {best.etcd_members} members reached: actions cannot execute"
        words = f"{best.etcd_up}/{best.etcd_members} MEMBERS"
        if best.etcd_trial:
            return "warn", words, f"TRIAL: {best.etcd_members} member(s), not redundant"
        if best.etcd_up < best.etcd_members:
            return "warn", words, f"{best.etcd_members - best.etcd_up} member(s) down · quorum held"
        return "ok", words, "quorum · every member reached"

    def snapshot(self) -> SystemView:
        return copy.deepcopy(self)

    def summary(self) -> str:
        srv = self.active_server
        man = self.executing_manager
        return (
            f"server: {srv.name if srv else 'NONE ACTIVE'}; manager: {man.name if man else 'NONE EXECUTING'}; "
            + ", ".join(f"{m.name} {m.mode}" for m in self.managers.values())
        )
