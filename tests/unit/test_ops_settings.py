"""The managers' alarm rules, PTZ hold and flood settings (docs/workflows-protocol.md): good ones read, bad ones
refused at start-up with the rule named and what to write."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.manager import ManagerSettings, load_toml
from app.manager.settings import Reaction

ETCD = ["http://10.0.0.5:2379", "http://10.0.0.6:2379", "http://10.0.0.7:2379"]
ROOT = Path(__file__).resolve().parents[2]
TOKEN_TABLE = '[tokens]\ndesk3 = "d3-tok-5c1e9a7b2f40d86e13aa"\n'


def _settings(tmp_path: Path, toml: str) -> ManagerSettings:
    f = tmp_path / "manager.toml"
    f.write_text('role = "primary"\nservers = ["http://10.0.0.1"]\n' + toml)
    f.chmod(0o600)  # some hold a token: only its owner may read it
    s = ManagerSettings(**load_toml(f), etcd=ETCD, state_dir=tmp_path)
    s.check()
    return s


def test_alarm_rules_ptz_hold_and_flood_settings_are_read(tmp_path: Path) -> None:
    s = _settings(
        tmp_path,
        "ptz_hold = 20\nflood_count = 4\nflood_window = 60\n"
        '[[alarms]]\ntype = "Motion"\npriority = "HIGH"\ncamera = "101"\nserverid = "1"\n'
        'reaction = { divaid = "7", layoutid = 8, panelid = "9" }\n'
        '[[alarms]]\ntype = "VideoLost"\npriority = "low"\ntitle = "Picture lost"\n',
    )
    assert (s.ptz_hold, s.flood_count, s.flood_window) == (20.0, 4, 60.0)
    high, low = s.alarm_rules
    assert (high.index, high.type, high.priority, high.camera, high.serverid) == (0, "Motion", "high", "101", "1")
    assert high.reaction == Reaction("7", "8", "9") and high.matches("MotionDetected") and not high.matches("Video")
    assert (low.index, low.priority, low.title, low.reaction) == (1, "low", "Picture lost", None)


def test_the_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    s = _settings(tmp_path, "")
    assert (s.ptz_hold, s.flood_count, s.flood_window, s.alarm_rules) == (15.0, 10, 600.0, [])
    assert s.reaction_window == 60.0 and _settings(tmp_path, "reaction_window = 30\n").reaction_window == 30.0


def test_rules_beside_a_manager_table_are_read_too(tmp_path: Path) -> None:
    f = tmp_path / "manager.toml"
    f.write_text('[manager]\nrole = "primary"\n\n[[alarms]]\ntype = "Motion"\npriority = "medium"\n')
    assert load_toml(f)["alarms"] == [{"type": "Motion", "priority": "medium"}]


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ('priority = "high"', 'alarm rule 2: no type; write the server event type it matches, e.g. type = "Motion"'),
        ('type = "Motion"\npriority = "urgent"', "alarm rule 2 (type 'Motion'): priority 'urgent' is not high, medium"),
        ('type = "Motion"', "priority '' is not high, medium or low; write e.g. priority = \"high\""),
        ('type = "Motion"\npriority = "low"\nreaction = { divaid = "1" }', "a malformed reaction; write reaction = {"),
        ('type = "Motion"\npriority = "low"\nreaction = "panel 1"', "alarm rule 2 (type 'Motion'): a malformed"),
        (
            'type = "Motion"\npriority = "low"\nreaction = { divaid = "a", layoutid = "1", panelid = "1" }',
            "must be decimal ids",
        ),
        ('type = "Motion"\npriority = "low"\ncamera = "gate"', "camera 'gate' is not a decimal id"),
        ('type = "Motion"\npriority = "low"\nserverid = "1"', "serverid goes with camera"),
        ('type = "Motion"\npriority = "low"\ncolour = "red"', "unknown key(s) colour"),
    ],
)
def test_a_bad_rule_is_refused_naming_it_and_what_to_write(tmp_path: Path, rule: str, words: str) -> None:
    good = '[[alarms]]\ntype = "Tamper"\npriority = "low"\n'
    with pytest.raises(ValueError) as exc:
        _settings(tmp_path, good + "[[alarms]]\n" + rule + "\n")
    assert words in str(exc.value)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("ptz_hold = 0", "ptz_hold must be 1 to 300 seconds"),
        ("flood_count = 0", "flood_count must be a whole number"),
        ("flood_window = 0", "flood_window must be 1 to 86400"),
        ("reaction_window = 0", "reaction_window must be 1 to 300 seconds (half the dedup_window)"),
        ("reaction_window = 400", "reaction_window must be 1 to 300 seconds"),
        ("dedup_window = 60\nreaction_window = 60", "reaction_window must be 1 to 30 seconds"),
        ("alarms = 3", "write each rule as an [[alarms]] table"),
        ("ptz_priority_max = { desk9 = 5 }\n" + TOKEN_TABLE, "names 'desk9', which is not a token name in [manager."),
        ("ptz_priority_max = { desk3 = 11 }\n" + TOKEN_TABLE, "desk3 = 11 must be a whole number from 1 to 10"),
        ("ptz_priority_max = { desk3 = true }\n" + TOKEN_TABLE, "desk3 = True must be a whole number from 1 to 10"),
        ('ptz_priority_max = { desk3 = "5" }\n' + TOKEN_TABLE, "desk3 = '5' must be a whole number from 1 to 10"),
        ("ptz_priority_max = 5\n" + TOKEN_TABLE, "ptz_priority_max is a table of token name = highest priority"),
    ],
)
def test_bad_ptz_and_flood_settings_are_refused(tmp_path: Path, line: str, words: str) -> None:
    with pytest.raises(ValueError) as exc:
        _settings(tmp_path, line + "\n")
    assert words in str(exc.value)


def test_the_manager_refuses_to_start_with_a_bad_rule_and_says_which(tmp_path: Path) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text(
        'etcd_allow_fewer = true\netcd = ["http://127.0.0.1:9"]\n[[alarms]]\ntype = "Motion"\npriority = "x"\n'
    )
    args = ["manager", "--config", str(cfg), "--role", "primary", "--servers", "http://127.0.0.1:9"]
    r = subprocess.run(
        [sys.executable, "-m", "app", *args, "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "alarm rule 1 (type 'Motion'): priority 'x' is not high, medium or low" in r.stderr


def test_the_example_configs_hold_valid_rules(tmp_path: Path) -> None:
    for name in ("manager-primary.toml", "manager-secondary.toml"):
        mine = tmp_path / name
        mine.write_text((ROOT / "packaging" / "config" / name).read_text().replace("CHANGE-ME", "site-secret"))
        mine.chmod(0o600)
        s = ManagerSettings(**load_toml(mine))
        s.check()
        assert [r.priority for r in s.alarm_rules] == ["high", "low"] and s.ptz_hold == 15.0
        assert s.reaction_window == 60.0 and "reaction_window = 60.0" in mine.read_text()


def test_a_ptz_priority_limit_per_token_is_read(tmp_path: Path) -> None:
    s = _settings(tmp_path, "ptz_priority_max = { desk3 = 5 }\n" + TOKEN_TABLE)
    assert s.ptz_priority_max == {"desk3": 5}
    assert _settings(tmp_path, TOKEN_TABLE).ptz_priority_max == {}  # no limit unless one is written
