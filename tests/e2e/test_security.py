"""Only consoles with a valid token act; the managers have no link to each other to attack (they coordinate through
etcd); the manager logs in to its servers; no token or password reaches a log; actions over the rate are refused and
not executed; https to the managers and the servers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.client import ClientSettings, RedundantClient
from app.client.http import HttpLink, NotSent
from app.demo import Topology, free_port
from app.demo.topology import Part
from app.security import TOKEN_HEADER, client_tls
from app.sense import ResultCode, encode, parse_result, parse_xml
from tests.helpers import command, journal_counts, manager_field, raw, start_etcd, wait_for, wall_target

TOKENS = {
    "console-1": "c1-tok-9f2a61d3b8e04c7a55e1",
    "console-2": "c2-tok-1b7c0e92d4f35a8866c3",
}
PASSWORD = "Sense-pa55word-never-logged"
USER = "operator"


def write_config(path: Path, lines: dict[str, Any], tokens: dict[str, str] | None = None) -> Path:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return '"' + str(v).replace("\\", "\\\\") + '"'

    text = "[manager]\n" + "".join(f"{k} = {value(v)}\n" for k, v in lines.items())
    if tokens:
        text += "\n[manager.tokens]\n" + "".join(f"{k} = {value(v)}\n" for k, v in tokens.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def _secure_sims(topo: Topology, password: str = PASSWORD) -> None:
    for part in topo.add_sims():
        part.args += ["--user", USER]
        part.env["SENSETWIN_SIM_PASSWORD"] = password


def _start_secure(topo: Topology, tmp: Path, **per_role: dict[str, Any]) -> None:
    """Two sims that check logins, three etcd members and two managers with tokens; `per_role` overrides config
    keys by role."""
    _secure_sims(topo)
    etcd = start_etcd(topo, 3)
    servers = [topo.parts[f"{r} server"].url for r in ("primary", "secondary")]
    ports = {"primary": free_port(), "secondary": free_port()}
    for role in ("primary", "secondary"):
        lines = {
            "role": role,
            "listen": f"127.0.0.1:{ports[role]}",
            "servers": servers,
            "etcd": etcd,
            "site": "secure",
            "state_dir": str(tmp / "state"),
            "action_rate": 2.0,
            "action_burst": 3,
            "server_user": USER,
            "server_password": PASSWORD,
            "ptz_priority_max": {"console-2": 3},
            **per_role.get(role, {}),
        }
        cfg = write_config(tmp / f"{role}.toml", lines, TOKENS)
        topo.add(f"{role} manager", ["manager", "--config", str(cfg)], f"http://127.0.0.1:{ports[role]}")
    topo.start_all()
    topo.wait_ready()


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    tmp = tmp_path_factory.mktemp("secure")
    with Topology.create(tmp) as topo:
        _start_secure(topo, tmp)
        topo.wait_settled()
        yield topo


def _act(base: str, uid: str, token: str | None, **params: str) -> tuple[int, str]:
    headers = {TOKEN_HEADER: token} if token is not None else {}
    r = httpx.get(f"{base}/command?{encode('selectCamera', params, uid)}", headers=headers, timeout=10)
    res = parse_result(r.content)
    return res.errorcode, res.description


def _target(topo: Topology) -> dict[str, str]:
    return {**wall_target(topo.parts["primary server"].url), "cameraview": "cameraid:101"}


def test_an_action_without_a_token_or_with_a_wrong_one_is_refused_and_not_executed(secure: Topology) -> None:
    pm, sm = secure.parts["primary manager"].url, secure.parts["secondary manager"].url
    w = _target(secure)
    for base in (pm, sm):
        assert _act(base, "sec-none-1", None, **w)[0] == -104
        code, text = _act(base, "sec-wrong-1", "not-the-token-at-all-0000", **w)
        assert code == -104 and TOKEN_HEADER in text and "nothing was executed" in text
    counts = journal_counts(secure.journal)
    assert "sec-none-1" not in counts and "sec-wrong-1" not in counts
    assert manager_field(pm, "counts/forwarded") == "0"
    # reads stay open unless reads_need_token is set
    assert command(pm, "getDivaList").errorcode == 0


def test_an_action_with_a_valid_token_goes_to_both_managers_and_executes_once(secure: Topology) -> None:
    pm, sm = secure.parts["primary manager"].url, secure.parts["secondary manager"].url
    w = _target(secure)
    assert _act(pm, "desk1-0a0a-1", TOKENS["console-1"], **w)[0] == 0
    assert _act(sm, "desk1-0a0a-1", TOKENS["console-1"], **w)[0] == 0
    assert journal_counts(secure.journal).get("desk1-0a0a-1") == 1


def test_a_token_limits_the_ptz_priority_its_console_may_steer_with(secure: Topology) -> None:
    """ptz_priority_max = { console-2 = 3 }: console-2 asking for priority 9 steers with 3, so it cannot take a dome
    console-1 holds with 5 (it would without the limit), and the refusal says why; console-1 is not limited."""
    pm, sm = secure.parts["primary manager"].url, secure.parts["secondary manager"].url

    def move(uid: str, token: str, console: str, priority: int) -> tuple[int, str]:
        q = encode(
            "setRelativePosition", {"cameraid": "104", "pan": 100, "console": console, "priority": priority}, uid
        )
        answers = [
            parse_result(httpx.get(f"{b}/command?{q}", headers={TOKEN_HEADER: token}, timeout=10).content)
            for b in (pm, sm)
        ]
        return answers[0].errorcode, answers[0].description

    assert move("ptzlim1-a-1", TOKENS["console-1"], "Desk 1", 5)[0] == 0
    code, why = move("ptzlim2-a-1", TOKENS["console-2"], "Desk 2", 9)
    assert code == ResultCode.PTZ_IN_USE, why
    assert "in use by Desk 1" in why and "token console-2 may steer with priority 3 at most" in why
    assert journal_counts(secure.journal).get("ptzlim2-a-1") is None
    c = command(pm, "getPtzControl", timeout=5).root.find("ptzcontrols/ptzcontrol")
    assert c is not None and (c.findtext("console"), c.findtext("priority")) == ("Desk 1", "5")
    assert move("ptzlim1-a-2", TOKENS["console-1"], "Desk 1", 9)[0] == 0  # console-1 has no limit
    assert journal_counts(secure.journal).get("ptzlim1-a-2") == 1


def test_the_managers_have_no_link_to_each_other_and_follow_each_other_through_etcd(secure: Topology) -> None:
    """What the peer token guarded (the status feed, the fence) is gone: nothing on a manager's port takes another
    manager's word. The managers still see each other, through their liveness keys in etcd."""
    pm, sm = secure.parts["primary manager"].url, secure.parts["secondary manager"].url
    for base in (pm, sm):
        for method, path in (("GET", "/manager/feed"), ("POST", "/manager/fence")):
            r = raw(base, path, method=method, body=b'{"from": "secondary"}' if method == "POST" else None)
            assert r.status_code == 404 and parse_result(r.content).errorcode == -111, (method, path)
    assert manager_field(pm, "forwarding") == "true" and manager_field(sm, "mode") == "failover"
    assert manager_field(pm, "peer/reachable") == "true" and manager_field(sm, "peer/reachable") == "true"
    assert manager_field(sm, "peer/mode") == "normal" and manager_field(pm, "peer/mode") == "failover"
    assert manager_field(pm, "etcd/site") == "secure" and manager_field(pm, "etcd/ok") == "true"


def test_actions_over_the_rate_are_refused_and_copies_are_not_counted(secure: Topology) -> None:
    pm = secure.parts["primary manager"].url
    w = _target(secure)
    results = {f"burst-00ff-{i}": _act(pm, f"burst-00ff-{i}", TOKENS["console-1"], **w) for i in range(10)}
    limited = [uid for uid, (code, _) in results.items() if code == -112]
    accepted = [uid for uid, (code, _) in results.items() if code == 0]
    assert accepted[:3] == ["burst-00ff-0", "burst-00ff-1", "burst-00ff-2"]  # the burst
    assert limited, results
    assert "not executed" in results[limited[0]][1]
    counts = journal_counts(secure.journal)
    assert all(uid not in counts for uid in limited)
    assert all(counts.get(uid) == 1 for uid in accepted)
    # a copy of an accepted action is answered from its record (etcd), whatever the rate
    for _ in range(5):
        assert _act(pm, accepted[0], TOKENS["console-1"], **w)[0] == 0
    # another station's bucket is its own
    assert _act(pm, "desk9-00ff-1", TOKENS["console-2"], **w)[0] == 0


def test_the_redundant_client_sends_its_token_to_the_managers(secure: Topology) -> None:
    async def run() -> int | None:
        c = RedundantClient(
            ClientSettings(
                "desk2",
                [secure.parts[f"{r} manager"].url for r in ("primary", "secondary")],
                [secure.parts[f"{r} server"].url for r in ("primary", "secondary")],
                token=TOKENS["console-2"],
            )
        )
        await c.start()
        try:
            o = await c.act("selectCamera", **_target(secure))
            return o.errorcode
        finally:
            await c.close()

    assert asyncio.run(run()) == 0


def test_a_console_with_a_wrong_token_sees_it_refused_and_its_actions_are_not_executed(secure: Topology) -> None:
    async def run() -> tuple[list[str], int | None, str]:
        c = RedundantClient(
            ClientSettings(
                "desk5",
                [secure.parts[f"{r} manager"].url for r in ("primary", "secondary")],
                [secure.parts[f"{r} server"].url for r in ("primary", "secondary")],
                token="a-token-nobody-configured-0000",
            )
        )
        changes: list[str] = []
        c.subscribe(lambda view, ch: changes.extend(x.text for x in ch))
        await c.start()
        try:
            loop = asyncio.get_running_loop()
            end = loop.time() + 10
            while not all(m.token_refused for m in c.view.managers.values()):
                assert loop.time() < end, c.view.summary()
                await asyncio.sleep(0.02)
            o = await c.act("selectCamera", **_target(secure))
            return changes, o.errorcode, o.message
        finally:
            await c.close()

    changes, code, message = asyncio.run(run())
    assert code is None and message.count("(-104)") == 2 and "access token" in message  # both managers refused
    assert any("refuses this console's access token" in t for t in changes)
    assert not any(uid.startswith("desk5-") for uid in journal_counts(secure.journal))


def test_check_shows_roles_and_round_trips_and_fails_on_a_missing_or_wrong_token(
    secure: Topology, tmp_path: Path
) -> None:
    managers = ",".join(secure.parts[f"{r} manager"].url for r in ("primary", "secondary"))
    servers = ",".join(secure.parts[f"{r} server"].url for r in ("primary", "secondary"))

    def check(token: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "SENSETWIN_TOKEN"}
        env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
        if token is not None:
            env["SENSETWIN_TOKEN"] = token
        return subprocess.run(
            [sys.executable, "-m", "app", "check", "--managers", managers, "--servers", servers],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    good = check(TOKENS["console-1"])
    assert good.returncode == 0, good.stdout + good.stderr
    lines = good.stdout.splitlines()
    assert any(ln.startswith("ok") and "primary manager" in ln and "role primary" in ln for ln in lines)
    assert any("secondary manager" in ln and "mode failover" in ln and "token valid" in ln for ln in lines)
    assert any("primary server" in ln and "state active" in ln and " ms " in ln for ln in lines)
    assert "the system is redundant" in good.stdout and TOKENS["console-1"] not in good.stdout
    missing = check(None)
    assert missing.returncode == 1 and "token is missing" in missing.stdout
    wrong = check("a-wrong-token-but-long-enough")
    assert wrong.returncode == 1 and "token is invalid" in wrong.stdout


def test_managers_log_in_to_their_servers_and_no_secret_reaches_a_log(secure: Topology) -> None:
    for r in ("primary", "secondary"):
        wait_for(
            lambda r=r: int(_info(secure.parts[f"{r} server"].url).findtext("logins") or 0) >= 1,  # type: ignore[misc]
            10,
            f"a manager logged in to the {r} server",
        )
    logs = {p.name: p.log_path.read_text(errors="replace") for p in secure.parts.values()}
    assert "logged in as 'operator'" in logs["primary manager"]
    assert "refused GET /command" in logs["primary manager"]  # the refusals of the tests above, by address
    for name, text in logs.items():
        for secret in (PASSWORD, *TOKENS.values(), "not-the-token-at-all-0000"):
            assert secret not in text, f"{name} log holds a secret"
    assert "'***'" in logs["primary manager"]  # the settings line shows secrets masked


def _one_manager(tmp_path: Path, port: int, sim: Part, etcd: list[str]) -> dict[str, Any]:
    return {
        "role": "primary",
        "listen": f"127.0.0.1:{port}",
        "servers": [sim.url],
        "etcd": etcd,
        "etcd_allow_fewer": len(etcd) < 3,
        "state_dir": str(tmp_path / "state"),
    }


def _info(base: str) -> Any:
    return parse_xml(httpx.get(base + "/info", timeout=5).content)


def test_reads_can_need_a_token_and_a_refused_login_is_reported_without_the_password(tmp_path: Path) -> None:
    with Topology.create(tmp_path) as topo:
        sim = topo.add_single_sim()
        sim.args += ["--user", USER]
        sim.env["SENSETWIN_SIM_PASSWORD"] = "the-real-password"
        etcd = start_etcd(topo)
        port = free_port()
        cfg = write_config(
            tmp_path / "m.toml",
            {
                **_one_manager(tmp_path, port, sim, etcd),
                "reads_need_token": True,
                "server_user": USER,
                "server_password": PASSWORD,
            },
            {"console-1": TOKENS["console-1"]},
        )
        m = topo.add("primary manager", ["manager", "--config", str(cfg)], f"http://127.0.0.1:{port}")
        topo.start_all()
        topo.wait_ready()
        assert command(m.url, "getDivaList").errorcode == -104
        assert command(m.url, "getManagerStatus").errorcode == -104
        r = httpx.get(f"{m.url}/command?command=getDivaList", headers={TOKEN_HEADER: TOKENS["console-1"]})
        assert parse_result(r.content).errorcode == 0
        wait_for(lambda: "refused the login" in m.log_path.read_text(), 10, "the refused login is logged")
        text = m.log_path.read_text() + sim.log_path.read_text()
        assert "check server_user and server_password" in text
        assert PASSWORD not in text and "the-real-password" not in text and TOKENS["console-1"] not in text


def test_everything_over_https_trusted_only_with_the_ca_bundle(tmp_path: Path) -> None:
    """A https server, two https managers that reach it with the site CA and see each other through etcd, a
    console that trusts that CA; a client without it refuses the certificate."""
    trustme = pytest.importorskip("trustme")  # a test extra; make test installs it
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    tls = client_tls(ca_file)
    tls_args = {"tls_cert": str(cert_file), "tls_key": str(key_file), "ca_bundle": str(ca_file)}
    with Topology.create(tmp_path) as topo:
        etcd = start_etcd(topo)
        sport, ports = free_port(), {"primary": free_port(), "secondary": free_port()}
        sim_url = f"https://127.0.0.1:{sport}"
        sim = topo.add(
            "server",
            [
                *("sim", "--role", "primary", "--listen", f"127.0.0.1:{sport}", "--journal", str(topo.journal)),
                *("--tls-cert", str(cert_file), "--tls-key", str(key_file)),
            ],
            sim_url,
        )
        urls = {r: f"https://127.0.0.1:{ports[r]}" for r in ports}
        for role in ("primary", "secondary"):
            cfg = write_config(
                tmp_path / f"{role}.toml",
                {
                    **_one_manager(tmp_path, ports[role], sim, etcd),
                    "role": role,
                    "state_dir": str(tmp_path / f"state-{role}"),
                    **tls_args,
                },
            )
            topo.add(f"{role} manager", ["manager", "--config", str(cfg)], urls[role])
        for part in topo.parts.values():
            part.start()  # the etcd member is running already: start() leaves it be

        def status(url: str, path: str) -> str:
            try:
                r = httpx.get(f"{url}/command?command=getManagerStatus", verify=tls, timeout=1)
                return parse_result(r.content).text(f"managerstatus/{path}")
            except httpx.HTTPError:
                return ""

        wait_for(lambda: status(urls["primary"], "activeservername") == "primary", 20, "https manager sees the server")
        wait_for(lambda: status(urls["secondary"], "activeservername") == "primary", 20, "both see it over https")
        wait_for(lambda: status(urls["secondary"], "peer/reachable") == "true", 20, "secondary sees the primary")
        wait_for(lambda: status(urls["primary"], "peer/reachable") == "true", 20, "primary sees the secondary")
        assert "listening on https://" in topo.parts["primary manager"].log_path.read_text()
        assert "listening on https://" in sim.log_path.read_text()

        async def run() -> tuple[str, int | None]:
            plain = HttpLink(timeout=2)
            try:
                await plain.get(urls["primary"] + "/info")
                reason = "trusted without the CA"
            except NotSent as exc:
                reason = exc.reason
            finally:
                await plain.close()
            c = RedundantClient(ClientSettings("desk3", list(urls.values()), [sim_url], verify=str(ca_file)))
            await c.start()
            try:
                r = await c.read("getLayoutStatus")
                d = r.root.find("layoutstatus/divas/diva")
                assert d is not None
                target = {
                    "divaid": d.findtext("divaid") or "",
                    "layoutid": d.findtext("monitors/monitor/layout/layoutid") or "",
                    "panelid": d.findtext("monitors/monitor/layout/panels/panel/panelid") or "",
                    "cameraview": "cameraid:101",
                }
                o = await c.act("selectCamera", **target)
                return reason, o.errorcode
            finally:
                await c.close()

        reason, code = asyncio.run(run())
        assert "not trusted" in reason and "CA bundle" in reason
        assert code == 0
        assert sum(journal_counts(topo.journal).values()) == 1
