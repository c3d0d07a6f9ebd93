from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from app.cli import _manager_settings, build_parser, main
from app.manager import ManagerSettings, Role, load_toml
from app.manager.settings import _REPLACED
from app.security import Secret

ROOT = Path(__file__).resolve().parents[2]
ETCD = ["http://10.0.0.5:2379", "http://10.0.0.6:2379", "http://10.0.0.7:2379"]


def test_toml_config_gives_every_setting(tmp_path: Path) -> None:
    f = tmp_path / "manager.toml"
    f.write_text(
        '[manager]\nrole = "secondary"\nlisten = "127.0.0.1:9100"\n'
        'servers = ["http://10.0.0.1", "http://10.0.0.2/"]\n'
        'etcd = ["http://10.0.0.5:2379", "http://10.0.0.6:2379/", "http://10.0.0.7:2379"]\n'
        'etcd_prefix = "/north/"\nsite = "north"\netcd_ttl = 3\netcd_timeout = 1\netcd_start_wait = 5\n'
        'state_dir = "/var/lib/sensetwin"\nqueue_timeout = 2\ndedup_window = 300\n'
    )
    s = ManagerSettings(**load_toml(f))
    s.check()
    assert s.role is Role.SECONDARY and (s.host, s.port) == ("127.0.0.1", 9100)
    assert s.servers == ["http://10.0.0.1", "http://10.0.0.2"] and s.etcd == ETCD
    assert (s.etcd_prefix, s.site, s.etcd_ttl) == ("/north/", "north", 3) and not s.etcd_trial
    assert s.etcd_timeout == 1.0 and isinstance(s.etcd_timeout, float) and s.etcd_start_wait == 5.0
    assert s.queue_timeout == 2.0 and isinstance(s.queue_timeout, float) and s.dedup_window == 300.0
    assert s.state_dir == Path("/var/lib/sensetwin")


def test_etcd_members_may_be_one_comma_separated_string(tmp_path: Path) -> None:
    f = tmp_path / "manager.toml"
    f.write_text('role = "primary"\nservers = "http://10.0.0.1"\netcd = "' + ", ".join(ETCD) + '/"\n')
    assert load_toml(f)["etcd"] == ETCD


def test_the_defaults_are_the_documented_ones() -> None:
    s = ManagerSettings(Role.PRIMARY, ["http://10.0.0.1"], Path("/tmp"), etcd=ETCD)
    s.check()
    assert (s.queue_timeout, s.hold_timeout, s.upstream_timeout) == (0.4, 1.0, 0.8)
    assert (s.etcd_prefix, s.site, s.etcd_ttl, s.etcd_allow_fewer) == ("/sensetwin/", "sensetwin", 2, False)
    assert not s.etcd_tls_needed


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


@pytest.mark.parametrize("key", _REPLACED)
def test_a_key_of_the_old_manager_to_manager_link_is_refused_with_what_replaced_it(tmp_path: Path, key: str) -> None:
    f = tmp_path / "old.toml"
    f.write_text(f'[manager]\nrole = "primary"\nservers = ["http://10.0.0.1"]\n{key} = "0.5"\n')
    with pytest.raises(ValueError, match=rf"{key} belonged to the direct manager-to-manager link.*etcd = \["):
        load_toml(f)


def test_the_old_peer_option_is_gone_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["manager", "--role", "primary", "--peer", "http://10.0.0.6:9101"])
    assert info.value.code == 2 and "unrecognized arguments: --peer" in capsys.readouterr().err


def _settings(tmp_path: Path, *args: str) -> ManagerSettings:
    return _manager_settings(build_parser().parse_args(["manager", "--state-dir", str(tmp_path), *args]))


def test_manager_command_line_gives_the_etcd_settings(tmp_path: Path) -> None:
    s = _settings(
        tmp_path,
        *("--role", "primary", "--servers", "http://10.0.0.1"),
        *("--etcd", ",".join(ETCD), "--etcd-prefix", "/south/", "--site", "south"),
    )
    assert s.etcd == ETCD and (s.etcd_prefix, s.site, s.etcd_allow_fewer) == ("/south/", "south", False)
    one = _settings(
        tmp_path, "--role", "primary", "--servers", "http://10.0.0.1", "--etcd", ETCD[0], "--etcd-allow-fewer"
    )
    assert one.etcd == ETCD[:1] and one.etcd_allow_fewer and one.etcd_trial


def test_manager_command_line_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    base = ["manager", "--role", "primary", "--state-dir", str(tmp_path)]
    with pytest.raises(SystemExit, match="give --servers"):
        main(base)
    with pytest.raises(SystemExit, match="not an http"):
        main([*base, "--servers", "ftp://x", "--etcd", ",".join(ETCD)])
    with pytest.raises(SystemExit, match="'ftp://e:1' is not an http"):
        main([*base, "--servers", "http://x", "--etcd", "ftp://e:1,http://e:2,http://e:3"])
    with pytest.raises(SystemExit, match="etcd: give the three etcd members"):
        main([*base, "--servers", "http://x"])
    with pytest.raises(SystemExit, match=r"2 member\(s\) given, a control room needs three.*--etcd-allow-fewer"):
        main([*base, "--servers", "http://x", "--etcd", ",".join(ETCD[:2])])
    with pytest.raises(SystemExit, match="cannot read config file"):
        main(["manager", "--config", str(tmp_path / "missing.toml")])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"etcd": [ETCD[0], ETCD[0], ETCD[1]]}, "the same member is named twice"),
        ({"etcd_prefix": "sensetwin"}, "must start and end with '/'"),
        ({"etcd_prefix": "/"}, "must start and end with '/'"),
        ({"site": ""}, "site: give the site's name"),
        ({"etcd_ttl": 1}, "etcd_ttl must be 2 to 30"),
        ({"etcd_ttl": 31}, "etcd_ttl must be 2 to 30"),
        ({"etcd_cert": Path("/etc/c.pem")}, "etcd_cert and etcd_key go together"),
        ({"etcd_key": Path("/etc/k.pem")}, "etcd_cert and etcd_key go together"),
        ({"etcd_password": "pw-without-a-user"}, "etcd_password is set but etcd_user is not"),
        ({"hold_timeout": 1.5}, "must stay below the console's timeout"),
    ],
)
def test_etcd_settings_that_cannot_work_are_refused(change: dict[str, Any], message: str) -> None:
    s = ManagerSettings(Role.PRIMARY, ["http://10.0.0.1"], Path("/tmp"), **{"etcd": ETCD, **change})
    with pytest.raises(ValueError, match=message):
        s.check()


def test_https_etcd_members_or_a_client_certificate_need_tls() -> None:
    members = [u.replace("http:", "https:") for u in ETCD]
    https = ManagerSettings(Role.PRIMARY, ["http://10.0.0.1"], Path("/tmp"), etcd=members)
    assert https.etcd_tls_needed
    cert = ManagerSettings(
        Role.PRIMARY, ["http://10.0.0.1"], Path("/tmp"), etcd=ETCD, etcd_cert=Path("c"), etcd_key=Path("k")
    )
    assert cert.etcd_tls_needed


def test_a_manager_without_etcd_refuses_to_start_with_one_line_that_says_why(tmp_path: Path) -> None:
    r = subprocess.run(
        [
            *(sys.executable, "-m", "app", "manager", "--role", "primary"),
            *("--servers", "http://127.0.0.1:9", "--state-dir", str(tmp_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("sensetwin manager: etcd: give the three etcd members") and "--etcd" in lines[0]


@pytest.mark.parametrize("role", ["primary", "secondary"])
def test_shipped_example_configs_are_valid_once_the_tokens_are_set(role: str, tmp_path: Path) -> None:
    f = ROOT / "packaging" / "config" / f"manager-{role}.toml"
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
    assert s.role.value == role and len(s.servers) == 2
    assert len(s.etcd) == 3 and not s.etcd_allow_fewer and not s.etcd_trial  # a control room: three members
    assert s.tokens and not any(name.startswith("peer") for name in s.tokens)  # no manager-to-manager token
    keys = {line.split("=")[0].strip().lstrip("# ") for line in f.read_text().splitlines() if "=" in line}
    documented = {k.name for k in fields(ManagerSettings)} - {"extra", "host", "port", "tokens"}
    assert documented <= keys, f"keys missing from the example: {documented - keys}"
    assert not keys & set(_REPLACED), f"keys etcd replaced still in the example: {keys & set(_REPLACED)}"


def test_both_example_configs_name_the_same_cluster_and_site() -> None:
    def load(role: str) -> dict[str, Any]:
        import tomllib

        return tomllib.loads((ROOT / "packaging" / "config" / f"manager-{role}.toml").read_text())["manager"]

    p, s = load("primary"), load("secondary")
    for key in ("etcd", "etcd_prefix", "site", "servers"):
        assert p[key] == s[key], key
    assert (p["role"], s["role"]) == ("primary", "secondary")


def test_the_etcd_password_is_a_secret() -> None:
    s = ManagerSettings(
        Role.PRIMARY, ["http://10.0.0.1"], Path("/tmp"), etcd=ETCD, etcd_user="sensetwin", etcd_password="etcd-pw-42"
    )
    s.check()
    assert isinstance(s.etcd_password, Secret) and str(s.etcd_password) == "etcd-pw-42"
    assert "etcd-pw-42" not in repr(s) and "sensetwin" in repr(s)
