"""The SenseTwin system on a lab: two sims, three etcd members, two managers and two paired headless consoles,
each process inside its own host's namespace, talking over the lab's addresses.

    srv-p  sim primary     :8080        mgr-p  manager primary :8090, etcd-p :2379/:2380
    srv-s  sim secondary   :8080        mgr-s  manager secondary :8090, etcd-s
    con-a  console A (pair primary)     witness  etcd-w
    con-b  console B (pair secondary)   (peer link of the consoles :8070)

The manager's command line changes with the etcd work (issue 13): `manager_args` is the one place that builds it,
from what this checkout's `sensetwin manager --help` lists (read once per lab).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import secrets
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.demo.topology import Part, Topology, program
from tests.console_process import ConsoleProcess
from tests.lab.net import APP_DIR, Lab, LabError, kill_netns_processes, spawn

SIM_PORT, MANAGER_PORT, PAIR_PORT, ETCD_CLIENT, ETCD_PEER = 8080, 8090, 8070, 2379, 2380
ROLES = ("primary", "secondary")
SERVER_HOST = {"primary": "srv-p", "secondary": "srv-s"}
MANAGER_HOST = {"primary": "mgr-p", "secondary": "mgr-s"}
CONSOLE_HOST = {"A": "con-a", "B": "con-b"}
ETCD_HOST = {"etcd-p": "mgr-p", "etcd-s": "mgr-s", "etcd-w": "witness"}


def manager_options() -> set[str]:
    """The options this checkout's `sensetwin manager --help` lists (e.g. {'--peer', '--etcd', ...})."""
    p = subprocess.run(
        [*program(), "manager", "--help"], cwd=APP_DIR, capture_output=True, text=True, timeout=60, check=False
    )
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", p.stdout))


def sim_has_big_site() -> bool:
    """Does this checkout's sim serve the big site (`--site big`: 2,000 cameras)?"""
    p = subprocess.run(
        [*program(), "sim", "--help"], cwd=APP_DIR, capture_output=True, text=True, timeout=60, check=False
    )
    return "big" in p.stdout


def etcd_manager() -> bool:
    """True once the managers coordinate through etcd (their help lists --etcd)."""
    return "--etcd" in manager_options()


def manager_command(
    options: set[str],
    role: str,
    listen: str,
    servers: list[str],
    peer: str,
    etcd: list[str],
    state_dir: Path,
    config: Path | None = None,
    action_rate: float | None = 0,
    site: str = "lab",
) -> list[str]:
    """THE manager command line (lab and loopback chaos alike), adapted to `options`, what this checkout's
    `sensetwin manager --help` lists: `--etcd` with the members' client URLs when it is listed, `--peer` with
    the other manager only while it is listed; `--site`, `--action-rate`, `--etcd-allow-fewer` when listed."""
    args = [*program(), "manager"]
    if config is not None:
        args += ["--config", str(config)]
    args += ["--role", role, "--listen", listen, "--servers", ",".join(servers), "--state-dir", str(state_dir)]
    if "--etcd" in options:
        args += ["--etcd", ",".join(etcd)]
        if len(etcd) < 3 and "--etcd-allow-fewer" in options:
            args.append("--etcd-allow-fewer")
        if "--site" in options:
            args += ["--site", site]
    if "--peer" in options:
        args += ["--peer", peer]
    if action_rate is not None and "--action-rate" in options:
        args += ["--action-rate", str(action_rate)]  # the workload sends faster than an operator
    return args


@dataclass
class Proc:
    """One long-running process of the system on a lab host."""

    name: str
    host: str
    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None
    paused: bool = False

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self, lab: Lab) -> None:
        if not self.running:
            self.popen = spawn(lab, self.host, self.argv, self.log, self.env)
            self.paused = False

    def signal(self, sig: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, sig)

    def kill(self) -> None:
        """kill -9, as a crash would."""
        self.signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait()
        self.paused = False

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.paused = False

    def stop(self, timeout: float = 5.0) -> None:
        if not self.running:
            return
        self.resume()
        self.signal(signal.SIGTERM)
        assert self.popen is not None
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def http_ok(url: str, timeout: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return bool(r.status == 200)
    except OSError:
        return False


class LabSystem:
    def __init__(
        self, lab: Lab, heartbeat_ms: int | None = None, sim_site: str | None = None, alarms: str | None = None
    ) -> None:
        self.alarms = alarms  # the managers' [[alarms]] rules (TOML), e.g. app.demo.topology.DEMO_ALARMS
        self.lab = lab
        self.heartbeat_ms = heartbeat_ms
        self.sim_site = sim_site  # the sims' --site (None: their default, the demo site)
        self.workdir = lab.workdir
        self.token = secrets.token_urlsafe(32)
        self.pair_token = secrets.token_urlsafe(32)
        self.procs: dict[str, Proc] = {}
        self.consoles: dict[str, ConsoleProcess] = {}
        self.old_consoles: list[ConsoleProcess] = []
        self.console_args: dict[str, list[str]] = {}
        self.options = manager_options()  # once per lab
        self.use_etcd = "--etcd" in self.options
        self.etcd_available = self._etcd_available()
        # A Topology holding the lab's URLs, so its readiness checks (wait_ready, wait_settled) run here too,
        # from a thread inside the router's namespace.
        self.topo = Topology(self.workdir)
        for role in ROLES:
            self.topo.parts[f"{role} server"] = Part(f"{role} server", [], self.server_url(role), self.log("x"))
            self.topo.parts[f"{role} manager"] = Part(f"{role} manager", [], self.manager_url(role), self.log("x"))

    # -- addresses

    def url(self, host: str, port: int) -> str:
        return f"http://{self.lab.addr(host)}:{port}"

    def server_url(self, role: str) -> str:
        return self.url(SERVER_HOST[role], SIM_PORT)

    def manager_url(self, role: str) -> str:
        return self.url(MANAGER_HOST[role], MANAGER_PORT)

    def etcd_urls(self) -> list[str]:
        return [self.url(h, ETCD_CLIENT) for h in ETCD_HOST.values()]

    @property
    def journal(self) -> Path:
        return self.topo.journal

    def log(self, name: str) -> Path:
        return self.workdir / f"{name.replace(' ', '-')}.log"

    def host_dir(self, host: str) -> Path:
        d = self.workdir / host
        d.mkdir(parents=True, exist_ok=True)
        return d

    # -- command lines

    def sim_args(self, role: str) -> list[str]:
        other = "secondary" if role == "primary" else "primary"
        host = SERVER_HOST[role]
        args = [
            *program(),
            "sim",
            "--role",
            role,
            "--listen",
            f"{self.lab.addr(host)}:{SIM_PORT}",
            "--peer",
            self.server_url(other),
            "--journal",
            str(self.journal),
            "--state-dir",
            str(self.host_dir(host) / "state"),
            "--failback",
            "auto",
        ]
        if self.heartbeat_ms:
            args += ["--heartbeat-ms", str(self.heartbeat_ms)]
        if self.sim_site:
            args += ["--site", self.sim_site]
        return args

    def manager_config(self, role: str) -> Path:
        """The manager's secrets (a manager on a network address needs tokens), 0600 as it requires."""
        lines = [f'tokens = {{ lab = "{self.token}" }}']
        if "--peer" in self.options:
            lines.append(f'peer_token = "{self.token}"')
        if self.alarms:
            lines.append(self.alarms)
        path = self.host_dir(MANAGER_HOST[role]) / "manager.toml"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        return path

    def manager_args(self, role: str) -> list[str]:
        host = MANAGER_HOST[role]
        other = "secondary" if role == "primary" else "primary"
        return manager_command(
            self.options,
            role,
            listen=f"{self.lab.addr(host)}:{MANAGER_PORT}",
            servers=[self.server_url(r) for r in ROLES],
            peer=self.manager_url(other),
            etcd=self.etcd_urls(),
            state_dir=self.host_dir(host) / "state",
            config=self.manager_config(role),
        )

    def _etcd_available(self) -> bool:
        try:
            from app.demo.etcd import etcd_binary
        except ImportError:  # a checkout from before the etcd work: its managers do not use etcd
            return False
        try:
            etcd_binary()
        except RuntimeError as exc:
            if self.use_etcd:
                raise LabError(f"{exc}") from None
            return False
        return True

    def etcd_args(self, name: str) -> list[str]:
        from app.demo.etcd import EtcdMember, member_args

        members = [EtcdMember(n, self.lab.addr(h), ETCD_CLIENT, ETCD_PEER) for n, h in ETCD_HOST.items()]
        me = next(m for m in members if m.name == name)
        return member_args(me, members, self.host_dir(ETCD_HOST[name]) / f"{name}.data")

    def console_argv(self, c: str) -> list[str]:
        other = "B" if c == "A" else "A"
        return [
            "--station",
            f"desk{c}",
            "--pair-role",
            "primary" if c == "A" else "secondary",
            "--pair",
            "lab",
            "--peer",
            self.url(CONSOLE_HOST[other], PAIR_PORT),
            "--peer-listen",
            f"{self.lab.addr(CONSOLE_HOST[c])}:{PAIR_PORT}",
            "--managers",
            ",".join(self.manager_url(r) for r in ROLES),
            "--servers",
            ",".join(self.server_url(r) for r in ROLES),
        ]

    # -- starting and stopping

    def add(self, name: str, host: str, argv: list[str]) -> Proc:
        p = Proc(name, host, argv, self.log(name))
        self.procs[name] = p
        return p

    def start(self, consoles: bool = True, timeout: float = 40.0) -> None:
        """Everything started (from this thread: the children die with it) and settled."""
        for role in ROLES:
            self.add(f"{role} server", SERVER_HOST[role], self.sim_args(role))
        if self.etcd_available:
            for name, host in ETCD_HOST.items():
                self.add(name, host, self.etcd_args(name))
        for role in ROLES:
            self.add(f"{role} manager", MANAGER_HOST[role], self.manager_args(role))
        for p in self.procs.values():
            p.start(self.lab)
        self.wait_ready(timeout)
        self.wait_settled(timeout)
        if consoles:
            for c in CONSOLE_HOST:
                self.start_console(c)
            self.wait_until(
                lambda: all(x.find(lambda m: "ready" in m) for x in self.consoles.values()), timeout, "consoles"
            )

    def console_env(self) -> dict[str, str]:
        return {"SENSETWIN_TOKEN": self.token, "SENSETWIN_PAIR_TOKEN": self.pair_token}

    def start_console(self, c: str) -> ConsoleProcess:
        self.console_args[c] = self.console_argv(c)
        old = self.consoles.get(c)
        if old is not None:
            self.old_consoles.append(old)
        con = ConsoleProcess(
            self.console_args[c],
            self.log(f"console-{c}"),
            env=self.console_env(),
            prefix=["ip", "netns", "exec", self.lab.ns(CONSOLE_HOST[c])],
            cwd=APP_DIR,
        )
        self.consoles[c] = con
        return con

    def wait_until(self, cond: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not reached within {timeout:.0f} s (logs in {self.workdir})")
            time.sleep(0.05)

    def etcd_healthy(self, name: str) -> bool:
        url = self.url(ETCD_HOST[name], ETCD_CLIENT) + "/health"
        try:
            with urllib.request.urlopen(url, timeout=1.0) as r:
                return bool(json.loads(r.read()).get("health") == "true")
        except (OSError, ValueError):
            return False

    def wait_ready(self, timeout: float = 40.0) -> None:
        for name in [n for n in self.procs if n.startswith("etcd")]:
            self.wait_until(functools.partial(self.lab.call, self.etcd_healthy, name), timeout, f"{name} healthy")
        for name, part in self.topo.parts.items():
            up = functools.partial(self.lab.call, http_ok, part.url + "/info")
            self.wait_until(up, timeout, f"{name} answering")

    def wait_settled(self, timeout: float = 40.0) -> None:
        """The primary server active, the secondary standby, the managers in their normal roles (the Topology's
        own definition of settled, checked from the router's namespace)."""
        self.lab.call(self.topo.wait_settled, timeout)

    def on_host(self, host: str) -> list[Proc]:
        return [p for p in self.procs.values() if p.host == host]

    def host_down(self, host: str) -> list[str]:
        """A power cut: the host's traffic vanishes at the router, then every process on it is SIGKILLed.
        Returns what was running there (host_up restarts it)."""
        self.lab.isolate(host)
        self.lab.down.add(host)
        kill_netns_processes(self.lab.ns(host))
        was = [p.name for p in self.on_host(host) if p.popen is not None]
        for p in self.on_host(host):
            if p.popen is not None:
                p.popen.wait()
            p.paused = False
        for c, h in CONSOLE_HOST.items():
            if h == host and c in self.consoles:
                was.append(f"console {c}")
        return was

    def host_up(self, host: str) -> None:
        """Power back: the links come back and the host's processes start again (same disks)."""
        for cut in [c for c in self.lab.cuts if c.what == f"{host} isolated"]:
            self.lab.heal(cut)
        self.lab.down.discard(host)
        for p in self.on_host(host):
            p.start(self.lab)
        for c, h in CONSOLE_HOST.items():
            if h == host and c in self.consoles:
                self.start_console(c)

    def stop(self) -> None:
        for con in [*self.consoles.values(), *self.old_consoles]:
            with contextlib.suppress(Exception):
                con.stop()
        for p in reversed(list(self.procs.values())):  # managers, etcd members, then servers
            p.stop(3.0)

    def __enter__(self) -> LabSystem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def journal_entries(sys_: LabSystem) -> list[dict[str, Any]]:
    from app.sim import read_journal

    return [dict(e) for e in read_journal(sys_.journal)]
