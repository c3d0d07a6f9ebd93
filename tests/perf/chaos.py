"""Proof under faults (Jepsen-style): a workload, a nemesis that injects faults, a checker over the history.

Two sims, two managers and two paired headless consoles run as real processes on loopback; every console→
manager, manager→server and manager→manager link goes through a fault proxy. Both consoles send N actions of
all kinds (idempotent and not) and reads; a seeded nemesis injects one fault at a time with recovery between:
kill -9 and restart of any part, SIGSTOP/SIGCONT pauses of 1-5 s, and added latency, dropped connections or a
one-way cut on one link. The checker reads the servers' journal and the consoles' outcomes.

    python -m tests.perf.chaos --actions 1000 --seed 1      (--smoke: about 100 actions, 5 faults)

Exit status 1 if an action was lost or a non-idempotent action executed twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from app.demo import Topology, free_port
from app.sense import classify
from app.sim import read_journal
from tests.console_process import ConsoleProcess
from tests.faultproxy import FaultProxy
from tests.helpers import command, wall_target
from tests.perf.common import ms, pct, summary


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

    async def start(self) -> None:
        ps, ss = self.topo.add_sims()
        mports = {"primary": free_port(), "secondary": free_port()}
        for m in ("primary", "secondary"):
            for s, part in (("primary", ps), ("secondary", ss)):
                await self._proxy(f"{m} manager → {s} server", int(part.url.rsplit(":", 1)[1]))
            other = "secondary" if m == "primary" else "primary"
            await self._proxy(f"{m} manager → {other} manager", mports[other])
        for m in ("primary", "secondary"):
            other = "secondary" if m == "primary" else "primary"
            servers = ",".join(self.proxies[f"{m} manager → {s} server"].url for s in ("primary", "secondary"))
            self.topo.add(
                f"{m} manager",
                [
                    "manager",
                    "--role",
                    m,
                    "--listen",
                    f"127.0.0.1:{mports[m]}",
                    "--servers",
                    servers,
                    "--peer",
                    self.proxies[f"{m} manager → {other} manager"].url,
                    "--state-dir",
                    str(self.topo.workdir / "state"),
                ],
                f"http://127.0.0.1:{mports[m]}",
            )
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
                out[x["outcome"]["tag"]] = {**x["outcome"], "_t": x["_t"]}
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
        }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        ch = Chaos(Path(args.keep or tmp), args.seed)
        try:
            await ch.start()
            done = asyncio.Event()
            nem = asyncio.create_task(ch.nemesis(args.faults, done))
            await ch.workload(args.actions, args.faults)
            done.set()
            await nem
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
    a = ap.parse_args(argv)
    if a.smoke:
        a.actions, a.faults = 100, 5
    result = asyncio.run(run(a))
    print(f"{'':-<60}")
    for k, v in result.items():
        if not k.startswith("_"):
            print(f"{k:>26}: {v}")
    for k in ("_lost", "_dup", "_failed"):
        for line in result.get(k, []):
            print(f"{k[1:]}: {line}")
    summary("chaos", {k: v for k, v in result.items() if not k.startswith("_")} | {"seed": a.seed})
    return 1 if result["lost"] or result["duplicated_nonidempotent"] else 0


if __name__ == "__main__":
    sys.exit(main())
