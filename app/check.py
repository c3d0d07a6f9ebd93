"""`sensetwin check`: can this workstation reach both managers and both Sense servers, who is active, how fast do
they answer, and is this console's token accepted? Prints one line per part and exits 1 on any problem, with what
to do about it. Reads only: it never sends an action."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from .client.http import HttpLink, LinkError
from .sense import SenseError, XmlError, parse_result, parse_xml


@dataclass
class Line:
    part: str
    url: str
    ok: bool
    rtt_ms: float | None = None
    facts: dict[str, str] = field(default_factory=dict)
    problem: str = ""
    etcd_members: dict[str, bool] = field(default_factory=dict)  # a manager's: member URL -> it leads

    def render(self) -> str:
        rtt = f"{self.rtt_ms:6.1f} ms" if self.rtt_ms is not None else "     -   "
        facts = ", ".join(f"{k} {v}" for k, v in self.facts.items() if v)
        mark = "ok     " if self.ok else "PROBLEM"
        text = f"{mark} {self.part:<18} {self.url:<32} {rtt}  {facts}"
        return text + (f"\n        -> {self.problem}" if self.problem else "")


async def _timed_get(http: HttpLink, url: str, params: dict[str, str] | None = None) -> tuple[bytes, float]:
    t = time.perf_counter()
    reply = await http.get(url, params)
    return reply.body, (time.perf_counter() - t) * 1000


ROUNDS = 3  # the lowest of three round trips; forwarding seen in any of three reads (the lease renews on demand)


async def _server(http: HttpLink, name: str, url: str) -> Line:
    try:
        rtts = []
        for _ in range(ROUNDS):
            body, rtt = await _timed_get(http, url + "/info")
            rtts.append(rtt)
        rtt = min(rtts)
        root = parse_xml(body)
    except LinkError as exc:
        return Line(name, url, False, problem=f"unreachable: {exc.reason}. Check the address and the network.")
    except XmlError:
        return Line(name, url, False, problem="answers, but not with a Sense /info; is this a Sense server?")
    facts = {
        "version": root.findtext("version") or "?",
        "state": root.findtext("state") or "(a real Sense server: no state tag)",
        "epoch": root.findtext("epoch") or "",
    }
    return Line(name, url, True, rtt, facts)


async def _manager(http: HttpLink, name: str, url: str, token_set: bool) -> Line:
    try:
        rtts, forwarding = [], False
        for i in range(ROUNDS):
            _, rtt = await _timed_get(http, url + "/info")
            rtts.append(rtt)
            body, _ = await _timed_get(http, url + "/command", {"command": "getManagerStatus"})
            res = parse_result(body)
            forwarding = forwarding or res.text("managerstatus/forwarding") == "true"
            if i < ROUNDS - 1:
                await asyncio.sleep(0.15)
        rtt = min(rtts)
    except LinkError as exc:
        return Line(name, url, False, problem=f"unreachable: {exc.reason}. Is the manager service running?")
    except SenseError:
        return Line(name, url, False, problem="answers, but not as a SenseTwin manager; check the address and port")
    if not res.ok:
        return Line(name, url, False, rtt, problem=f"refused the status read: {res.message()}")

    def t(path: str) -> str:
        return res.text(f"managerstatus/{path}")

    facts = {
        "role": t("role"),
        "mode": t("mode"),
        "forwarding": str(forwarding).lower(),
        "active server": t("activeservername") or "none",
        "peer": "alive in etcd" if t("peer/reachable") == "true" else "NOT SEEN",
        "etcd": (
            f"{t('etcd/reachable')}/{t('etcd/members')} members" + (" TRIAL" if t("etcd/trial") == "true" else "")
            if t("etcd/ok") == "true"
            else "NO QUORUM"
        ),
        "token": t("caller/token"),
    }
    members = {
        m.findtext("url") or "": m.findtext("leader") == "true"
        for m in res.root.findall("managerstatus/etcd/memberlist/member")
        if m.findtext("url")
    }
    problems = []
    token = facts["token"]
    if token in ("missing", "invalid"):
        problems.append(
            f"this console's token is {token}: actions will be refused (-104). "
            + ("Set it in File > Settings or SENSETWIN_TOKEN." if not token_set else "Ask for a valid token.")
        )
    if not t("activeservername"):
        problems.append("this manager sees no active Sense server")
    if t("etcd/ok") != "true":
        problems.append(
            f"this manager cannot use the etcd cluster ({t('etcd/error')[:160]}): no action executes. Start the "
            "etcd members (at least two of three) and check the firewall between this manager and them"
        )
    elif t("peer/reachable") != "true":
        problems.append("this manager does not see the other manager in etcd: is it running?")
    return Line(name, url, not problems, rtt, facts, "; ".join(problems), members)


async def _etcd_members(members: dict[str, bool], verify: bool | str) -> list[Line]:
    """Each etcd member the managers name, asked from this workstation (GET /health): reachable, healthy, leader."""
    http = HttpLink(timeout=1.5, verify=verify)
    try:

        async def one(i: int, url: str) -> Line:
            try:
                body, rtt = await _timed_get(http, url + "/health")
            except LinkError as exc:
                return Line(f"etcd member {i + 1}", url, False, problem=f"unreachable from here: {exc.reason}")
            healthy = b'"true"' in body
            facts = {"health": "ok" if healthy else "NO QUORUM", "leader": "yes" if members[url] else ""}
            problem = "" if healthy else "answers but reports no quorum: start the other members"
            return Line(f"etcd member {i + 1}", url, healthy, rtt, facts, problem)

        return list(await asyncio.gather(*(one(i, u) for i, u in enumerate(sorted(members)))))
    finally:
        await http.close()


async def run_check(managers: list[str], servers: list[str], token: str = "", verify: bool | str = True) -> int:
    http = HttpLink(timeout=3.0, verify=verify, tokens=dict.fromkeys(managers, token))
    names = ["primary", "secondary"]
    try:
        lines = await asyncio.gather(
            *(_manager(http, f"{names[i]} manager", u, bool(token)) for i, u in enumerate(managers)),
            *(_server(http, f"{names[i]} server", u) for i, u in enumerate(servers)),
        )
    finally:
        await http.close()
    mgrs = [ln for ln in lines if ln.part.endswith("manager") and ln.facts]
    members: dict[str, bool] = {}
    for ln in mgrs:
        for url, leads in ln.etcd_members.items():
            members[url] = members.get(url, False) or leads
    member_lines = await _etcd_members(members, verify)
    lines = [*lines, *member_lines]
    for line in lines:
        print(line.render())
    forwarding = [ln.part for ln in mgrs if ln.facts.get("forwarding") == "true"]
    actives = {ln.facts.get("active server", "none") for ln in mgrs} - {"none"}
    summary = []
    if mgrs and not forwarding:
        summary.append("no manager is executing yet: actions wait (normal for up to a second after a failure)")
    up = sum(1 for ln in member_lines if ln.ok)
    if member_lines and up * 2 <= len(member_lines):
        summary.append(f"only {up} of {len(member_lines)} etcd members answer from here: check the etcd hosts")
    if len(actives) > 1:
        summary.append(f"the managers disagree on the active server ({', '.join(sorted(actives))})")
    if len(managers) < 2:
        summary.append("only one manager is configured: no redundancy")
    for s in summary:
        print(f"PROBLEM {s}")
    bad = any(not ln.ok for ln in lines) or bool(summary)
    print("check: " + ("PROBLEMS found; see the lines above" if bad else "everything answers; the system is redundant"))
    return 1 if bad else 0
