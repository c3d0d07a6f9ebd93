"""Start, kill, pause and restart the parts of a SenseTwin system as child processes on loopback.

Used by `sensetwin demo`, by the end-to-end tests and by the benchmarks, so all of them run the real
programs the way an installer would.
"""

from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET  # our own services' answers on loopback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import LOOPBACK
from .etcd import EtcdMember, member_args

# The demo site's alarm rules (docs/workflows-protocol.md): motion at the main gate goes on the video wall's single
# panel; a camera that loses its picture is a low alarm. POST /sim/event (or /sim/device) raises their events.
DEMO_ALARMS = """\
[[alarms]]
type = "Motion"
priority = "high"
title = "Motion at the main gate"
camera = "101"
serverid = "13427094042528044067"
reaction = { divaid = "11008480918349137116", layoutid = "1410707261306977580", panelid = "2598414856324303106" }

[[alarms]]
type = "VideoLost"
priority = "low"
"""


_PORTS = random.SystemRandom()  # not the random module's generator: tests and tools seed that one


def _ephemeral_low() -> int:
    """The lowest port the kernel gives outgoing connections (Linux; 32768 elsewhere, the usual)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_GIVEN: set[int] = set()  # ports this process handed out: never twice (a random pick repeats one otherwise)


def free_port(host: str = LOOPBACK) -> int:
    """A port to give a part to listen on, free now and never handed out before by this process.

    Picked below the ephemeral range: a port the kernel handed out (bind to 0) is one it also gives outgoing
    connections, and with the managers opening a connection per action one of them took it before the part bound it
    ("address already in use", seen in CI). The parts bind seconds later, so a port handed out is remembered: ten
    random picks for one system repeat one in about 1 of 300 systems (a birthday collision, also seen in CI)."""
    low = _ephemeral_low()
    start = 20000 if low > 21000 else 1024
    for _ in range(500):
        port = _PORTS.randrange(start, low)
        if port in _GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    while True:  # the range below the ephemeral ports is used up: let the kernel choose
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def _last_lines(path: Path, count: int = 3) -> str:
    """The end of a part's log, for a failure message (CI keeps only what the test run printed)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        return f"(no log: {e.strerror})"
    return " | ".join(line.strip()[:300] for line in lines[-count:]) or "(empty)"


def program() -> list[str]:
    """How to start `sensetwin` again: the bundle's own binary, or this interpreter with -m app."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "app"]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: no orphans if the demo is killed


@dataclass
class Part:
    """One child process: a sim or a manager."""

    name: str
    args: list[str]
    url: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    paused: bool = False
    env: dict[str, str] = field(default_factory=dict)  # added to the environment (secrets stay off argv)
    command: list[str] | None = None  # the whole command line of a program that is not sensetwin (etcd)
    health_path: str = "/info"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it from here
        try:
            self.proc = subprocess.Popen(
                self.command if self.command is not None else [*program(), *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env} if self.env else None,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        self.paused = False

    def kill(self) -> None:
        """kill -9, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.paused = False

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.paused:
            self.resume()
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def pause(self) -> None:
        if self.running:
            os.kill(self.proc.pid, signal.SIGSTOP)  # type: ignore[union-attr]
            self.paused = True

    def resume(self) -> None:
        if self.running:
            os.kill(self.proc.pid, signal.SIGCONT)  # type: ignore[union-attr]
        self.paused = False

    def answers(self, timeout: float = 0.5) -> bool:
        try:
            with urllib.request.urlopen(self.url + self.health_path, timeout=timeout) as r:
                return bool(r.status == 200)
        except OSError:
            return False


@dataclass
class Topology:
    """Two sims (and two managers once added) on free loopback ports, sharing one journal file."""

    workdir: Path
    parts: dict[str, Part] = field(default_factory=dict)
    heartbeat_ms: int | None = None
    failback: str = "auto"
    action_rate: float | None = None  # managers' per-console limit; None = their default, 0 = none (benchmarks)
    sim_site: str | None = None  # the sims' --site (demo, big or a site file); None = their default, demo
    cuttable: bool = False  # the demo: each manager reaches the other manager host's etcd member through a relay
    cut_links: Any = None
    alarms: str | None = None  # the managers' [[alarms]] rules (TOML), e.g. DEMO_ALARMS; None: none
    _etcd: list[EtcdMember] = field(default_factory=list)

    @classmethod
    def create(cls, workdir: Path | None = None, **kw: object) -> Topology:
        path = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="sensetwin-"))
        path.mkdir(parents=True, exist_ok=True)
        return cls(path, **kw)  # type: ignore[arg-type]

    @property
    def journal(self) -> Path:
        return self.workdir / "journal.jsonl"

    def add_sims(self) -> tuple[Part, Part]:
        ports = {"primary": free_port(), "secondary": free_port()}
        made = []
        for role, other in (("primary", "secondary"), ("secondary", "primary")):
            args = [
                "sim",
                "--role",
                role,
                "--listen",
                f"{LOOPBACK}:{ports[role]}",
                "--peer",
                f"http://{LOOPBACK}:{ports[other]}",
                "--journal",
                str(self.journal),
                "--state-dir",
                str(self.workdir / "state"),
                "--failback",
                self.failback,
            ]
            if self.heartbeat_ms:
                args += ["--heartbeat-ms", str(self.heartbeat_ms)]
            if self.sim_site:
                args += ["--site", self.sim_site]
            made.append(self.add(f"{role} server", args, f"http://{LOOPBACK}:{ports[role]}"))
        return made[0], made[1]

    @property
    def etcd_members(self) -> list[EtcdMember]:
        return list(self._etcd)

    def add_etcd(self, count: int = 3) -> list[Part]:
        """Three etcd members (named after the hosts they stand for in a control room: P, S and the witness W)."""
        names = ["etcd-p", "etcd-s", "etcd-w"][:count]
        self._etcd = [EtcdMember(n, LOOPBACK, free_port(), free_port()) for n in names]
        made = []
        for m in self._etcd:
            cmd = member_args(m, self._etcd, self.workdir / "etcd" / m.name, token=f"sensetwin-{self.workdir.name}")
            part = self.add(f"{m.name} member", [], m.client_url)
            part.command, part.health_path = cmd, "/health"
            made.append(part)
        return made

    def etcd_urls(self) -> list[str]:
        return [m.client_url for m in self._etcd]

    def add_managers(
        self,
        queue_timeout: float | None = None,
        servers: list[str] | None = None,
        etcd: list[str] | None = None,
        extra: Sequence[str] = (),
    ) -> tuple[Part, Part]:
        """Two managers following the two sims (add_sims first) through the etcd members (add_etcd first, or
        `etcd` URLs); `servers` overrides the sims' addresses (a proxy in between, say)."""
        server_urls = servers or [self.parts[f"{r} server"].url for r in ("primary", "secondary")]
        etcd_urls = etcd or self.etcd_urls()
        if not etcd_urls:
            raise ValueError("add_etcd() before add_managers(), or give etcd URLs")
        ports = {"primary": free_port(), "secondary": free_port()}
        made = []
        for role in ("primary", "secondary"):
            if self.cuttable and etcd is None and len(self._etcd) == 3:
                etcd_urls = self._cuttable_etcd_urls(role)
            args = [
                "manager",
                "--role",
                role,
                "--listen",
                f"{LOOPBACK}:{ports[role]}",
                "--servers",
                ",".join(server_urls),
                "--etcd",
                ",".join(etcd_urls),
                "--site",
                "demo",
                "--state-dir",
                str(self.workdir / "state"),
                *(["--etcd-allow-fewer"] if len(etcd_urls) < 3 else []),
                *extra,
            ]
            if queue_timeout is not None:
                args += ["--queue-timeout", str(queue_timeout)]
            if self.action_rate is not None:
                args += ["--action-rate", str(self.action_rate)]
            if self.alarms is not None:
                config = self.workdir / "manager-alarms.toml"
                config.write_text(self.alarms, encoding="utf-8")
                args += ["--config", str(config)]
            made.append(self.add(f"{role} manager", args, f"http://{LOOPBACK}:{ports[role]}"))
        return made[0], made[1]

    def _cuttable_etcd_urls(self, role: str) -> list[str]:
        """The members as a manager on host P (primary) or S (secondary) reaches them: its own host's member and the
        witness directly, the other manager host's member through a relay the demo can cut."""
        from .cut import CutLinks

        if self.cut_links is None:
            self.cut_links = CutLinks()
        other = self._etcd[1] if role == "primary" else self._etcd[0]
        link = self.cut_links.add(f"{role} manager → {other.name}", other.client_port)
        return [link.url if m is other else m.client_url for m in self._etcd]

    def cut_managers(self, mode: str) -> None:
        """'silent' or 'refused': each manager loses the other manager host (its etcd member); 'pass' restores."""
        if self.cut_links is None:
            raise RuntimeError("this system was not started with cuttable links")
        self.cut_links.set_mode(mode)

    def start_system(self) -> None:
        """Two sims, three etcd members and two managers, started and settled: primary server active, primary
        manager forwarding."""
        self.add_sims()
        self.add_etcd()
        self.add_managers()
        self.start_all()
        self.wait_ready()
        self.wait_settled()

    def add_single_sim(self) -> Part:
        """One server without a peer: active at once (a site with a single management server)."""
        port = free_port()
        return self.add(
            "server",
            ["sim", "--role", "primary", "--listen", f"{LOOPBACK}:{port}", "--journal", str(self.journal)],
            f"http://{LOOPBACK}:{port}",
        )

    def add(self, name: str, args: Sequence[str], url: str) -> Part:
        slug = name.replace(" ", "-")
        part = Part(name, list(args), url, self.workdir / f"{slug}.log")
        self.parts[name] = part
        return part

    def start_all(self) -> None:
        for p in self.parts.values():
            p.start()

    def stop_all(self) -> None:
        for p in self.parts.values():
            p.stop()
        if self.cut_links is not None:
            self.cut_links.close()
            self.cut_links = None

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                logs = "; ".join(f"{p.name}: {p.log_path}" for p in self.parts.values())
                tails = "".join(f"\n  {p.name}: {_last_lines(p.log_path)}" for p in self.parts.values())
                raise TimeoutError(f"{what} did not happen within {timeout:.1f} s (logs: {logs}); their ends:{tails}")
            time.sleep(0.02)

    def wait_ready(self, timeout: float = 15.0) -> None:
        for p in self.parts.values():
            self.wait_until(p.answers, timeout, f"{p.name} answering on {p.url}")

    def wait_settled(self, timeout: float = 20.0) -> None:
        """Wait until the primary server is active and the secondary standby (and, with managers, the primary
        manager forwards while the secondary is in failover mode): the state every run starts from."""

        def field(url: str, query: str, path: str) -> str:
            try:
                with urllib.request.urlopen(f"{url}/{query}", timeout=0.5) as r:
                    return ET.fromstring(r.read()).findtext(path) or ""
            except (OSError, ValueError, ET.ParseError):
                return ""

        def settled() -> bool:
            p = self.parts
            ok = (
                field(p["primary server"].url, "info", "state") == "active"
                and field(p["secondary server"].url, "info", "state") == "standby"
            )
            if ok and "primary manager" in p:
                status = "command?command=getManagerStatus"
                ok = (
                    field(p["primary manager"].url, status, "managerstatus/forwarding") == "true"
                    and field(p["secondary manager"].url, status, "managerstatus/mode") == "failover"
                )
            return ok

        self.wait_until(settled, timeout, "primary server active and managers in their normal roles")

    def __enter__(self) -> Topology:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()
