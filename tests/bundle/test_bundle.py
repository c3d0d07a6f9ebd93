"""The PyInstaller bundle works without the source tree or the venv: `make bundle-test` builds it and runs these
(SENSETWIN_BUNDLE is the bundled binary). Each test starts the binary as an operator or a service would."""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest

from app import __version__
from app.demo import free_port
from app.sense import parse_xml
from tests.helpers import wait_for

BUNDLE = Path(os.environ.get("SENSETWIN_BUNDLE", "dist/sensetwin/sensetwin")).resolve()


@pytest.fixture(scope="module")
def bundle() -> Path:
    assert BUNDLE.is_file(), f"no bundle at {BUNDLE}: build it with `make bundle`"
    return BUNDLE


def _clean_env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH, no venv: the bundle must carry everything itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = "/usr/bin:/bin"
    return {**env, **extra}


def test_the_bundle_reports_its_version(bundle: Path) -> None:
    out = subprocess.run([bundle, "--version"], capture_output=True, text=True, timeout=60, env=_clean_env())
    assert out.returncode == 0 and out.stdout.strip() == f"sensetwin {__version__}"


def test_the_bundled_sim_answers_info(bundle: Path) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [bundle, "sim", "--role", "primary", "--listen", f"127.0.0.1:{port}"],
            cwd=tmp,
            env=_clean_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:

            def info() -> bool:
                try:
                    root = parse_xml(httpx.get(f"http://127.0.0.1:{port}/info", timeout=1).content)
                except httpx.HTTPError:
                    return False
                return root.findtext("version") == "2.6.1" and root.findtext("site") == "Demo control room"

            wait_for(info, 60, "the bundled sim answering /info")
        finally:
            proc.terminate()
            proc.wait(10)


def test_the_bundled_console_runs_the_demo_and_saves_a_screenshot(bundle: Path, tmp_path: Path) -> None:
    shot = tmp_path / "console.png"
    out = subprocess.run(
        [bundle, "demo", "--screenshot", str(shot), "--state-dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env=_clean_env(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path)),
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 800 and height >= 500 and len(data) > 20_000  # a drawn window, not an empty one


def test_the_bundle_checks_a_running_system_and_installs_a_menu_entry(bundle: Path, tmp_path: Path) -> None:
    env = _clean_env(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "share"))
    out = subprocess.run([bundle, "install-desktop"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    entry = (tmp_path / "share" / "applications" / "sensetwin.desktop").read_text()
    assert f"Exec={bundle}\n" in entry and "Icon=sensetwin" in entry
    assert (tmp_path / "share" / "icons" / "hicolor" / "256x256" / "apps" / "sensetwin.png").stat().st_size > 1000
    out = subprocess.run(
        [bundle, "check", "--managers", "http://127.0.0.1:9,http://127.0.0.1:9", "--servers", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 1 and "unreachable" in out.stdout  # nothing listens on port 9
