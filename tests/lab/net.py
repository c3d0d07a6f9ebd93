"""A virtual LAN of Linux network namespaces: one router, every host on its own veth link to it.

Each host namespace has `eth0` (MTU 1500, GSO off so the wire carries real 1,500-byte frames) with address
10.250.<i>.2/24 and a default route to the router's end of its link (10.250.<i>.1, an interface named after the
host). Links are rate-shaped with `tc tbf` at both ends. Faults are made at the router, never in a sender's own
namespace (there a blackhole or prohibit route fails at once, see TESTING.md):

- a *silent* cut: `ip rule add from A to B lookup 100`, table 100 = `blackhole default` (packets vanish);
- a *refused* cut: the same rule to table 101 = `prohibit default` (the router answers ICMP at once);
- a host down: every packet from or to its address blackholed, then every process in its namespace SIGKILLed.

Everything a lab creates is named with its prefix (`stl<pid>-`), recorded in a marker file that holds the owner's
pid, and removed on teardown, at exit, on SIGTERM/SIGHUP, and by the next lab's start when the owner is dead.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import ctypes
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from app.demo.topology import _die_with_parent

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
# The checkout whose `app` the lab's processes run (`python -m app` from there): this one, or another tree given
# in SENSETWIN_LAB_APP (e.g. an export of an older commit, to measure it on the same lab).
APP_DIR = Path(os.environ.get("SENSETWIN_LAB_APP") or ROOT)
HOSTS = ("srv-p", "srv-s", "mgr-p", "mgr-s", "con-a", "con-b", "witness")
PROFILES = {  # name: (rate, burst, queue latency)
    "lan": ("100mbit", "64kb", "50ms"),
    "slow": ("2mbit", "8kb", "200ms"),
}
SILENT_TABLE, REFUSED_TABLE = 100, 101
MODES = {"silent": SILENT_TABLE, "refused": REFUSED_TABLE}
NAME_RE = re.compile(r"^(stl(\d+)(?:x\d+)?-)")
USERNS_ENV = "SENSETWIN_LAB_USERNS"  # set inside the `unshare --user` re-exec
REAL_UID_ENV = "SENSETWIN_LAB_REAL_UID"  # and the uid of the user who started it
CLONE_NEWNET = 0x40000000


class LabError(RuntimeError):
    """A lab that cannot be built or used; the message is one line that says what to do."""


def state_dir() -> Path:
    """Where each lab keeps its marker file (owner pid, prefix, namespaces): per real user (inside the user
    namespace of a normal user's lab, uid 0 is that user)."""
    uid = os.environ.get(REAL_UID_ENV) if in_user_namespace() else None
    return Path(tempfile.gettempdir()) / f"sensetwin-lab-state-{uid or os.getuid()}"


# -- small process helpers -------------------------------------------------------------------------------------


def run(args: Sequence[str], check: bool = True, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    try:
        p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise LabError(f"`{args[0]}` is not installed; install iproute2 (apt-get install iproute2)") from None
    if check and p.returncode != 0:
        raise LabError(f"`{' '.join(args)}` failed: {(p.stderr or p.stdout).strip().splitlines()[-1:]}")
    return p


def proc_start_time(pid: int) -> str | None:
    """The kernel's start time of a process (field 22 of /proc/PID/stat): tells a live owner from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def alive(pid: int, start: str | None = None) -> bool:
    now = proc_start_time(pid)
    return now is not None and (start is None or now == start)


def netns_list() -> list[str]:
    if shutil.which("ip") is None:
        return []
    out = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def netns_pids(ns: str) -> list[int]:
    out = run(["ip", "netns", "pids", ns], check=False).stdout
    return [int(x) for x in out.split() if x.isdigit()]


def kill_netns_processes(ns: str, timeout: float = 5.0) -> None:
    """SIGKILL every process in a namespace (a power cut) and wait until none is left."""
    deadline = time.monotonic() + timeout
    while True:
        pids = netns_pids(ns)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise LabError(f"processes {pids} in namespace {ns} survive SIGKILL")
        time.sleep(0.02)


def remove_netns(ns: str) -> None:
    kill_netns_processes(ns)
    run(["ip", "netns", "del", ns], check=False)


def root_links() -> list[str]:
    """Interface names in the namespace this process runs in (the lab never puts one there)."""
    out = run(["ip", "-o", "link", "show"], check=False).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def userns_possible() -> bool:
    """Can this (non-root) user make a user namespace with its own network and mounts?"""
    if shutil.which("unshare") is None:
        return False
    try:
        p = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--net", "--mount", "true"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


def privileged() -> bool:
    return os.geteuid() == 0


def in_user_namespace() -> bool:
    return os.environ.get(USERNS_ENV) == "1"


def userns_command(argv: Sequence[str]) -> list[str]:
    """argv run as root of a new user namespace, with its own network and mounts (a normal user's lab)."""
    marks = [f"{USERNS_ENV}=1", f"{REAL_UID_ENV}={os.getuid()}"]
    return ["unshare", "--user", "--map-root-user", "--net", "--mount", "--fork", "--", "env", *marks, *argv]


def prepare_user_namespace() -> None:
    """Inside the `unshare` re-exec: a private /run/netns, so `ip netns add` can bind-mount its namespaces."""
    target = "/run/netns" if Path("/run/netns").is_dir() else "/run"
    run(["mount", "-t", "tmpfs", "-o", "mode=755", "lab-netns", target])
    Path("/run/netns").mkdir(exist_ok=True)


def preflight() -> str | None:
    """Why no lab can be built here (one line with what to do), or None when one can."""
    for tool, pkg in (("ip", "iproute2"), ("tc", "iproute2")):
        if shutil.which(tool) is None:
            return f"the `{tool}` command is missing; install it with: apt-get install {pkg}"
    if not privileged():
        if userns_possible():
            return None  # the caller re-execs inside `unshare --user ...`
        return (
            "building the lab needs root (network namespaces, veth links, tc); run as root "
            "(user namespaces are not available to this user here)"
        )
    return None


# -- running code inside a namespace from this process ---------------------------------------------------------

_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _enter_netns(ns: str) -> None:
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({ns}): {os.strerror(err)}")
    finally:
        os.close(fd)


# -- the lab ---------------------------------------------------------------------------------------------------


@dataclass
class Rule:
    priority: int
    selector: list[str]  # e.g. ["from", "10.250.3.2/32", "to", "10.250.4.2/32"]
    table: int


@dataclass
class Cut:
    """One fault made of router rules: remove it with Lab.heal(cut)."""

    what: str
    rules: list[Rule] = field(default_factory=list)


_live: list[Lab] = []
_counter = itertools.count()
_handlers_installed = False


def _teardown_live() -> None:
    for lab in list(_live):
        lab.teardown()


def _on_signal(signum: int, frame: object) -> None:
    _teardown_live()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_teardown_live)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _on_signal)


class Lab:
    def __init__(
        self,
        workdir: Path | None = None,
        hosts: Iterable[str] = HOSTS,
        profile: str = "lan",
        prefix: str | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise LabError(f"unknown link profile {profile!r}; use one of {', '.join(PROFILES)}")
        n = next(_counter)
        self.prefix = prefix or (f"stl{os.getpid()}-" if n == 0 else f"stl{os.getpid()}x{n}-")
        if not NAME_RE.match(self.prefix):
            raise LabError(f"lab prefix {self.prefix!r} must look like stl<pid>-")
        self.hosts = list(hosts)
        self.profile = profile
        self.own_workdir = workdir is None  # made here, removed on teardown
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="sensetwin-lab-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.router = f"{self.prefix}router"
        self.created: list[str] = []
        self.cuts: list[Cut] = []
        self.down: set[str] = set()
        self._prio = itertools.count(1000)
        self._executors: dict[str, concurrent.futures.ThreadPoolExecutor] = {}
        self._lock = threading.RLock()  # teardown may run from a signal handler
        self.marker = state_dir() / f"{self.prefix}json"
        self.built = False
        self.torn_down = False

    # -- names and addresses

    def ns(self, host: str) -> str:
        return f"{self.prefix}{host}"

    def index(self, host: str) -> int:
        return self.hosts.index(host) + 1

    def addr(self, host: str) -> str:
        return f"10.250.{self.index(host)}.2"

    def router_addr(self, host: str) -> str:
        return f"10.250.{self.index(host)}.1"

    def namespaces(self) -> list[str]:
        return [self.router, *(self.ns(h) for h in self.hosts)]

    # -- building

    def build(self) -> Lab:
        why = preflight()
        if why is None and not privileged():
            why = "this process is not root: start the lab through `python -m tests.lab` (it re-execs itself in a "
            why += "user namespace) or run as root"
        if why:
            raise LabError(why)
        clean_stale()
        taken = [n for n in self.namespaces() if n in netns_list()]
        if taken:
            raise LabError(
                f"network namespace {taken[0]} already exists (another lab uses this name); "
                f"remove it with `python -m tests.lab clean` or `ip netns del {taken[0]}`, or pick another prefix"
            )
        _install_handlers()
        _live.append(self)
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        self._write_marker()
        try:
            self._build()
        except BaseException:
            self.teardown()
            raise
        self.built = True
        return self

    def _write_marker(self) -> None:
        data = {
            "pid": os.getpid(),
            "start": proc_start_time(os.getpid()),
            "prefix": self.prefix,
            "namespaces": self.namespaces(),
            "workdir": str(self.workdir),
            "own_workdir": self.own_workdir,
        }
        self.marker.write_text(json.dumps(data))

    def _add_netns(self, name: str) -> None:
        p = run(["ip", "netns", "add", name], check=False)
        if p.returncode != 0:
            msg = p.stderr.strip()
            if "exist" in msg.lower():
                raise LabError(f"network namespace {name} already exists (a name already taken); try again")
            raise LabError(f"cannot create network namespace {name}: {msg}; run as root")
        self.created.append(name)

    def _build(self) -> None:
        r = self.router
        self._add_netns(r)
        self.sh(r, "ip link set lo up")
        self.sh(r, "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0")
        self.sh(r, f"ip route add blackhole default table {SILENT_TABLE}")
        self.sh(r, f"ip route add prohibit default table {REFUSED_TABLE}")
        for h in self.hosts:
            ns = self.ns(h)
            self._add_netns(ns)
            self.sh(r, f"ip link add name {h} mtu 1500 type veth peer name eth0 netns {ns}")
            self.sh(r, f"ip link set dev {h} gso_max_size 1500")
            self.sh(r, f"ip addr add {self.router_addr(h)}/24 dev {h}")
            self.sh(r, f"ip link set dev {h} up")
            self.sh(ns, "ip link set lo up")
            self.sh(ns, "ip link set eth0 mtu 1500 gso_max_size 1500")
            self.sh(ns, f"ip addr add {self.addr(h)}/24 dev eth0")
            self.sh(ns, "ip link set eth0 up")
            self.sh(ns, f"ip route add default via {self.router_addr(h)}")
            self.shape(h, self.profile)

    def sh(self, ns: str, command: str) -> str:
        """One short command (words split on spaces) inside a namespace; a LabError if it fails."""
        return run(["ip", "netns", "exec", ns, *command.split()]).stdout

    def shape(self, host: str, profile: str) -> None:
        """Rate-shape a host's link at both ends (its eth0 and the router's end)."""
        rate, burst, latency = PROFILES[profile]
        for ns, dev in ((self.ns(host), "eth0"), (self.router, host)):
            self.sh(ns, f"tc qdisc replace dev {dev} root tbf rate {rate} burst {burst} latency {latency}")

    # -- running code in a namespace

    def executor(self, host: str | None = None) -> concurrent.futures.ThreadPoolExecutor:
        """Threads that live in a host's namespace (the router's by default): sockets they open are that
        host's. Used for probes and checks from the test process; never start child processes from them (the
        children's PDEATHSIG follows the thread)."""
        ns = self.router if host is None else self.ns(host)
        with self._lock:
            ex = self._executors.get(ns)
            if ex is None:
                ex = concurrent.futures.ThreadPoolExecutor(4, f"lab-{ns}", initializer=_enter_netns, initargs=(ns,))
                self._executors[ns] = ex
            return ex

    def call(self, fn: Callable[..., T], *args: Any, host: str | None = None, **kw: Any) -> T:
        return self.executor(host).submit(fn, *args, **kw).result()

    # -- faults

    def _rule(self, cut: Cut, selector: list[str], table: int) -> None:
        rule = Rule(next(self._prio), selector, table)
        self.sh(self.router, f"ip rule add priority {rule.priority} {' '.join(selector)} lookup {table}")
        cut.rules.append(rule)

    def cut(self, src: Iterable[str], dst: Iterable[str], mode: str = "silent", what: str = "") -> Cut:
        """Packets from every host of src to every host of dst vanish (silent) or are refused at once."""
        if mode not in MODES:
            raise LabError(f"unknown cut mode {mode!r}; use silent or refused")
        src, dst = list(src), list(dst)
        c = Cut(what or f"{'+'.join(src)} -> {'+'.join(dst)} {mode}")
        try:
            for a in src:
                for b in dst:
                    self._rule(c, ["from", f"{self.addr(a)}/32", "to", f"{self.addr(b)}/32"], MODES[mode])
        except BaseException:
            self.heal(c)
            raise
        self.cuts.append(c)
        return c

    def partition(
        self, a: Iterable[str], b: Iterable[str], mode: str = "silent", oneway: bool = False, back: str | None = None
    ) -> list[Cut]:
        """Cut group a from group b: both ways (back = the mode of b -> a, default the same), or a -> b only."""
        a, b = list(a), list(b)
        cuts = [self.cut(a, b, mode)]
        if not oneway:
            cuts.append(self.cut(b, a, back or mode))
        return cuts

    def heal(self, cut: Cut | Iterable[Cut]) -> None:
        for c in [cut] if isinstance(cut, Cut) else list(cut):
            for rule in c.rules:
                run(["ip", "netns", "exec", self.router, "ip", "rule", "del", "priority", str(rule.priority)], False)
            c.rules.clear()
            if c in self.cuts:
                self.cuts.remove(c)

    def heal_all(self) -> None:
        self.heal(list(self.cuts))

    def isolate(self, host: str) -> Cut:
        """All of a host's traffic vanishes at the router (both directions): its cable pulled."""
        c = Cut(f"{host} isolated")
        self._rule(c, ["from", f"{self.addr(host)}/32"], SILENT_TABLE)
        self._rule(c, ["to", f"{self.addr(host)}/32"], SILENT_TABLE)
        self.cuts.append(c)
        return c

    # -- teardown

    def teardown(self) -> None:
        if self.torn_down:
            return
        self.torn_down = True
        with self._lock:
            executors, self._executors = list(self._executors.values()), {}
        for ex in executors:  # a thread inside a namespace keeps it (and its links) alive
            ex.shutdown(wait=True, cancel_futures=True)
        for ns in reversed(self.created):
            with contextlib.suppress(LabError):
                remove_netns(ns)
        with contextlib.suppress(FileNotFoundError):
            self.marker.unlink()
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self in _live:
            _live.remove(self)

    def __enter__(self) -> Lab:
        return self.build()

    def __exit__(self, *exc: object) -> None:
        self.teardown()


def clean_stale(verbose: bool = False) -> list[str]:
    """Remove every lab whose owner process is gone: its namespaces (and their processes and links), its marker.
    Returns what was removed."""
    removed: list[str] = []
    owned_live: set[str] = set()
    folder = state_dir()
    for marker in sorted(folder.glob("stl*-json")) if folder.is_dir() else []:
        try:
            data = json.loads(marker.read_text())
            pid, start, prefix = int(data["pid"]), data.get("start"), str(data["prefix"])
        except (OSError, ValueError, KeyError, TypeError):
            marker.unlink(missing_ok=True)
            continue
        if alive(pid, start):
            owned_live.add(prefix)
            continue
        for ns in netns_list():
            if ns.startswith(prefix):
                remove_netns(ns)
                removed.append(ns)
        if data.get("own_workdir") and str(data.get("workdir", "")).startswith(tempfile.gettempdir()):
            shutil.rmtree(str(data["workdir"]), ignore_errors=True)
        marker.unlink(missing_ok=True)
    for ns in netns_list():  # namespaces of a lab whose marker was lost
        m = NAME_RE.match(ns)
        if m and m.group(1) not in owned_live and not alive(int(m.group(2))):
            remove_netns(ns)
            removed.append(ns)
    for link in root_links():  # the lab never puts a link here; one with its prefix is a leftover
        m = NAME_RE.match(link)
        if m and m.group(1) not in owned_live:
            run(["ip", "link", "del", link], check=False)
            removed.append(link)
    if verbose:
        for name in removed:
            print(f"removed {name}", file=sys.stderr)
    return removed


def spawn(
    lab: Lab, host: str, argv: Sequence[str], log: Path, env: dict[str, str] | None = None, stdin: Any = None
) -> subprocess.Popen[bytes]:
    """A process inside a host's namespace, dying with this process (PR_SET_PDEATHSIG; start it from the main
    thread, since the signal follows the thread that started it)."""
    out = open(log, "ab")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen(
            ["ip", "netns", "exec", lab.ns(host), *argv],
            cwd=APP_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            env={**os.environ, **env} if env else None,
            preexec_fn=_die_with_parent,
        )
    finally:
        out.close()
