"""Proof under faults (Jepsen-style): a workload, a nemesis that injects faults, a checker over the history.

Two sims, two managers and two paired headless consoles run as real processes on loopback; every console→
manager, manager→server and manager→manager link goes through a fault proxy. Both consoles send N actions of
all kinds (idempotent and not) and reads; a seeded nemesis injects one fault at a time with recovery between:
kill -9 and restart of any part, SIGSTOP/SIGCONT pauses of 1-5 s, and added latency, dropped connections or a
one-way cut on one link. The checker reads the servers' journal and the consoles' outcomes.

Workflow load (issue 15, --no-workflows to leave it out): the managers have the demo's alarm rules; motion events
are raised on the active sim every few seconds, both consoles apply each alarm's reaction (one uid per alarm and
rule) and acknowledge it; console A runs a tour (2 s dwell) on a panel of its own that the pair drives through
every fault. Checked: a reaction or a tour step executed twice, a tour step executed out of order, alarms made
twice from one event.

    python -m tests.perf.chaos --actions 1000 --seed 1      (--smoke: about 100 actions, 5 faults)

Exit status 1 if an action was lost or a non-idempotent action executed twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import functools
import itertools
import json
import random
import re
import sys
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from app.demo import Topology, free_port
from app.demo.topology import DEMO_ALARMS, program
from app.sense import classify
from app.sim import read_journal
from tests.console_process import ConsoleProcess
from tests.faultproxy import FaultProxy
from tests.helpers import command, wall_target
from tests.lab.system import manager_command, manager_options
from tests.perf.common import ms, pct, summary

DEMO_RULES: list[dict[str, Any]] = tomllib.loads(DEMO_ALARMS)["alarms"]  # the managers' rules, as they read them


class Chaos:
    def __init__(self, workdir: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.topo = Topology.create(workdir, action_rate=0)
        self.proxies: dict[str, FaultProxy] = {}
        self.consoles: dict[str, ConsoleProcess] = {}
        self.console_args: dict[str, list[str]] = {}
        self.old_consoles: list[ConsoleProcess] = []
        self.faults: list[dict[str, Any]] = []
        self.sent: dict[str, dict[str, Any]] = {}  # tag -> action
        self.dead: set[str] = set()  # tags whose console died before it answered
        self.workflows = True
        self.tour_run = ""
        self.events_maybe = 0  # event posts without an answer (they may have been raised)
        self.raised_values: list[str] = []  # the value of each event a sim took (200)
        self.events_refused: list[str] = []

    async def start(self) -> None:
        ps, ss = self.topo.add_sims()
        mports = {"primary": free_port(), "secondary": free_port()}
        for m in ("primary", "secondary"):
            for s, part in (("primary", ps), ("secondary", ss)):
                await self._proxy(f"{m} manager → {s} server", int(part.url.rsplit(":", 1)[1]))
            other = "secondary" if m == "primary" else "primary"
            await self._proxy(f"{m} manager → {other} manager", mports[other])
        options = manager_options()
        etcd: list[str] = []
        if "--etcd" in options:  # the managers coordinate through three etcd members (direct, not proxied)
            self.topo.add_etcd()
            etcd = self.topo.etcd_urls()
        alarms = self.topo.workdir / "manager-alarms.toml"
        alarms.write_text(DEMO_ALARMS if self.workflows else "", encoding="utf-8")
        for m in ("primary", "secondary"):
            other = "secondary" if m == "primary" else "primary"
            argv = manager_command(
                options,
                m,
                config=alarms,
                listen=f"127.0.0.1:{mports[m]}",
                servers=[self.proxies[f"{m} manager → {s} server"].url for s in ("primary", "secondary")],
                peer=self.proxies[f"{m} manager → {other} manager"].url,
                etcd=etcd,
                state_dir=self.topo.workdir / "state",
                action_rate=None,  # the managers' default rate limit, as before
            )
            self.topo.add(f"{m} manager", argv[len(program()) :], f"http://127.0.0.1:{mports[m]}")
        self.topo.start_all()
        await asyncio.to_thread(self.topo.wait_ready)
        await asyncio.to_thread(self.topo.wait_settled)
        cports = {"A": free_port(), "B": free_port()}
        for c, role in (("A", "primary"), ("B", "secondary")):
            for m in ("primary", "secondary"):
                await self._proxy(f"console {c} → {m} manager", mports[m])
            other = "B" if c == "A" else "A"
            self.console_args[c] = [
                "--station",
                f"desk{c}",
                "--pair-role",
                role,
                "--pair",
                "chaos",
                "--peer",
                f"http://127.0.0.1:{cports[other]}",
                "--peer-listen",
                f"127.0.0.1:{cports[c]}",
                "--managers",
                ",".join(self.proxies[f"console {c} → {m} manager"].url for m in ("primary", "secondary")),
                "--servers",
                ",".join(self.topo.parts[f"{s} server"].url for s in ("primary", "secondary")),
            ]
            self.consoles[c] = ConsoleProcess(self.console_args[c], self.topo.workdir / f"console-{c}.log")
        await self.until(self.healthy, 30, "system ready")
        pm = self.topo.parts["primary manager"].url
        # Blocking calls go to a thread: this loop also runs the fault proxies every part talks through.
        self.target = await asyncio.to_thread(wall_target, pm)
        devices = (await asyncio.to_thread(command, pm, "getDeviceList")).root.find("devices")
        assert devices is not None
        self.domes = [(d.findtext("serverid"), d.findtext("deviceid")) for d in devices if d.findtext("ptztype")]
        self.cameras = [d.findtext("deviceid") for d in devices]

    async def _proxy(self, name: str, port: int) -> None:
        p = FaultProxy(name, port)
        await p.start()
        self.proxies[name] = p

    async def close(self) -> None:
        for c in [*self.consoles.values(), *self.old_consoles]:
            await asyncio.to_thread(c.stop)
        await asyncio.to_thread(self.topo.stop_all)
        for p in self.proxies.values():
            await p.close()

    async def until(self, cond: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not reached within {timeout} s")
            await asyncio.sleep(0.05)

    def healthy(self) -> bool:
        """Every console sees one active server and an executing manager, and its peer."""
        for c in self.consoles.values():
            views = c.find(lambda x: "view" in x)
            c.send(op="view")
            if not views:
                return False
            v = views[-1]
            if not v["summary"].startswith("server: primary; manager: primary") or not v["view"]["peer"]["reachable"]:
                return False
        return True

    # -- workload --------------------------------------------------------------------------------------

    def action(self, i: int) -> tuple[str, dict[str, str]]:
        r = self.rng.random()
        if r < 0.35:
            return "selectCamera", {"cameraview": f"cameraid:{self.rng.choice(self.cameras)}", **self.target}
        if r < 0.5:
            sid, did = self.rng.choice(self.domes)
            return "gotoPreset", {"serverid": sid, "cameraid": did, "preset": str(self.rng.randint(1, 3))}
        if r < 0.8:
            return "executeAction", {
                "actionname": "viewer.executeMacro",
                "divaid": self.target["divaid"],
                "name": self.rng.choice(["Incident mode", "Switch Layout Layout1"]),
            }
        sid, did = self.rng.choice(self.domes)
        return "setRelativePosition", {"serverid": sid, "deviceid": did, "pan": "0", "tilt": "0"}

    def outcomes(self) -> dict[str, dict[str, Any]]:
        out = {}
        for c in [*self.old_consoles, *self.consoles.values()]:
            for x in c.find(lambda x: "outcome" in x):
                if x["outcome"].get("tag") in self.sent:  # the workload's (the workflow load's are its own)
                    out[x["outcome"]["tag"]] = {**x["outcome"], "_t": x["_t"], "_wall": x.get("_wall", 0.0)}
        return out

    async def workload(self, n: int, faults: int) -> None:
        # Spread the actions over the nemesis' schedule (a fault cycle takes about 5 s), so faults hit a workload.
        pace = max(0.01, faults * 5.0 / max(n, 1))
        for i in range(n):
            tag = f"a{i}"
            c = "A" if i % 2 == 0 else "B"
            if self.consoles[c].proc.poll() is not None:  # killed by the nemesis: the operator uses the other one
                c = "B" if c == "A" else "A"
            name, params = self.action(i)
            self.sent[tag] = {"command": name, "console": c, "at": time.monotonic()}
            self.consoles[c].act(name, tag=tag, **params)
            if i % 10 == 5:
                self.consoles[c].send(op="read", command="getLayoutStatus", tag=f"r{i}")
            # operators' pace with a bound on what is in flight
            while True:
                self._forget_dead()
                got = self.outcomes()
                if sum(1 for t in self.sent if t not in got and t not in self.dead) <= 6:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(self.rng.uniform(0.5, 1.5) * pace)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(t not in self.outcomes() for t in self.sent if t not in self.dead):
            await asyncio.sleep(0.05)
            self._forget_dead()

    def _forget_dead(self) -> None:
        """Actions handed to a console that was killed before it answered: their outcome is unknown."""
        got = self.outcomes()
        for tag, a in self.sent.items():
            if tag not in got and a.get("lost_console"):
                self.dead.add(tag)

    # -- workflow load (issue 15) ------------------------------------------------------------------------

    def server_urls(self) -> list[str]:
        return [self.topo.parts[f"{r} server"].url for r in ("primary", "secondary")]

    def manager_urls(self) -> list[str]:
        return [self.topo.parts[f"{r} manager"].url for r in ("primary", "secondary")]

    async def blocking(self, fn: Any, *args: Any) -> Any:
        """A blocking call where it reaches every part (here: a thread; the lab: its router's namespace)."""
        return await asyncio.to_thread(fn, *args)

    def sync(self, fn: Any, *args: Any) -> Any:
        """`blocking` for the checker, which runs outside the loop."""
        return fn(*args)

    async def start_workflows(self) -> None:
        """Console A starts a tour on a panel that neither the workload nor the alarm reaction uses."""
        status = await self.blocking(command, self.manager_urls()[0], "getLayoutStatus")
        taken = {
            self.target["panelid"],
            *(r["reaction"]["panelid"] for r in DEMO_RULES if "reaction" in r),
        }
        panels = []
        for d in status.root.iterfind("layoutstatus/divas/diva"):
            for mon in d.iterfind("monitors/monitor"):
                for panel in mon.iterfind("layout/panels/panel"):
                    pid = panel.findtext("panelid") or ""
                    if pid and pid not in taken:
                        panels.append((d.findtext("divaid") or "", mon.findtext("layout/layoutid") or "", pid))
        if not panels:
            raise RuntimeError("the site has no panel for the chaos tour")
        divaid, layoutid, panelid = panels[0]
        cams = ",".join(str(c) for c in self.cameras[:4])
        self.consoles["A"].send(
            op="start_tour", name="chaos tour", cameras=cams, dwell=2, divaid=divaid, layoutid=layoutid,
            panelid=panelid, tag="tour-start",
        )  # fmt: skip

        def started() -> bool:
            got = [
                x for x in self.consoles["A"].find(lambda x: "outcome" in x) if x["outcome"].get("tag") == "tour-start"
            ]
            return bool(got)

        await self.until(started, 15, "the chaos tour started")
        o = next(
            x["outcome"]
            for x in self.consoles["A"].find(lambda x: "outcome" in x)
            if x["outcome"].get("tag") == "tour-start"
        )
        if not o["ok"]:
            raise RuntimeError(f"the chaos tour did not start: {o['message']}")
        self.tour_run = str(o["params"]["run"])

    def _raise_motion(self, value: str) -> str:
        """A motion event on the gate camera, on whichever sim takes it (the standby refuses): '' or why not."""
        import urllib.error
        import urllib.request

        gate = next(r for r in DEMO_RULES if r["type"] == "Motion")
        camera, server = gate["camera"], gate["serverid"]
        body = json.dumps({"type": "Motion", "serverid": server, "deviceid": camera, "value": value}).encode()
        why = []
        for url in self.server_urls():
            req = urllib.request.Request(url + "/sim/event", body, {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=1.0) as r:
                    if r.status == 200:
                        return ""
            except urllib.error.HTTPError as exc:  # a standby's refusal: certainly not raised there
                why.append(f"{url}: {exc}")
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                self.events_maybe += 1  # a paused sim may still take it when it goes on
                why.append(f"{url}: {exc}")
        return "; ".join(why) or "no sim took it"

    async def alarm_load(self, done: asyncio.Event) -> None:
        """Motion events every 2-6 s; each console acknowledges a new alarm it sees now and then."""
        i = 0
        acked: set[str] = set()
        while not done.is_set():
            await asyncio.sleep(self.rng.uniform(2.0, 6.0))
            why = await self.blocking(self._raise_motion, f"chaos {i}")
            if why:
                self.events_refused.append(why[:160])
            else:
                self.raised_values.append(f"chaos {i}")
            i += 1
            for c, con in self.consoles.items():
                if con.proc.poll() is not None:
                    continue
                states = con.find(lambda x: "ops" in x)
                con.send(op="ops")
                if not states:
                    continue
                for a in states[-1]["ops"]["alarms"]:
                    if a["state"] == "new" and a["id"] not in acked and self.rng.random() < 0.5:
                        acked.add(a["id"])
                        con.send(op="ack", alarm=a["id"], comment=f"seen at desk {c}", tag=f"ack-{a['id']}")

    def check_workflows(self, journal: list[dict[str, Any]]) -> dict[str, Any]:
        """Reactions and tour steps: each uid executed at most once; tour steps in order."""
        counts = Counter(str(e["uid"]) for e in journal)
        reactions = [u for u in counts if u.startswith("alarm-")]
        doubled = [u for u in reactions if counts[u] > 1]
        steps: list[int] = []
        step_uids: list[str] = []
        step_uid = re.compile(re.escape(self.tour_run) + r"-(\d+)(?:-r\d+)?")  # RUN-N, or RUN-N-rK tried again
        for e in journal:  # file order is execution order
            m = step_uid.fullmatch(str(e["uid"])) if self.tour_run else None
            if m and e["command"] == "selectCamera":
                steps.append(int(m.group(1)))
                step_uids.append(str(e["uid"]))
        # The same uid twice in a row is one switch sent again to the server that took over from one that died
        # before telling it (an idempotent re-execution: the wall shows that step once); a step shown again under
        # another uid, or after a later step, is a repeat.
        resent = sum(1 for a, b in itertools.pairwise(step_uids) if a == b)
        repeated = len(steps) - len(set(steps)) - resent
        out_of_order = sum(
            1
            for (a, ua), (b, ub) in itertools.pairwise(zip(steps, step_uids, strict=True))
            if b < a or (b == a and ua != ub)
        )
        gaps = (max(steps) - min(steps) + 1 - len(set(steps))) if steps else 0
        alarms, folded = 0, 0
        state = self._all_alarms()
        if state is not None:
            motion = [a for a in state if (a.findtext("type") or "").lower() == "motion"]  # ours, not VideoLost
            alarms = len(motion)
            folded = sum(int(a.findtext("count") or 1) for a in motion)
        logged = self._motion_values_in_server_logs()
        lost_with_server = 0 if logged is None else sum(1 for v in self.raised_values if v not in logged)
        raised = len(self.raised_values)
        return {
            "alarm_events_raised": raised,
            "alarm_events_refused": len(self.events_refused),
            "alarms": alarms,
            "alarm_events_in_alarms": folded,
            "alarm_events_maybe": self.events_maybe,
            "alarms_doubled": max(0, folded - raised - self.events_maybe),
            # Raised on a sim that died before its standby or a manager read it: in no server's log at the end.
            "alarm_events_lost_with_server": lost_with_server,
            # Raised on a sim, still in a server's log, and no alarm made of it: the managers lost it.
            "alarm_events_missing": max(0, raised - lost_with_server - folded),
            "reactions_executed": len(reactions),
            "reactions_doubled": len(doubled),
            "tour_steps_executed": len(steps),
            "tour_steps_repeated": repeated,
            "tour_steps_resent": resent,
            "tour_steps_out_of_order": out_of_order,
            "tour_steps_not_shown": gaps,
            "_workflow": doubled[:10] + self.events_refused[:3],
        }

    def _motion_values_in_server_logs(self) -> set[str] | None:
        """The values of the chaos motion events either sim still holds (a restarted sim has its peer's copy); None
        when neither answers."""
        found: set[str] | None = None
        for url in self.server_urls():
            try:
                r = self.sync(functools.partial(command, url, "getEvents", startid="1", limit="-10000"))
            except Exception:  # the other sim then
                continue
            if r.ok:
                found = (found or set()) | {
                    e.findtext("eventvalue") or ""
                    for e in r.root.iterfind("events/event")
                    if e.findtext("eventtype") == "Motion"
                }
        return found

    def _all_alarms(self) -> list[Any] | None:
        for url in self.manager_urls():
            try:
                r = self.sync(functools.partial(command, url, "getAlarms", state="all"))
            except Exception:  # the other manager then
                continue
            if r.ok and r.root.find("alarms") is not None:
                return list(r.root.iterfind("alarms/alarm"))
        return None

    # -- nemesis ---------------------------------------------------------------------------------------

    async def nemesis(self, count: int, done: asyncio.Event) -> None:
        parts = ["primary server", "secondary server", "primary manager", "secondary manager"]
        for _ in range(count):
            await asyncio.sleep(self.rng.uniform(0.5, 2.0))
            if done.is_set():
                return
            kind = self.rng.choice(["kill", "kill", "pause", "net", "net"])
            hold = self.rng.uniform(1.0, 5.0)
            f: dict[str, Any] = {"kind": kind, "at": time.monotonic(), "hold_s": round(hold, 1)}
            n = len(self.faults) + 1
            if kind == "kill":
                target = self.rng.choice([*parts, "console A", "console B"])
                f["target"] = target
                print(f"fault {n}: kill -9 {target}, restart after {hold:.1f} s", flush=True)
                if target.startswith("console"):
                    c = target[-1]
                    for a in self.sent.values():
                        if a["console"] == c:
                            a["lost_console"] = True
                    self.consoles[c].kill()
                    await asyncio.sleep(hold)
                    self.old_consoles.append(self.consoles[c])
                    self.consoles[c] = ConsoleProcess(self.console_args[c], self.topo.workdir / f"console-{c}.log")
                else:
                    self.topo.parts[target].kill()
                    await asyncio.sleep(hold)
                    self.topo.parts[target].start()
            elif kind == "pause":
                target = self.rng.choice(parts)
                f["target"] = target
                print(f"fault {n}: SIGSTOP {target} for {hold:.1f} s", flush=True)
                self.topo.parts[target].pause()
                await asyncio.sleep(hold)
                self.topo.parts[target].resume()
            else:
                link = self.rng.choice(sorted(self.proxies))
                mode = self.rng.choice(["latency", "drop", "oneway"])
                f["target"], f["mode"] = link, mode
                print(f"fault {n}: {mode} on {link} for {hold:.1f} s", flush=True)
                self.proxies[link].set(mode)
                await asyncio.sleep(hold)
                self.proxies[link].set("pass")
            self.faults.append(f)
            with contextlib.suppress(TimeoutError):
                await self.until(self.healthy, 20, "recovery")

    # -- checker ---------------------------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        journal = read_journal(self.topo.journal)
        counts = Counter(str(e["uid"]) for e in journal)
        command_of = {str(e["uid"]): str(e["command"]) for e in journal}
        got = self.outcomes()
        lost, dup_nonidem, reexec, in_doubt, failed, unknown = [], [], [], [], [], []
        for uid, n in counts.items():
            if n > 1:
                (reexec if classify(command_of[uid]).idempotent else dup_nonidem).append(uid)
        for tag in self.sent:
            o = got.get(tag)
            if o is None:
                unknown.append(tag)  # its console died first; the journal check above still covers it
                continue
            n = counts.get(o["uid"], 0)
            if o["ok"] and n == 0:
                lost.append(tag)
            elif o["errorcode"] == -103:
                in_doubt.append(tag)
            elif not o["ok"] and o["errorcode"] is None:
                failed.append(f"{tag} {self.sent[tag]['command']}: {o['message'][:160]}")
        ftimes = []
        for f in self.faults:  # from the fault to the first answered action sent after it
            after = [o["_t"] for tag, o in got.items() if o["ok"] and self.sent[tag]["at"] > f["at"]]
            if after:
                ftimes.append(min(after) - f["at"])
        return {
            "actions": len(self.sent),
            "faults": len(self.faults),
            "lost": len(lost),
            "duplicated_nonidempotent": len(dup_nonidem),
            "reexecuted_idempotent": len(reexec),
            "in_doubt": len(in_doubt),
            "failed_reported": len(failed),
            "unknown_console_died": len(unknown),
            "failover_ms_p50": ms(pct(ftimes, 50)),
            "failover_ms_max": ms(max(ftimes)) if ftimes else None,
            "_lost": lost[:10],
            "_failed": failed[:10],
            "_dup": dup_nonidem[:10],
            **(self.check_workflows(journal) if self.workflows else {}),
        }


# -- the same workload and checker on the lab (--net lab) -----------------------------------------------------

LAB_KINDS = [  # (kind, weight) of the lab nemesis; each a kernel fact or a signal, one at a time
    ("mgr-cut-silent", 2),
    ("mgr-cut-refused", 2),
    ("mgr-cut-oneway", 1),
    ("mgr-cut-mixed", 1),
    ("mgr-host-down", 2),
    ("console-cut", 1),
    ("pair-split", 1),
    ("srv-host-down", 1),
    ("j-cut", 1),
    ("pause", 1),
    ("kill", 2),
    ("witness-down", 1),
]
PAUSABLE = ["primary server", "secondary server", "primary manager", "secondary manager"]
ETCD_PARTS = ["etcd-p", "etcd-s", "etcd-w"]


def journal_time(entry: dict[str, Any]) -> float:
    """The journal's execution time (UTC ISO, wall clock of the same machine) as time.time() seconds."""
    return datetime.datetime.fromisoformat(str(entry["at"])).timestamp()


class LabChaos(Chaos):
    """Chaos on the lab: every part on its own host; the nemesis cuts at the router, powers hosts off, pauses
    and kills processes. The checker adds per fault kind: executed although reported failed, late, availability,
    stale."""

    def __init__(self, workdir: Path, seed: int, profile: str = "lan") -> None:
        super().__init__(workdir, seed)
        from tests.lab.net import Lab

        self.lab = Lab(workdir, profile=profile)
        # The nemesis draws from its own generator, so a seed gives the same faults whatever the timing.
        self.nrng = random.Random(seed * 7919 + 1)
        self.system: Any = None
        self.in_flight_limit = 6

    async def start(self) -> None:
        from tests.lab.system import LabSystem

        self.lab.build()
        self.system = LabSystem(self.lab, alarms=DEMO_ALARMS if self.workflows else None)
        self.topo = self.system.topo  # journal path, readiness checks
        self.consoles = self.system.consoles  # the same dicts: a restarted console replaces its entry
        self.old_consoles = self.system.old_consoles
        self.console_args = self.system.console_args
        self.system.start()
        await self.until(self.healthy, 40, "system ready")
        pm = self.system.manager_url("primary")
        self.target = await self.observe(self._retry, wall_target, pm)
        devices = (await self.observe(self._retry, command, pm, "getDeviceList")).root.find("devices")
        assert devices is not None
        self.domes = [(d.findtext("serverid"), d.findtext("deviceid")) for d in devices if d.findtext("ptztype")]
        self.cameras = [d.findtext("deviceid") for d in devices]

    @staticmethod
    def _retry(fn: Any, *args: Any, timeout: float = 15.0) -> Any:
        """A read for the set-up, tried again until it works: a cut answer (issue 12 section 1) is an
        AssertionError or a parse error there, and the workload must still start."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = fn(*args)
                if getattr(result, "ok", True):
                    return result
            except (AssertionError, ValueError, OSError):
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"{getattr(fn, '__name__', fn)} did not succeed within {timeout} s")
            time.sleep(0.2)

    async def observe(self, fn: Any, *args: Any) -> Any:
        """A blocking call from a thread inside the router's namespace (it reaches every host)."""
        return await asyncio.wrap_future(self.lab.executor().submit(fn, *args))

    async def blocking(self, fn: Any, *args: Any) -> Any:
        return await self.observe(fn, *args)

    def sync(self, fn: Any, *args: Any) -> Any:
        return self.lab.call(fn, *args)

    def server_urls(self) -> list[str]:
        return [self.system.server_url(r) for r in ("primary", "secondary")]

    def manager_urls(self) -> list[str]:
        return [self.system.manager_url(r) for r in ("primary", "secondary")]

    async def close(self) -> None:
        try:
            if self.system is not None:
                self.system.stop()
        finally:
            self.lab.teardown()

    # -- nemesis

    def _mark_console_lost(self, c: str) -> None:
        for a in self.sent.values():
            if a["console"] == c:
                a["lost_console"] = True

    def apply(self, kind: str, host: str | None = None) -> tuple[dict[str, Any], list[Any]]:
        """Put one fault of `kind` in place (`host`: which one, for the host-down kinds). Returns its record and
        what undoes it."""
        lab, system, rng = self.lab, self.system, self.nrng
        f: dict[str, Any] = {"kind": kind, "at": time.monotonic(), "wall": time.time()}
        undo: list[Any] = []
        if kind.startswith("mgr-cut"):
            mode = {"mgr-cut-silent": "silent", "mgr-cut-refused": "refused"}.get(kind, "silent")
            a, b = rng.sample(["mgr-p", "mgr-s"], 2)
            if kind == "mgr-cut-oneway":
                mode = rng.choice(["silent", "refused"])
                cuts = lab.partition([a], [b], mode, oneway=True)
                f["target"] = f"{a} -> {b} {mode}"
            elif kind == "mgr-cut-mixed":
                cuts = lab.partition([a], [b], "silent", back="refused")
                f["target"] = f"{a} -> {b} silent, {b} -> {a} refused"
            else:
                cuts = lab.partition([a], [b], mode)
                f["target"] = f"mgr-p <-> mgr-s {mode}"
            undo.append(lambda: lab.heal(cuts))
        elif kind in ("mgr-host-down", "srv-host-down", "witness-down"):
            hosts = {"mgr-host-down": rng.choice(["mgr-p", "mgr-s"]), "srv-host-down": rng.choice(["srv-p", "srv-s"])}
            h = host or hosts.get(kind, "witness")
            f["target"] = f"{h} down"
            system.host_down(h)
            undo.append(lambda: system.host_up(h))
        elif kind == "console-cut":
            con, mgr = rng.choice(["con-a", "con-b"]), rng.choice(["mgr-p", "mgr-s"])
            mode = rng.choice(["silent", "refused"])
            cuts = lab.partition([con], [mgr], mode)
            f["target"] = f"{con} <-> {mgr} {mode}"
            undo.append(lambda: lab.heal(cuts))
        elif kind == "pair-split":
            cuts = lab.partition(["con-a", "mgr-p"], ["con-b", "mgr-s"], "silent")
            f["target"] = "con-a+mgr-p | con-b+mgr-s silent"
            undo.append(lambda: lab.heal(cuts))
        elif kind == "j-cut":
            mode = rng.choice(["silent", "refused"])
            cuts = lab.partition(["srv-p"], ["srv-s"], mode)
            f["target"] = f"srv-p <-> srv-s {mode}"
            undo.append(lambda: lab.heal(cuts))
        elif kind == "pause":
            name = rng.choice([*PAUSABLE, *(n for n in ETCD_PARTS if n in system.procs)])
            f["target"] = f"SIGSTOP {name}"
            system.procs[name].pause()
            undo.append(system.procs[name].resume)
        elif kind == "kill":
            name = rng.choice([*PAUSABLE, *(n for n in ETCD_PARTS if n in system.procs), "console A", "console B"])
            f["target"] = f"kill -9 {name}"
            if name.startswith("console"):
                c = name[-1]
                self._mark_console_lost(c)
                self.consoles[c].kill()
                undo.append(lambda: system.start_console(c))
            else:
                system.procs[name].kill()
                undo.append(lambda: system.procs[name].start(lab))
        else:
            raise ValueError(f"unknown fault kind {kind!r}")
        self.faults.append(f)
        print(f"fault {len(self.faults)}: {kind}: {f['target']}", flush=True)
        return f, undo

    def undo(self, f: dict[str, Any], undo: list[Any]) -> None:
        for u in undo:
            u()
        f["end"] = time.monotonic()
        f["hold_s"] = round(f["end"] - f["at"], 1)

    async def inject(self, kind: str, hold: float) -> dict[str, Any]:
        """One fault of `kind`, held `hold` seconds, then undone."""
        f, undo = self.apply(kind)
        await asyncio.sleep(hold)
        self.undo(f, undo)
        return f

    async def nemesis(self, count: int, done: asyncio.Event) -> None:
        kinds = [k for k, w in LAB_KINDS for _ in range(w)]
        if "etcd-w" not in self.system.procs:
            kinds = [k for k in kinds if k != "witness-down"]
        for _ in range(count):
            await asyncio.sleep(self.nrng.uniform(0.5, 2.0))
            if done.is_set():
                return
            f = await self.inject(self.nrng.choice(kinds), self.nrng.uniform(1.0, 5.0))
            with contextlib.suppress(TimeoutError):
                await self.until(self.healthy, 30, "recovery")
            f["recovered"] = time.monotonic()

    async def phase(
        self, kind: str | None, actions: int, host: str | None = None, settle: float = 1.0, linger: float = 3.0
    ) -> None:
        """A scripted step: put a fault in place (or none) `settle` s before the first action, send `actions`
        actions during it at an operator's pace, wait for their answers, keep the fault `linger` s longer (what
        a copy still queued at the other manager does while the fault lasts counts too), undo it and wait for
        recovery."""
        fault = self.apply(kind, host) if kind else None
        if fault is not None:
            await asyncio.sleep(settle)
        first = len(self.sent)
        for i in range(first, first + actions):
            tag = f"a{i}"
            c = "A" if i % 2 == 0 else "B"
            if self.consoles[c].proc.poll() is not None:
                c = "B" if c == "A" else "A"
            name, params = self.action(i)
            self.sent[tag] = {"command": name, "console": c, "at": time.monotonic(), "wall": time.time()}
            self.consoles[c].act(name, tag=tag, **params)
            while sum(1 for t in self.sent if t not in self.outcomes() and t not in self.dead) > self.in_flight_limit:
                self._forget_dead()
                await asyncio.sleep(0.02)
            await asyncio.sleep(self.rng.uniform(0.05, 0.25))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(t not in self.outcomes() for t in self.sent if t not in self.dead):
            self._forget_dead()
            await asyncio.sleep(0.05)
        if fault is not None:
            await asyncio.sleep(linger)
            self.undo(*fault)
            with contextlib.suppress(TimeoutError):
                await self.until(self.healthy, 30, "recovery")
            fault[0]["recovered"] = time.monotonic()

    # -- checker

    def kind_at(self, at: float) -> str:
        """The fault kind in force at `at`; "recovering" between a fault's end and the system healthy again."""
        for f in self.faults:
            if f["at"] <= at <= f.get("end", float("inf")):
                return str(f["kind"])
            if f.get("end", float("inf")) < at <= f.get("recovered", f.get("end", 0.0)):
                return "recovering"
        return "no fault"

    def check(self) -> dict[str, Any]:
        result = super().check()
        journal = read_journal(self.topo.journal)
        by_uid: dict[str, list[dict[str, Any]]] = {}
        stale_uids: set[str] = set()
        highest = -1
        for e in journal:  # file order is execution order (one O_APPEND write each)
            uid = str(e["uid"])
            by_uid.setdefault(uid, []).append(dict(e))
            epoch = int(str(e.get("epoch", 0)))
            if epoch < highest:
                stale_uids.add(uid)
            highest = max(highest, epoch)
        got = self.outcomes()
        rows: dict[str, dict[str, Any]] = {}
        for f in self.faults:
            rows.setdefault(f["kind"], Counter())["faults"] += 1
        totals: Counter[str] = Counter()
        late_list, exec_failed_list = [], []
        for tag, a in self.sent.items():
            row = rows.setdefault(self.kind_at(a["at"]), Counter())
            row["actions"] += 1
            o = got.get(tag)
            if o is None:
                row["unanswered"] += 1
                continue
            entries = by_uid.get(str(o["uid"]), [])
            idem = classify(a["command"]).idempotent
            counts = {
                "ok": o["ok"],
                "doubled": len(entries) > 1 and not idem,
                "reexecuted": len(entries) > 1 and idem,
                "lost": o["ok"] and not entries,
                "in_doubt": o["errorcode"] == -103,
                "exec_failed": not o["ok"] and o["errorcode"] != -103 and bool(entries),
                "late": any(journal_time(e) > o["_wall"] + 1.0 for e in entries),
                "stale": str(o["uid"]) in stale_uids,
            }
            for k, v in counts.items():
                if v:
                    row[k] += 1
                    totals[k] += 1
            if counts["late"]:
                late_list.append(f"{tag} {a['command']} uid {o['uid']}")
            if counts["exec_failed"]:
                exec_failed_list.append(f"{tag} {a['command']}: {o['message'][:120]}")
        # From each fault to the first action sent after it that was answered Ok: the worst per fault kind.
        failover: dict[str, float] = {}
        for f in self.faults:
            after = [o["_t"] for t, o in got.items() if o["ok"] and self.sent[t]["at"] > f["at"]]
            if after:
                failover[f["kind"]] = max(failover.get(f["kind"], 0.0), min(after) - f["at"])
        table = {}
        for kind, row in rows.items():
            n = row["actions"]
            table[kind] = {
                **{k: row[k] for k in ("faults", "actions", "doubled", "reexecuted", "lost", "exec_failed")},
                **{k: row[k] for k in ("in_doubt", "late", "stale", "unanswered")},
                "availability": round(row["ok"] / n, 3) if n else None,
                "failover_ms_max": ms(failover[kind]) if kind in failover else None,
            }
        result.update(
            {
                "net": "lab",
                "profile": self.lab.profile,
                "managers": "etcd" if self.system.use_etcd else "peer",
                "stale": len(stale_uids),
                "stale_of_ours": totals["stale"],
                "executed_although_failed": totals["exec_failed"],
                "late": totals["late"],
                "kinds": table,
                "_late": late_list[:10],
                "_exec_failed": exec_failed_list[:10],
            }
        )
        return result


def print_table(kinds: dict[str, dict[str, Any]]) -> None:
    cols = ["faults", "actions", "availability", "doubled", "reexecuted", "lost", "exec_failed", "in_doubt"]
    cols += ["late", "stale", "unanswered", "failover_ms_max"]
    print(f"{'fault kind':<16}" + "".join(f"{c:>{max(13, len(c) + 1)}}" for c in cols))
    for kind in sorted(kinds, key=lambda k: (k in ("recovering", "no fault"), k == "no fault", k)):
        row = kinds[kind]
        cells = []
        for c in cols:
            v = row.get(c)
            text = "-" if v is None else (f"{v:.0%}" if c == "availability" else str(v))
            cells.append(f"{text:>{max(13, len(c) + 1)}}")
        print(f"{kind:<16}" + "".join(cells))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        if args.net == "lab":
            ch: Chaos = LabChaos(Path(args.keep or tmp), args.seed, args.profile)
        else:
            ch = Chaos(Path(args.keep or tmp), args.seed)
        try:
            ch.workflows = args.workflows
            await ch.start()
            done = asyncio.Event()
            load = None
            if ch.workflows:
                await ch.start_workflows()
                load = asyncio.create_task(ch.alarm_load(done))
            nem = asyncio.create_task(ch.nemesis(args.faults, done))
            await ch.workload(args.actions, args.faults)
            done.set()
            await nem
            if load is not None:
                await load
            await asyncio.sleep(2.0)  # late answers and mirrored copies settle
            return ch.check()
        finally:
            await ch.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--actions", type=int, default=1000)
    ap.add_argument("--faults", type=int, default=30, help="at most this many faults, one at a time")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="keep logs and the journal in this folder")
    ap.add_argument("--smoke", action="store_true", help="about 100 actions and 5 faults")
    ap.add_argument(
        "--net",
        choices=["loopback", "lab"],
        default="loopback",
        help="loopback: every link through a fault proxy (default); lab: every part its own host of a virtual "
        "LAN (tests/lab; root or user namespaces)",
    )
    ap.add_argument("--profile", choices=["lan", "slow"], default="lan", help="the lab's links (--net lab)")
    ap.add_argument(
        "--no-workflows",
        dest="workflows",
        action="store_false",
        help="leave out the alarm and tour load (for a checkout without them)",
    )
    a = ap.parse_args(argv)
    if a.smoke:
        a.actions, a.faults = 100, 5
    if a.net == "lab":
        from tests.lab.__main__ import ensure_lab_privileges

        ensure_lab_privileges(["-m", "tests.perf.chaos", *(sys.argv[1:] if argv is None else argv)])
    result = asyncio.run(run(a))
    print(f"{'':-<60}")
    for k, v in result.items():
        if not k.startswith("_") and k != "kinds":
            print(f"{k:>26}: {v}")
    for k in ("_lost", "_dup", "_failed", "_late", "_exec_failed", "_workflow"):
        for line in result.get(k, []):
            print(f"{k[1:]}: {line}")
    if "kinds" in result:
        print_table(result["kinds"])
    summary("chaos", {k: v for k, v in result.items() if not k.startswith("_")} | {"seed": a.seed})
    bad = ("lost", "duplicated_nonidempotent", "stale", "reactions_doubled", "tour_steps_repeated")
    return 1 if any(result.get(k) for k in (*bad, "tour_steps_out_of_order", "alarms_doubled")) else 0


if __name__ == "__main__":
    sys.exit(main())
