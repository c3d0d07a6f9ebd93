"""Tokens, the rate limit, secrets that do not print, safe defaults, config file modes, the login message."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from app.cli import build_parser
from app.manager import ManagerSettings, Role, load_toml
from app.security import RateLimit, Secret, TokenCheck, is_loopback
from app.sense.login import Login, check_login
from app.ui.settings import ConsoleSettings, SettingsError, load, save

GOOD = "a-good-token-0123456789"
ETCD = ["http://10.0.0.5:2379", "http://10.0.0.6:2379", "http://10.0.0.7:2379"]


def test_a_token_is_identified_by_name_and_a_wrong_or_missing_one_by_none() -> None:
    check = TokenCheck({"desk-1": GOOD, "desk-2": GOOD[::-1]})
    assert check.enabled and check.names == ["desk-1", "desk-2"]
    assert check.identify(GOOD) == "desk-1" and check.identify(GOOD[::-1]) == "desk-2"
    for wrong in (None, "", GOOD[:-1], GOOD + "x", GOOD.upper(), "é" * 30, "x" * 10_000):
        assert check.identify(wrong) is None
    assert not TokenCheck({}).enabled and TokenCheck({}).identify(GOOD) is None


@pytest.mark.parametrize("token", ["short", "with a space in it 123", "tab\tinside-the-token-00", "é" * 20, "x" * 300])
def test_weak_or_unprintable_tokens_are_refused_with_how_to_make_one(token: str) -> None:
    with pytest.raises(ValueError, match=r"desk|spaces"):
        TokenCheck({"desk": token})


def test_rate_limit_allows_a_burst_then_the_rate_per_key() -> None:
    r = RateLimit(rate=2, burst=3)
    assert [r.allow("a", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert r.allow("b", now=0.0)  # another key has its own bucket
    assert not r.allow("a", now=0.2)
    assert r.allow("a", now=0.6)  # 0.6 s at 2/s refilled one
    assert all(RateLimit(rate=0, burst=1).allow("a", now=0.0) for _ in range(1000))


def test_rate_limit_memory_is_bounded_against_made_up_keys() -> None:
    r = RateLimit(rate=1, burst=1, max_keys=100)
    for i in range(10_000):
        r.allow(f"k{i}", now=0.0)
    assert len(r._buckets) <= 100


def test_secrets_do_not_show_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    s = ManagerSettings(
        Role.PRIMARY,
        ["http://127.0.0.1:1"],
        Path("/tmp"),
        etcd=ETCD,
        tokens={"desk-1": GOOD},
        server_user="operator",
        server_password="the-password-123",
        etcd_user="sensetwin",
        etcd_password=GOOD[::-1],
    )
    s.check()
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("starting with %r", s)
    for text in (repr(s), caplog.text, repr(Login("operator", "the-password-123")), repr(Secret("x"))):
        assert GOOD not in text and GOOD[::-1] not in text and "the-password-123" not in text
    assert "desk-1" in repr(s) and "'***'" in repr(s)
    assert str(s.etcd_password) == GOOD[::-1] and str(s.server_password) == "the-password-123"


def test_a_manager_on_a_network_address_needs_tokens() -> None:
    def settings(**kw: object) -> ManagerSettings:
        return ManagerSettings(Role.PRIMARY, ["http://10.0.0.1"], Path("/tmp"), etcd=ETCD, **kw)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="tokens"):
        settings(host="0.0.0.0").check()
    settings(host="0.0.0.0", tokens={"d": GOOD}).check()
    settings(host="0.0.0.0", allow_unauthenticated=True).check()
    settings().check()  # loopback: the default


def test_everything_listens_on_loopback_unless_told_otherwise() -> None:
    p = build_parser()
    assert p.parse_args(["sim", "--role", "primary"]).listen[0] == "127.0.0.1"
    assert p.parse_args(["client", "--station", "s", "--managers", "http://x"]).peer_listen[0] == "127.0.0.1"
    assert ManagerSettings(Role.PRIMARY, ["http://x"], Path("/tmp")).host == "127.0.0.1"
    assert ConsoleSettings().peer_listen.startswith("127.0.0.1:")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5") and not is_loopback("")


def test_a_manager_config_with_secrets_must_be_private(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text(f'[manager]\nrole = "primary"\nservers = ["http://10.0.0.1"]\n[manager.tokens]\ndesk-1 = "{GOOD}"\n')
    os.chmod(f, 0o644)
    with pytest.raises(ValueError, match=f"chmod 600 {f}"):
        load_toml(f)
    os.chmod(f, 0o600)
    assert load_toml(f)["tokens"] == {"desk-1": GOOD}
    f.write_text('[manager]\nrole = "primary"\nservers = ["http://10.0.0.1"]\n')
    os.chmod(f, 0o644)
    assert "tokens" not in load_toml(f)  # no secrets: readable is fine
    for secret in ('etcd_user = "st"\netcd_password = "etcd-pw"', 'server_user = "op"\nserver_password = "pw"'):
        f.write_text(f'[manager]\nrole = "primary"\nservers = ["http://10.0.0.1"]\n{secret}\n')
        os.chmod(f, 0o644)
        with pytest.raises(ValueError, match="holds secrets"):
            load_toml(f)


def test_tokens_must_be_a_table_of_strings(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text('[manager]\ntokens = ["a"]\n')
    os.chmod(f, 0o600)
    with pytest.raises(ValueError, match=r"\[manager.tokens\]"):
        load_toml(f)


def test_console_settings_with_a_token_are_written_private_and_refused_when_readable(tmp_path: Path) -> None:
    p = tmp_path / "settings.json"
    save(ConsoleSettings(token=GOOD), p)
    assert p.stat().st_mode & 0o777 == 0o600
    assert load(p).token == GOOD
    os.chmod(p, 0o644)
    with pytest.raises(SettingsError, match=f"chmod 600 {p}"):
        load(p)
    with pytest.raises(SettingsError, match="Token"):
        save(ConsoleSettings(token="short"), p)


def test_the_login_message_checks_out_and_a_wrong_password_does_not() -> None:
    body = Login("operator", "pw-123").message()
    assert b"pw-123" not in body and b"<AuthenticateUserDigest>" in body
    assert check_login(body, "operator", "pw-123") is None
    assert check_login(body, "operator", "pw-124") == "unknown user or wrong password"
    assert check_login(body, "admin", "pw-123") == "unknown user or wrong password"
    assert "timestamp" in (check_login(body.replace(b"<timestamp>", b"<timestamp>1"), "operator", "pw-123") or "")


def test_a_peer_link_on_a_network_address_needs_a_pair_token() -> None:
    paired = {"pair_role": "primary", "peer_url": "http://10.0.0.22:9200", "peer_listen": "0.0.0.0:9200"}
    assert any("Pair token" in p for p in ConsoleSettings(**paired).problems())  # type: ignore[arg-type]
    assert not ConsoleSettings(**paired, pair_token=GOOD).problems()  # type: ignore[arg-type]
    assert not ConsoleSettings(**{**paired, "peer_listen": "127.0.0.1:9200"}).problems()  # type: ignore[arg-type]
    assert not ConsoleSettings(**{**paired, "peer_listen": ":9200"}).problems()  # type: ignore[arg-type]  # loopback
    bad = ConsoleSettings(**{**paired, "peer_listen": "0.0.0.0:http"}).problems()  # type: ignore[arg-type]
    assert any("needs a port number" in p for p in bad)
