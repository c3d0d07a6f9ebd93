from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from app.cli import main
from app.manager import ManagerSettings, Role, load_toml


def test_toml_config_gives_every_setting(tmp_path: Path) -> None:
    f = tmp_path / "manager.toml"
    f.write_text(
        '[manager]\nrole = "secondary"\nlisten = "127.0.0.1:9100"\n'
        'servers = ["http://10.0.0.1", "http://10.0.0.2/"]\npeer = "http://10.0.0.5:9100"\n'
        'state_dir = "/var/lib/sensetwin"\nqueue_timeout = 2\ndedup_window = 300\n'
    )
    s = ManagerSettings(**load_toml(f))
    s.check()
    assert s.role is Role.SECONDARY and (s.host, s.port) == ("127.0.0.1", 9100)
    assert s.servers == ["http://10.0.0.1", "http://10.0.0.2"] and s.peer_url == "http://10.0.0.5:9100"
    assert s.queue_timeout == 2.0 and isinstance(s.queue_timeout, float) and s.dedup_window == 300.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("role = 'primary'\ncolour = 'red'\n", r"unknown key\(s\) colour"),
        ("role = \n", "not valid TOML"),
        ("listen = '127.0.0.1:http'\n", "needs a port number"),
    ],
)
def test_bad_config_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_toml(f)


def test_manager_command_line_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="give --servers"):
        main(["manager", "--role", "primary", "--state-dir", str(tmp_path)])
    with pytest.raises(SystemExit, match="not an http"):
        main(["manager", "--role", "primary", "--servers", "ftp://x", "--state-dir", str(tmp_path)])
    with pytest.raises(SystemExit, match="cannot read config file"):
        main(["manager", "--config", str(tmp_path / "missing.toml")])


@pytest.mark.parametrize("role", ["primary", "secondary"])
def test_shipped_example_configs_are_valid_once_the_tokens_are_set(role: str, tmp_path: Path) -> None:
    f = Path(__file__).resolve().parents[2] / "packaging" / "config" / f"manager-{role}.toml"
    with pytest.raises(ValueError, match="chmod 600"):
        load_toml(f)  # as checked out (0644): refused, it holds tokens
    copy = tmp_path / "copy.toml"
    copy.write_text(f.read_text())
    copy.chmod(0o600)
    with pytest.raises(ValueError, match="CHANGE-ME"):
        ManagerSettings(**load_toml(copy)).check()  # nobody runs the example tokens by mistake
    mine = tmp_path / "m.toml"
    mine.write_text(f.read_text().replace("CHANGE-ME", "site-secret"))
    mine.chmod(0o600)
    s = ManagerSettings(**load_toml(mine))
    s.check()
    assert s.role.value == role and len(s.servers) == 2 and s.peer_url and s.peer_token in s.tokens.values()
    keys = {line.split("=")[0].strip().lstrip("# ") for line in f.read_text().splitlines() if "=" in line}
    documented = {k.name for k in fields(ManagerSettings)} - {"extra", "host", "port", "peer_url", "tokens"}
    assert documented <= keys, f"keys missing from the example: {documented - keys}"
