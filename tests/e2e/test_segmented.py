"""Whole answers through a link that cuts them into TCP-sized pieces (TESTING.md, "What loopback hides").

On loopback a 128 KB answer arrives in one piece, so a reader that takes "what has arrived so far" for the
whole body passes every loopback test and fails on the first LAN. Here every link the console and the managers
use goes through a FaultProxy in `segment` mode: console → managers, managers → servers and console → servers
(/info). Two sims, the coordination members and two managers run as real processes; the console side is the
console's own network code (RedundantClient). Every read the console makes must come back whole and equal to
what the active server answers on loopback, on the demo site and on the big site (2,000 cameras); a burst of
actions must execute each uid exactly once (the journal), each answered Ok.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.client import ClientSettings, RedundantClient
from app.demo import Topology
from app.sense import Result, encode, parse_result
from app.sim import read_journal
from app.sim.site import Site, load_site
from tests.faultproxy import FaultProxy, ProxyLoop
from tests.helpers import manager_field, wait_for


@dataclass
class Segmented:
    topo: Topology
    site: Site  # the oracle: what the sims serve
    to_servers: list[FaultProxy]  # managers and console → primary, secondary server
    to_managers: list[FaultProxy]  # console → primary, secondary manager

    def direct(self, name: str, **params: Any) -> Result:
        """The active (primary) server's answer on loopback, not through a proxy: what the console must get."""
        with httpx.Client(timeout=30) as c:
            r = c.get(f"{self.topo.parts['primary server'].url}/command?{encode(name, params)}")
        return parse_result(r.content)

    def console(self) -> RedundantClient:
        return RedundantClient(
            ClientSettings(
                station="segmented",
                managers=[p.url for p in self.to_managers],
                servers=[p.url for p in self.to_servers],
            )
        )


def start_managers(topo: Topology, servers: list[str]) -> None:
    """The one place this module builds managers: the coordination members and two managers that reach the
    sims at `servers` (our proxies), started and settled."""
    topo.add_etcd()
    topo.add_managers(servers=servers)
    topo.start_all()
    topo.wait_ready()
    topo.wait_settled(timeout=40)
    pm, sm = topo.parts["primary manager"].url, topo.parts["secondary manager"].url
    wait_for(
        lambda: manager_field(pm, "forwarding") == "true" and manager_field(sm, "activeservername") == "primary",
        20,
        "managers following the primary server through the segmenting link",
    )


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def segmented_system(workdir: Path, site: str, **link: Any) -> Iterator[Segmented]:
    """Sims serving `site`, managers behind segmenting links to them, and segmenting links to the managers."""
    proxies = ProxyLoop()
    topo = Topology.create(workdir, action_rate=0, sim_site=site)
    try:
        ps, ss = topo.add_sims()
        to_servers = [proxies.proxy(f"→ {p.name}", _port(p.url), mode="segment", **link) for p in (ps, ss)]
        start_managers(topo, [p.url for p in to_servers])
        to_managers = [
            proxies.proxy(f"console → {r} manager", _port(topo.parts[f"{r} manager"].url), mode="segment", **link)
            for r in ("primary", "secondary")
        ]
        yield Segmented(topo, load_site(site), to_servers, to_managers)
    finally:
        topo.stop_all()
        proxies.close()


# Both sites with 1-3 ms after every 1,460-byte piece (a slow link, ~5 Mbit/s): the big site's 0.5 MiB device list
# then takes over a second from the server alone, longer than an action's upstream_timeout; a read only has to keep
# arriving (each piece within the timeout).
LINKS: dict[str, dict[str, Any]] = {"demo": {"segment_both": True}, "big": {"segment_both": True}}


@pytest.fixture(scope="module", params=sorted(LINKS))
def lan(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Segmented]:
    """Every link cuts both directions into 1,460-byte pieces."""
    site = request.param
    yield from segmented_system(tmp_path_factory.mktemp(f"segmented-{site}"), site, **LINKS[site])


def _label(name: str, params: dict[str, str]) -> str:
    return " ".join([name, *(f"{k}={v}" for k, v in params.items())])


def _canonical(r: Result) -> bytes:
    return ET.tostring(r.root)


async def _until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.05)


def test_every_console_read_comes_back_whole(lan: Segmented) -> None:
    site = lan.site
    dome = next(c for c in site.cameras.values() if c.ptz)
    fixed = next(c for c in site.cameras.values() if not c.ptz)
    reads: list[tuple[str, dict[str, str]]] = [
        ("getDivaList", {}),
        ("getDeviceList", {}),
        ("getLayoutList", {}),
        ("getMultiLayoutList", {}),
        ("getActionList", {}),
        ("getLayoutStatus", {}),
        ("getLayoutStatus", {"divaid": site.viewers[-1]["divaid"]}),
        ("getOptions", {"serverid": dome.serverid, "cameraid": dome.deviceid}),
        ("getOptions", {"serverid": fixed.serverid, "cameraid": fixed.deviceid}),
        ("getPosition", {"serverid": dome.serverid, "cameraid": dome.deviceid}),
    ]
    expected = {_label(n, p): _canonical(lan.direct(n, **p)) for n, p in reads}
    before = lan.to_servers[0].pieces

    async def run() -> dict[str, Result]:
        client = lan.console()
        await client.start()
        try:
            # The console's own watch: /info of both servers and getManagerStatus of both managers, all
            # through the segmenting links.
            await _until(
                lambda: (
                    client.view.executing_manager is not None
                    and client.view.active_server is not None
                    and all(m.reachable for m in client.view.managers.values())
                    and {s.state for s in client.view.servers.values()} == {"active", "standby"}
                ),
                20,
                "the console seeing both servers and both managers",
            )
            got = {_label(n, p): await client.read(n, **p) for n, p in reads}
            got["getManagerStatus"] = await client.read("getManagerStatus")
            got["getEvents"] = await client.read("getEvents")  # the console's first contact: only lasteventid
            got["getEvents all"] = await client.read("getEvents", startid=1, limit=500)
            return got
        finally:
            await client.close()

    got = asyncio.run(run())
    for label, r in got.items():
        assert r.ok, (label, r.errorcode, r.description)
    for label, want in expected.items():
        assert _canonical(got[label]) == want, f"{label} through the segmenting links differs from the server's answer"
    devices = got["getDeviceList"].root.find("devices")
    assert devices is not None and int(devices.get("count", "0")) == len(devices) == len(site.cameras)
    assert {(d.findtext("serverid"), d.findtext("deviceid")) for d in devices} == {
        (c.serverid, c.deviceid) for c in site.cameras.values()
    }
    divas = got["getDivaList"].root.find("divas")
    assert divas is not None and len(divas) == 1 + len(site.servers) + len(site.viewers)
    status = got["getLayoutStatus"].root.find("layoutstatus/divas")
    assert status is not None and len(status) == len(site.viewers)
    assert all(
        len(d.findall("monitors/monitor")) == len(v["monitors"]) for d, v in zip(status, site.viewers, strict=True)
    )
    presets = got[_label("getOptions", reads[7][1])].root.find("options/presets")
    assert presets is not None and len(presets) == len(dome.presets)
    assert got["getManagerStatus"].text("managerstatus/activeservername") == "primary"
    events = got["getEvents all"].root.find("events")
    assert events is not None and int(events.get("count", "-1")) == len(events.findall("event"))
    # The links really cut: the device list alone is hundreds of pieces on the big site, a few on the demo's.
    body = len(ET.tostring(devices))
    assert lan.to_servers[0].pieces - before >= body // 1460


# -- a burst of actions ------------------------------------------------------------------------------------


def _actions(site: Site, target: dict[str, str], n: int) -> list[tuple[str, dict[str, str]]]:
    """n valid actions of every kind (idempotent and not), deterministic. selectLayout only ever changes the
    last viewer's last monitor, so the first viewer's first panel stays a valid selectCamera target."""
    cams = list(site.cameras.values())
    domes = [c for c in cams if c.ptz and len(c.presets) >= 2]
    last = site.viewers[-1]
    layouts = list(site.layouts)
    out: list[tuple[str, dict[str, str]]] = []
    for i in range(n):
        cam, dome = cams[i % len(cams)], domes[i % len(domes)]
        d = {"serverid": dome.serverid, "cameraid": dome.deviceid}
        kind = i % 8
        if kind == 0:
            out.append(("selectCamera", {"cameraview": f"serverid:{cam.serverid};cameraid:{cam.deviceid}", **target}))
        elif kind == 1:
            out.append(
                (
                    "selectLayout",
                    {
                        "divaid": last["divaid"],
                        "monitorindex": str(len(last["monitors"]) - 1),
                        "layoutid": layouts[i % len(layouts)],
                    },
                )
            )
        elif kind == 2:
            out.append(("gotoPreset", {**d, "preset": str(1 + i % 2)}))
        elif kind == 3:
            out.append(("setAbsolutePosition", {**d, "pan": str(i % 1800), "tilt": str(-(i % 900)), "zoom": "400"}))
        elif kind == 4:
            out.append(("setRelativePosition", {"serverid": dome.serverid, "deviceid": dome.deviceid, "pan": "0"}))
        elif kind == 5:
            out.append(
                (
                    "executeAction",
                    {"actionname": "viewer.executeMacro", "divaid": target["divaid"], "name": "Incident mode"},
                )
            )
        elif kind == 6:
            out.append(
                (
                    "executeAction",
                    {
                        "actionname": "server.tagVideoStart",
                        "serverid": cam.serverid,
                        "deviceid": cam.deviceid,
                        "title": f"burst {i}",
                    },
                )
            )
        else:
            out.append(("setPreset", {**d, "preset": "9", "name": f"Burst {i}"}))
    return out


@pytest.fixture
def small_pieces(tmp_path: Path) -> Iterator[Segmented]:
    """Every link cuts both directions into 100-byte pieces: even a 200-byte answer comes in several."""
    yield from segmented_system(tmp_path, "demo", segment_bytes=100, gap=(0.0005, 0.0015), segment_both=True)


def test_a_burst_of_actions_loses_nothing_and_garbles_nothing(small_pieces: Segmented) -> None:
    s = small_pieces
    status = s.direct("getLayoutStatus").root.find("layoutstatus/divas/diva")
    assert status is not None
    target = {
        "divaid": status.findtext("divaid") or "",
        "layoutid": status.findtext("monitors/monitor/layout/layoutid") or "",
        "panelid": status.findtext("monitors/monitor/layout/panels/panel/panelid") or "",
    }
    actions = _actions(s.site, target, 300)
    uids = [f"burst-{i}" for i in range(len(actions))]
    manager = s.to_managers[0].url  # the primary manager, through its segmenting link

    async def run() -> list[str]:
        gate = asyncio.Semaphore(4)  # a few at a time, as a control room's operators do

        async def one(c: httpx.AsyncClient, uid: str, name: str, params: dict[str, str]) -> str:
            async with gate:
                r = await c.get(f"{manager}/command?{encode(name, params, uid)}")
            res = parse_result(r.content)  # raises on a garbled answer
            return res.message() if res.ok else f"{res.errorcode} {res.description}"

        async with httpx.AsyncClient(timeout=30) as c:
            return await asyncio.gather(*(one(c, u, n, p) for u, (n, p) in zip(uids, actions, strict=True)))

    answers = asyncio.run(run())
    bad = [(u, a) for u, a in zip(uids, answers, strict=True) if a != "Ok"]
    assert not bad, f"{len(bad)} of {len(uids)} actions were not answered Ok, e.g. {bad[:3]}"
    journal = read_journal(s.topo.journal)
    counts = Counter(str(e["uid"]) for e in journal)
    assert {u: counts.get(u, 0) for u in uids} == dict.fromkeys(uids, 1), "an action was lost or executed twice"
    assert set(counts) == set(uids)
    by_uid = {str(e["uid"]): e for e in journal}
    for uid, (name, params) in zip(uids, actions, strict=True):
        e = by_uid[uid]
        assert e["command"] == name, (uid, e)
        got = {str(k).lower(): str(v) for k, v in dict(e["params"]).items()}  # type: ignore[call-overload]
        assert {k.lower(): v for k, v in params.items()}.items() <= got.items(), (uid, params, got)
    # A cut answer to an action is not always visible in the answer: the manager then finds the action in
    # doubt, asks the server (getUidStatus) and answers Ok. A real Sense server cannot tell, and every such
    # action would reach the operator as "may or may not have been executed": none may be in doubt.
    for role in ("primary", "secondary"):
        log = s.topo.parts[f"{role} manager"].log_path.read_text(encoding="utf-8", errors="replace")
        doubts = [line for line in log.splitlines() if "not Sense XML" in line or "in doubt" in line]
        assert not doubts, f"{len(doubts)} answers were cut on the way to the {role} manager, e.g. {doubts[:2]}"
    assert s.to_managers[0].pieces > len(uids) * 2 and s.to_servers[0].pieces > len(uids) * 2
