"""The managers coordinate through etcd: real etcd members, sims and managers on loopback.

What the lab (tests/lab) proves on a partitioned network, these prove on one host: a claim decides who sends,
a manager restarted with an empty disk answers from etcd, a dead manager's claim is in doubt and never sent
twice, an action past its deadline never runs late, and without quorum nothing executes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.demo import Topology
from app.manager.etcd import b64
from app.sense import ResultCode
from tests.helpers import command, journal_counts, manager_field, wait_for, wall_target

MACRO = {"actionname": "viewer.executeMacro", "name": "Incident mode"}


def _macro(base: str, uid: str, divaid: str, timeout: float = 5.0) -> tuple[int, str]:
    r = command(base, "executeAction", uid=uid, timeout=timeout, divaid=divaid, **MACRO)
    return r.errorcode, r.message()


def _to_both(pm: str, sm: str, uid: str, divaid: str) -> list[tuple[int, str]]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda base: _macro(base, uid, divaid), (pm, sm)))


def _put_raw(etcd_url: str, key: str, value: dict[str, object]) -> None:
    r = httpx.post(f"{etcd_url}/v3/kv/put", json={"key": b64(key), "value": b64(json.dumps(value))}, timeout=5)
    assert r.status_code == 200, r.text


def test_both_managers_answer_one_execution_and_the_claim_is_in_etcd(system: Topology) -> None:
    pm, sm = system.parts["primary manager"].url, system.parts["secondary manager"].url
    d = wall_target(pm)["divaid"]
    for i in range(10):  # as a console does: to both at once
        for code, msg in _to_both(pm, sm, f"both-{i}", d):
            assert code == 0, msg
    assert journal_counts(system.journal) == {f"both-{i}": 1 for i in range(10)}
    etcd = system.etcd_urls()[2]
    got = httpx.post(f"{etcd}/v3/kv/range", json={"key": b64("/sensetwin/uid/both-3")}, timeout=5).json()
    value = json.loads(__import__("base64").b64decode(got["kvs"][0]["value"]))
    assert value["state"] == "done" and value["by"] == "primary" and value["command"] == "executeAction"
    assert int(got["kvs"][0]["lease"]) != 0  # the dedup window is a lease: the key goes by itself
    assert manager_field(sm, "mode") == "failover"
    assert int(manager_field(sm, "counts/claims")) == 0  # the secondary never had to claim


def test_manager_restarted_with_an_empty_state_dir_answers_a_late_copy_from_etcd(system: Topology) -> None:
    pm = system.parts["primary manager"]
    d = wall_target(pm.url)["divaid"]
    assert _macro(pm.url, "late-1", d)[0] == 0
    pm.kill()
    for f in (system.workdir / "state").glob("*"):
        if f.is_file():
            f.unlink()
    pm.start()
    wait_for(lambda: manager_field(pm.url, "forwarding") == "true", 15, "primary manager back")
    assert _macro(pm.url, "late-1", d)[0] == 0
    assert journal_counts(system.journal) == {"late-1": 1}


def test_secondary_takes_over_when_the_primary_is_killed(system: Topology) -> None:
    pm, sm = system.parts["primary manager"], system.parts["secondary manager"].url
    d = wall_target(sm)["divaid"]
    pm.kill()
    code, msg = _macro(sm, "after-kill-1", d)
    assert code == 0, msg
    assert manager_field(sm, "mode") == "normal"
    assert journal_counts(system.journal) == {"after-kill-1": 1}
    pm.start()
    wait_for(lambda: manager_field(pm.url, "forwarding") == "true", 15, "primary manager back")
    # The primary's claims appear again: the secondary goes back to failover mode.
    for i in range(3):
        assert _macro(pm.url, f"back-{i}", d)[0] == 0
    wait_for(lambda: manager_field(sm, "mode") == "failover", 5, "secondary back in failover mode")


def test_a_dead_managers_claim_is_in_doubt_and_a_non_idempotent_action_is_never_sent_again(system: Topology) -> None:
    """A claim whose owner's liveness key is gone, without done: what a manager killed between claim and send
    leaves. executeAction is answered -103 and not sent; selectCamera (idempotent) is executed, reported."""
    pm, sm = system.parts["primary manager"].url, system.parts["secondary manager"].url
    w = wall_target(pm)
    etcd = system.etcd_urls()[0]
    claim = {"state": "claimed", "by": "primary", "instance": "deadbeef0000", "command": "executeAction"}
    _put_raw(etcd, "/sensetwin/uid/doubt-1", {**claim, "params": _canonical("executeAction", w["divaid"])})
    code, msg = _macro(sm, "doubt-1", w["divaid"])
    assert code == ResultCode.IN_DOUBT, msg
    assert _macro(pm, "doubt-1", w["divaid"])[0] == ResultCode.IN_DOUBT  # settled once, for every copy
    assert journal_counts(system.journal) == {}
    sel = {"cameraview": "cameraid:0", **w}
    canon = _canonical_params("selectCamera", sel)
    _put_raw(etcd, "/sensetwin/uid/doubt-2", {**claim, "command": "selectCamera", "params": canon})
    r = command(pm, "selectCamera", uid="doubt-2", **sel)
    assert r.errorcode in (0, ResultCode.NO_DEVICE), r.message()  # executed again (reported), whatever the camera
    assert journal_counts(system.journal).get("doubt-2", 0) <= 1
    assert int(manager_field(pm, "counts/reexecuted")) == 1


def _canonical_params(command_name: str, params: dict[str, str]) -> str:
    from app.sense import CommandRequest

    return CommandRequest(command_name, params, None).canonical_params()


def _canonical(command_name: str, divaid: str) -> str:
    return _canonical_params(command_name, {"divaid": divaid, **MACRO})


def test_an_action_that_could_not_be_sent_in_time_never_runs_later(system: Topology) -> None:
    pm, sm = system.parts["primary manager"].url, system.parts["secondary manager"].url
    d = wall_target(pm)["divaid"]
    ps, ss = system.parts["primary server"], system.parts["secondary server"]
    ps.pause()
    ss.pause()
    try:
        wait_for(lambda: manager_field(pm, "activeserver") == "", 10, "the manager sees no active server")
        code, msg = _macro(pm, "expire-1", d)
        assert code == ResultCode.EXPIRED, msg
    finally:
        ps.resume()
        ss.resume()
    wait_for(lambda: manager_field(pm, "activeservername") != "", 15, "a server active again")
    for base in (pm, sm):
        code, msg = _macro(base, "expire-1", d)
        assert code == ResultCode.EXPIRED, msg  # the same uid stays not executed: it can never run late
    assert "expire-1" not in journal_counts(system.journal)


def test_an_action_sent_to_a_server_that_then_stops_answering_is_in_doubt_not_failed(system: Topology) -> None:
    """The send reached a server that stopped (SIGSTOP) before answering: the request waits in its socket and runs
    when it goes on. Telling the operator "not executed" would be false (the chaos suite found it): in doubt."""
    pm = system.parts["primary manager"].url
    w = wall_target(pm)
    ps, ss = system.parts["primary server"], system.parts["secondary server"]
    ps.pause()
    ss.pause()
    try:  # at once: the manager still believes the primary server is active and sends to it
        r = command(pm, "selectCamera", uid="paused-1", cameraview="cameraid:0", **w)
        assert r.errorcode == ResultCode.IN_DOUBT, r.message()
    finally:
        ps.resume()
        ss.resume()
    assert journal_counts(system.journal).get("paused-1", 0) <= 1


def test_without_quorum_nothing_executes_and_work_resumes_when_it_returns(system: Topology) -> None:
    pm, sm = system.parts["primary manager"].url, system.parts["secondary manager"].url
    d = wall_target(pm)["divaid"]
    one, two = system.parts["etcd-s member"], system.parts["etcd-w member"]
    one.kill()
    assert _macro(pm, "one-down", d)[0] == 0  # one member down: still a majority
    two.kill()
    for base in (pm, sm):
        code, msg = _macro(base, "no-quorum", d)
        assert code == ResultCode.COORDINATION_UNAVAILABLE, msg
        assert "etcd" in msg
    assert "no-quorum" not in journal_counts(system.journal)
    one.start()
    two.start()
    tries = iter(range(1000))
    wait_for(lambda: _macro(pm, f"quorum-back-{next(tries)}", d, timeout=3)[0] == 0, 30, "actions execute again")
    counts = journal_counts(system.journal)
    assert counts.pop("one-down") == 1 and list(counts.values()) == [1]  # only the try that was answered Ok


# -- bad input: each a clear refusal at start-up, never a silent fallback --------------------------------------------


def _manager(args: list[str], tmp: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "manager",
            "--role",
            "primary",
            "--servers",
            "http://127.0.0.1:9",
            *args,
            "--state-dir",
            str(tmp),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_fewer_than_three_members_is_refused_unless_allowed(tmp_path: Path) -> None:
    r = _manager(["--etcd", "http://127.0.0.1:2379"], tmp_path)
    assert r.returncode != 0 and "a control room needs three" in r.stderr
    r = _manager([], tmp_path)
    assert r.returncode != 0 and "etcd" in r.stderr


def test_an_etcd_that_does_not_answer_is_a_clear_start_up_error(tmp_path: Path) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text('etcd_start_wait = 1.0\netcd_allow_fewer = true\netcd = ["http://127.0.0.1:9"]\n')
    r = _manager(["--config", str(cfg)], tmp_path)
    assert r.returncode != 0
    assert "cannot reach the etcd cluster" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture
def lone_etcd(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Topology.create(tmp_path / "etcd") as topo:
        topo.add_etcd(count=1)
        topo.start_all()
        topo.wait_ready()
        yield topo.etcd_urls()[0]


def test_a_foreign_cluster_or_another_site_is_refused(tmp_path: Path, lone_etcd: str) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text(f'etcd_start_wait = 2.0\netcd_allow_fewer = true\netcd = ["{lone_etcd}"]\n')
    _put_raw(lone_etcd, "/other-app/config", {"x": 1})
    r = _manager(["--config", str(cfg)], tmp_path)
    assert r.returncode != 0 and "another application's cluster" in r.stderr, r.stderr[-500:]
    _put_raw(lone_etcd, "/sensetwin/site", {"project": "sensetwin", "site": "north"})
    r = _manager(["--config", str(cfg), "--site", "south"], tmp_path)
    assert r.returncode != 0 and "holds SenseTwin site 'north'" in r.stderr, r.stderr[-500:]
    _put_raw(lone_etcd, "/wrong/site", {"something": "else"})
    r = _manager(["--config", str(cfg), "--etcd-prefix", "/wrong/"], tmp_path)
    assert r.returncode != 0 and "not a SenseTwin site marker" in r.stderr, r.stderr[-500:]


def test_a_secondary_without_the_primarys_site_refuses_to_start(tmp_path: Path, lone_etcd: str) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text(f'etcd_start_wait = 1.5\netcd_allow_fewer = true\netcd = ["{lone_etcd}"]\nrole = "secondary"\n')
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "manager",
            "--config",
            str(cfg),
            "--servers",
            "http://127.0.0.1:9",
            "--etcd-prefix",
            "/fresh/",
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode != 0 and "start the primary manager first" in r.stderr, r.stderr[-500:]


def test_a_member_with_a_certificate_of_another_ca_is_refused_and_the_right_ca_works(tmp_path: Path) -> None:
    import trustme

    from app.demo import free_port
    from app.demo.etcd import EtcdMember, member_args

    site_ca, other_ca = trustme.CA(), trustme.CA()
    cert = site_ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "member.key"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "member.crt"))
    site_ca.cert_pem.write_to_path(str(tmp_path / "site-ca.pem"))
    other_ca.cert_pem.write_to_path(str(tmp_path / "other-ca.pem"))
    m = EtcdMember("etcd-tls", "127.0.0.1", free_port(), free_port())
    args = member_args(m, [m], tmp_path / "data")
    url = m.client_url.replace("http://", "https://")
    args = [a.replace(m.client_url, url) for a in args]
    args += ["--cert-file", str(tmp_path / "member.crt"), "--key-file", str(tmp_path / "member.key")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ca = str(tmp_path / "site-ca.pem")
        wait_for(lambda: _https_health(url, ca), 20, "the https etcd member answering")
        base = f'etcd_start_wait = 3.0\netcd_allow_fewer = true\netcd = ["{url}"]\n'
        wrong = tmp_path / "wrong.toml"
        wrong.write_text(base + f'etcd_ca = "{tmp_path / "other-ca.pem"}"\n')
        r = _manager(["--config", str(wrong), "--listen", "127.0.0.1:0"], tmp_path)
        assert r.returncode != 0 and "TLS certificate is not trusted" in r.stderr, r.stderr[-600:]
        right = tmp_path / "right.toml"
        right.write_text(base + f'etcd_ca = "{ca}"\n')
        ok = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "manager",
                "--config",
                str(right),
                "--role",
                "primary",
                "--servers",
                "http://127.0.0.1:9",
                "--listen",
                "127.0.0.1:0",
                "--state-dir",
                str(tmp_path),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert ok.stdout is not None
            line = ok.stdout.readline()
            while line and "listening on" not in line:
                line = ok.stdout.readline()
            assert "listening on" in line  # it reached the https member and registered
        finally:
            ok.terminate()
            ok.wait(10)
            if ok.stdout is not None:
                ok.stdout.close()
    finally:
        proc.terminate()
        proc.wait(10)


def _https_health(url: str, ca: str) -> bool:
    try:
        import ssl

        return httpx.get(url + "/health", verify=ssl.create_default_context(cafile=ca), timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("mode", ["silent", "refused"])
def test_managers_cut_apart_keep_acting_and_double_nothing(tmp_path: Path, mode: str) -> None:
    """The demo's cut: each manager loses the other manager host's etcd member and keeps the witness. (The lab
    cuts the raft link between the members too.)"""
    with Topology.create(tmp_path, action_rate=0, cuttable=True) as topo:
        topo.start_system()
        pm, sm = topo.parts["primary manager"].url, topo.parts["secondary manager"].url
        d = wall_target(pm)["divaid"]
        topo.cut_managers(mode)
        answers = [_to_both(pm, sm, f"cut-{i}", d) for i in range(15)]
        topo.cut_managers("pass")
        ok = sum(1 for pair in answers if any(code == 0 for code, _ in pair))
        assert ok >= 14, answers  # availability during the cut (one may meet the moment the cut happens)
        counts = journal_counts(topo.journal)
        assert all(n == 1 for n in counts.values()), counts
        assert len(counts) >= ok


def test_a_primary_manager_paused_5_s_stalls_nothing_and_doubles_nothing(system: Topology) -> None:
    """SIGSTOP of the primary manager for 5 s while the console sends to both: the secondary claims each action after
    the queue timeout; the copies that waited in the paused primary's socket are answered from etcd, never sent."""
    import time as _time
    from concurrent.futures import ThreadPoolExecutor

    pm_part, sm = system.parts["primary manager"], system.parts["secondary manager"].url
    d = wall_target(sm)["divaid"]
    pm_part.pause()
    try:
        took, answers = [], []
        start = _time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            i = 0
            while _time.monotonic() - start < 5.0:
                t = _time.monotonic()
                uid = f"paused-m-{i}"
                late = pool.submit(_macro, pm_part.url, uid, d, 15.0)  # waits in the paused primary's socket
                code, msg = _macro(sm, uid, d)
                took.append(_time.monotonic() - t)
                answers.append((uid, code, msg, late))
                i += 1
            pm_part.resume()
            late_answers = [(uid, late.result()) for uid, _, _, late in answers]
    finally:
        pm_part.resume()
    assert all(code == 0 for _, code, _, _ in answers), [a[:3] for a in answers if a[1] != 0][:3]
    assert max(took) < 2.0, f"the slowest action took {max(took):.2f} s"
    assert all(res[0] == 0 for _, res in late_answers), late_answers[:3]  # answered from the secondary's done
    counts = journal_counts(system.journal)
    assert len(answers) >= 5 and all(counts.get(a[0]) == 1 for a in answers), counts


def test_a_command_sent_for_an_older_epoch_is_refused_not_run_late(system: Topology) -> None:
    """The fencing token: a manager sends each action with the epoch of the server it chose as active. A command that
    waited in a stopped server's socket while the pair failed over and back (a new epoch) is refused with -107 and
    not executed, instead of running seconds after the console was told it is in doubt (the lab chaos run saw it)."""
    from app.security import EPOCH_HEADER
    from app.sense import encode, parse_result

    ps = system.parts["primary server"].url
    pm = system.parts["primary manager"].url
    d = wall_target(pm)["divaid"]
    epoch = int(manager_field(pm, "epoch"))
    query = encode("executeAction", {"divaid": d, **MACRO}, "fence-old")
    r = httpx.get(f"{ps}/command?{query}", headers={EPOCH_HEADER: str(epoch - 1)}, timeout=5)
    res = parse_result(r.content)
    assert res.errorcode == ResultCode.STALE_SERVER and f"now {epoch}" in res.message()
    query = encode("executeAction", {"divaid": d, **MACRO}, "fence-now")
    assert parse_result(httpx.get(f"{ps}/command?{query}", headers={EPOCH_HEADER: str(epoch)}).content).ok
    assert _macro(pm, "fence-manager", d)[0] == 0  # the manager sends the active server's epoch: executed
    assert journal_counts(system.journal) == {"fence-now": 1, "fence-manager": 1}
