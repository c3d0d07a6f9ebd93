"""The real Qt console on the lab: a window on host con-a (its own network namespace, an X server of its own under
Xvfb), reaching the two managers on their hosts over the routed LAN.

The lab and the system (sims, etcd members, managers; no headless consoles) are built here; the console runs as
a pytest run of its own (tests/lab/gui_inner.py) under `ip netns exec <con-a> xvfb-run`. The two runs hand over
through files in the lab's work folder: after the first action the inner run waits, this test checks the journal
and takes mgr-p's host down (links silent, processes killed), then the inner run sees the primary manager DOWN,
takes the next action through the secondary manager and saves a screenshot of the window.

Runs as root (CI). As a normal user with user namespaces it runs again inside one (as tests/lab/test_lab.py);
without either it is skipped, as it is when xvfb-run is missing and cannot be installed (not root).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.ui import xcb
from tests.lab.guard import lab_or_skip
from tests.lab.net import ROOT, Lab, in_user_namespace, netns_pids

pytestmark = pytest.mark.slow

OUTER = lab_or_skip()  # a normal user: the test runs again inside a user namespace
AS_ROOT = not OUTER

from tests.helpers import journal_counts  # noqa: E402
from tests.lab.system import CONSOLE_HOST, ROLES, LabSystem, journal_entries  # noqa: E402

HOST = CONSOLE_HOST["A"]  # con-a
SCREEN = "1600x1000x24"
INNER = Path(__file__).with_name("gui_inner.py")
QXCB = Path(sys.prefix, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}", "site-packages")
QXCB = QXCB / "PySide6" / "Qt" / "plugins" / "platforms" / "libqxcb.so"
# What the real X window needs beyond what Qt needs offscreen (.ci/run installs the same): the X server, its
# cookie tool, and the libraries Qt's xcb platform plugin loads, by the package that ships each.
XCB_PACKAGES = xcb.PACKAGES  # one list: app/ui/xcb.py, which the console and `make demo` use too


def missing_packages() -> list[str]:
    """The Debian packages the X window still needs here (empty when xvfb-run, xauth and every library that
    libqxcb.so loads are present)."""
    need = [] if shutil.which("xvfb-run") and shutil.which("Xvfb") else ["xvfb"]
    if shutil.which("xauth") is None:
        need.append("xauth")
    if QXCB.exists():
        ldd = subprocess.run(["ldd", str(QXCB)], capture_output=True, text=True, check=False).stdout
        for so in re.findall(r"^\s*(\S+) => not found", ldd, re.M):
            need.append(XCB_PACKAGES.get(so, so))
    return sorted(set(need))


@pytest.fixture(scope="module")
def x_server() -> None:
    """xvfb-run and the xcb libraries present: installed as root (apt-get, as .ci/run does) when missing,
    otherwise the test is skipped with the command that installs them."""
    need = missing_packages()
    if not need:
        return
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *need]
    if AS_ROOT and not in_user_namespace() and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, timeout=300)
        subprocess.run(cmd, env=env, check=False, timeout=600)
        need = missing_packages()
    if need:
        pytest.skip(f"the real X window needs {', '.join(need)}: run as root  {' '.join(cmd[:2])} {' '.join(need)}")


def x_files(x: dict[str, Any]) -> list[str]:
    """What an X server on `x["display"]` and its xvfb-run leave when they are killed: the lock file, the
    socket, xvfb-run's folder of the cookie."""
    n = str(x["display"]).lstrip(":").split(".")[0]
    found = [f"/tmp/.X{n}-lock", f"/tmp/.X11-unix/X{n}", str(Path(x["xauthority"]).parent)]
    return [f for f in found if os.path.lexists(f)]


class Console:
    """The inner pytest run (tests/lab/gui_inner.py) under xvfb-run inside a lab host's namespace."""

    def __init__(self, system: LabSystem, host: str) -> None:
        self.ns = system.lab.ns(host)
        self.dir = system.workdir / "gui"
        self.dir.mkdir()
        self.log = system.workdir / "console-gui.log"
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "xcb",
            "SENSETWIN_LAB_GUI_MANAGERS": ",".join(system.manager_url(r) for r in ROLES),
            "SENSETWIN_LAB_GUI_SERVERS": ",".join(system.server_url(r) for r in ROLES),
            "SENSETWIN_LAB_GUI_DIR": str(self.dir),
            "SENSETWIN_LAB_GUI_OWNER": str(os.getpid()),
            "SENSETWIN_TOKEN": system.token,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        argv = [
            "ip", "netns", "exec", self.ns,
            "xvfb-run", "-a", "-e", str(system.workdir / "xvfb.log"), "-s", f"-screen 0 {SCREEN}",
            sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-q", "-s",
            f"--basetemp={system.workdir / 'gui-pytest'}", str(INNER),
        ]  # fmt: skip
        with open(self.log, "wb") as out:
            self.popen = subprocess.Popen(
                argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, name: str, timeout: float) -> dict[str, Any]:
        """The hand-over file `name` the inner run writes; fails at once when the run ends without it."""
        path = self.dir / name
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.popen.poll() is not None:
                rc = self.popen.returncode
                pytest.fail(f"the console's run ended ({rc}) before {name}:\n{self.output()[-6000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {name} from the console within {timeout:.0f} s:\n{self.output()[-6000:]}")
            time.sleep(0.05)
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def answer(self, name: str) -> None:
        (self.dir / name).write_text("")

    def finish(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the console's run did not end within {timeout:.0f} s:\n{self.output()[-6000:]}")

    def stop(self) -> None:
        """End a run still going: SIGTERM to what xvfb-run started (the console's pytest, Xvfb: each ends
        cleanly), so xvfb-run ends and removes its files itself; xvfb-run by force only if it does not."""
        if self.popen.poll() is not None:
            return
        for pid in netns_pids(self.ns):
            if pid != self.popen.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class GuiLabSystem(LabSystem):
    up_s = 0.0  # how long the lab and the system took to come up


@pytest.fixture
def system(tmp_path: Path) -> Iterator[GuiLabSystem]:
    """The lab with two sims (the demo site), three etcd members and two managers; no headless consoles."""
    t0 = time.monotonic()
    lab = Lab(tmp_path).build()
    try:
        with GuiLabSystem(lab) as s:
            s.start(consoles=False)
            s.up_s = time.monotonic() - t0
            yield s
    finally:
        lab.teardown()


@pytest.mark.skipif(OUTER, reason="run inside a user namespace by test_console_on_the_lab_as_a_normal_user")
def test_console_on_the_lab_survives_the_primary_manager_host_down(x_server: None, system: GuiLabSystem) -> None:
    s = system
    started = time.monotonic()
    con = Console(s, HOST)
    try:
        # the strip was right and the first action (a camera dropped on a panel) was shown: executed once
        first = con.wait_for("before-host-down.json", 45)
        uid1 = first["action"]["uid"]
        s.wait_until(lambda: uid1 in journal_counts(s.journal), 5, "the first action in the journal")
        assert journal_counts(s.journal) == {uid1: 1}, journal_entries(s)

        was = s.host_down("mgr-p")
        assert sorted(was) == ["etcd-p", "primary manager"], was
        assert not netns_pids(s.lab.ns("mgr-p"))
        con.answer("host-down")

        # the primary manager DOWN on the strip, the next action through the secondary manager
        second = con.wait_for("after-host-down.json", 45)
        rc = con.finish(20)
        out = con.output()
        print(out[-3000:])
        assert rc == 0, out[-6000:]
    finally:
        con.stop()
    uid2 = second["action"]["uid"]
    s.wait_until(lambda: uid2 in journal_counts(s.journal), 5, "the second action in the journal")
    entries = journal_entries(s)
    assert journal_counts(s.journal) == {uid1: 1, uid2: 1}, entries
    assert [(e["uid"], e["server"], e["command"]) for e in entries] == [
        (uid1, "primary", "selectCamera"),
        (uid2, "primary", "selectCamera"),
    ]
    assert entries[0]["params"]["panelid"] != entries[1]["params"]["panelid"]
    assert second["action"]["first"] == "secondary", second
    print(f"strip with mgr-p's host down, before the next action: {second['down']}")
    print(f"after it: {second['tiles']}, banner {second['banner']!r}; its answers {second['action']['answers']}")
    shot = Path(second["screenshot"])
    assert shot.stat().st_size > 20_000, shot  # a window, not a blank
    print(f"screenshot: {shot}")
    print(f"lab and system up in {s.up_s:.1f} s, the console's run {time.monotonic() - started:.1f} s")
    # nothing left behind by the console's run: no process on con-a (Xvfb ran there), none of the X files
    x = json.loads((con.dir / "x.json").read_text())
    assert x["display"] and Path(x["xauthority"]).parent.name.startswith("xvfb-run."), x
    s.wait_until(lambda: not netns_pids(s.lab.ns(HOST)) and not x_files(x), 10, "Xvfb gone")


@pytest.mark.skipif(not OUTER, reason="runs only as a normal user (as root the test above runs directly)")
def test_console_on_the_lab_as_a_normal_user(x_server: None) -> None:
    """This module again, inside a user namespace of its own (root there, nobody outside)."""
    from tests.lab.net import userns_command

    env = {k: v for k, v in os.environ.items() if k != "SENSETWIN_LAB_USERNS_READY"}
    p = subprocess.run(
        userns_command([sys.executable, "-m", "tests.lab.inner_pytest", "-s", "-k", "survives", __file__]),
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    print(p.stdout[-3000:])
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    summary = p.stdout.strip().splitlines()[-1]
    assert "1 passed" in summary and "skipped" not in summary, p.stdout[-2000:]
