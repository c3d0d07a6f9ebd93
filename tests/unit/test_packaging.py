"""The deployment files say what the README says they do: the systemd unit is hardened and valid, the Windows
files are well-formed and point at the bundle, the PyInstaller spec carries every resources folder."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "packaging"


def _unit() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (PACK / "systemd" / "sensetwin-manager@.service").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def test_the_systemd_unit_restarts_runs_as_its_own_user_and_is_hardened() -> None:
    u = _unit()
    assert u["Restart"] == ["on-failure"] and u["User"] == ["sensetwin"] and u["Group"] == ["sensetwin"]
    assert u["ExecStart"] == ["/opt/sensetwin/sensetwin manager --config /etc/sensetwin/manager-%i.toml"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ReadWritePaths": "/var/lib/sensetwin",
    }.items():
        assert u[key] == [value], key


def test_the_systemd_unit_passes_systemd_analyze_where_it_exists(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    text = (PACK / "systemd" / "sensetwin-manager@.service").read_text()
    copy = tmp_path / "sensetwin-manager@primary.service"
    copy.write_text(text.replace("/opt/sensetwin/sensetwin", "/bin/true"))  # the bundle is not installed here
    if tool is None:  # no systemd on this machine: the parse above is all that can be checked
        assert "[Service]" in text and "[Install]" in text
        return
    out = subprocess.run([tool, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    problems = [ln for ln in out.stderr.splitlines() if "sensetwin" in ln]
    assert not problems, problems


def test_the_windows_service_and_installer_point_at_the_bundle() -> None:
    svc = ET.parse(PACK / "windows" / "sensetwin-manager-primary.xml").getroot()
    assert svc.findtext("executable", "").endswith("\\sensetwin.exe")
    assert svc.findtext("arguments", "").startswith("manager --config ")
    assert svc.find("onfailure") is not None and svc.find("onfailure").get("action") == "restart"  # type: ignore[union-attr]
    iss = (PACK / "windows" / "sensetwin.iss").read_text()
    assert 'Source: "..\\..\\dist\\sensetwin\\*"' in iss and "{app}\\sensetwin.exe" in iss
    assert "NOT TRIED" in iss and "NOT TRIED" in (PACK / "windows" / "sensetwin-manager-primary.xml").read_text()


def test_the_bundle_spec_carries_every_resources_folder() -> None:
    spec = (PACK / "pyinstaller" / "sensetwin.spec").read_text()
    listed = set(re.search(r"for d in \(([^)]*)\)", spec).group(1).replace('"', "").replace(" ", "").split(","))  # type: ignore[union-attr]
    folders = {p.name for p in (ROOT / "resources").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders <= listed, f"add {folders - listed} to the datas of sensetwin.spec"
