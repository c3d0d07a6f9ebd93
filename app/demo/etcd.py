"""How to start the members of a three-member etcd cluster (the `etcd` binary of Debian's etcd-server package).

One place for the flags, used by the demo, the tests, the lab and the benchmarks, and shown in the README as the
flags a control room's members need: pre-vote so a member cut from the leader cannot disrupt the other two.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

ETCD_PACKAGE = "etcd-server"
MIN_MEMBERS = 3


@dataclass(frozen=True)
class EtcdMember:
    name: str  # e.g. "etcd-p" (manager host P), "etcd-s", "etcd-w" (the witness host)
    host: str  # the address it listens on and advertises
    client_port: int
    peer_port: int

    @property
    def client_url(self) -> str:
        return f"http://{self.host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.host}:{self.peer_port}"


def etcd_binary() -> str:
    """The etcd program, or a RuntimeError that says which package to install."""
    found = shutil.which("etcd") or ("/usr/bin/etcd" if Path("/usr/bin/etcd").exists() else None)
    if found is None:
        raise RuntimeError(
            f"the etcd program is not installed; install it with: sudo apt-get install {ETCD_PACKAGE} "
            "(SenseTwin's managers keep every action's uid in a three-member etcd cluster)"
        )
    return found


def initial_cluster(members: list[EtcdMember]) -> str:
    return ",".join(f"{m.name}={m.peer_url}" for m in members)


def member_args(
    member: EtcdMember, members: list[EtcdMember], data_dir: Path, token: str = "sensetwin", new: bool = True
) -> list[str]:
    """The command line of one member of `members` (all three, this one among them)."""
    return [
        etcd_binary(),
        "--name",
        member.name,
        "--data-dir",
        str(data_dir),
        "--listen-client-urls",
        member.client_url,
        "--advertise-client-urls",
        member.client_url,
        "--listen-peer-urls",
        member.peer_url,
        "--initial-advertise-peer-urls",
        member.peer_url,
        "--initial-cluster",
        initial_cluster(members),
        "--initial-cluster-token",
        token,
        "--initial-cluster-state",
        "new" if new else "existing",
        # A member that lost the leader asks the others before it starts an election: a cut between the two
        # manager hosts then leaves the leader and the witness working instead of electing round after round.
        "--pre-vote",
        # A dead leader is replaced within about half a second, inside a manager's 1 s deadline for an action.
        "--heartbeat-interval",
        "50",
        "--election-timeout",
        "500",
        "--logger",
        "zap",
        "--log-level",
        "warn",
    ]
