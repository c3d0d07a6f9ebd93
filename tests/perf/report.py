"""`make bench`: run every benchmark in tests/perf and write docs/benchmarks.md with the machine, the date and each
figure; times are given as ratios against the baselines measured in the same run (a direct call to the sim).

    python -m tests.perf.report [--out docs/benchmarks.md] [--chaos-seeds 1,2,3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


REUSE: Path | None = None


def run(module: str, *args: str) -> dict[str, Any]:
    if REUSE is not None:  # figures of runs made earlier: the last JSON line of REUSE/<module>[_<seed>].txt
        name = f"{module}{'-lab' if '--net' in args else ''}_{args[-1]}" if module == "chaos" else module
        lines = [x for x in (REUSE / f"{name}.txt").read_text().splitlines() if x.startswith("{")]
        return dict(json.loads(lines[-1]))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-m", f"tests.perf.{module}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    lines = [x for x in proc.stdout.strip().splitlines() if x.startswith("{")]
    if not lines:
        raise SystemExit(f"benchmark {module} printed no summary:\n{proc.stderr[-2000:]}")
    print(lines[-1], flush=True)
    return dict(json.loads(lines[-1]))


def table(rows: list[tuple[str, object]]) -> str:
    return "| figure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    ap.add_argument("--chaos-seeds", default="1,2,3")
    ap.add_argument("--lab-seeds", default="1,2,3", help="seeds of the fault suite on the lab (root only); '' = none")
    ap.add_argument("--reuse", type=Path, help="take each figure from DIR/<benchmark>.txt instead of running it")
    a = ap.parse_args(argv)
    global REUSE
    REUSE = a.reuse
    sim, man, cli, ui, sec = run("sim"), run("manager"), run("client"), run("ui"), run("security")
    coord = run("etcd")
    chaos = [run("chaos", "--actions", "1000", "--seed", s) for s in a.chaos_seeds.split(",") if s]
    lab_why = _lab_unavailable() if REUSE is None else ""
    lab = (
        []
        if lab_why
        else [run("chaos", "--net", "lab", "--actions", "1000", "--seed", s) for s in a.lab_seeds.split(",") if s]
    )
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    md = [
        f"# SenseTwin benchmarks\n\nMeasured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {model}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}. "
        "Everything on loopback but the lab section (its own hosts in network namespaces), every part a real "
        "process. Times are compared with baselines measured in the same run (a direct call to the simulated "
        "server), so the ratios carry over to other machines better than the milliseconds do. "
        "Produced by `make bench` (`python -m tests.perf.report`).\n"
    ]
    md.append("## Simulated server (`tests/perf/sim.py`)\n\n")
    md.append(
        table(
            [
                ("reads/s, 1 / 8 concurrent", f"{sim['reads_per_s_c1']} / {sim['reads_per_s_c8']}"),
                (
                    "actions/s, 1 / 8 concurrent (journal + copy to the standby)",
                    f"{sim['actions_per_s_c1']} / {sim['actions_per_s_c8']}",
                ),
                ("action p50 / p99, sequential", f"{sim['action_p50_ms_c1']} / {sim['action_p99_ms_c1']} ms"),
                (
                    "render of a live picture (JPEG included), 320×176 / 640×352: fixed camera; dome moving, p50",
                    f"{sim.get('render_320x176_fixed_p50_ms')} / {sim.get('render_640x352_fixed_p50_ms')} ms; "
                    f"{sim.get('render_320x176_moving_dome_p50_ms')} / "
                    f"{sim.get('render_640x352_moving_dome_p50_ms')} ms",
                ),
                (
                    "live pictures served per second, 8 concurrent (p50)",
                    f"{sim.get('live_images_per_s_c8')} ({sim.get('live_image_p50_ms_c8')} ms)",
                ),
                (
                    f"takeover after kill -9 over {sim['kills']} kills, p50 / max",
                    f"{sim['takeover_ms_p50']} / {sim['takeover_ms_max']} ms (200 ms heartbeat, 3 misses)",
                ),
            ]
        )
    )
    md.append("\n## Manager (`tests/perf/manager.py`)\n\n")
    md.append(
        table(
            [
                (
                    "action p50 through the primary manager ÷ direct to the sim, sequential",
                    f"**{man['ratio_p50_c1']}×** ({man['manager_p50_ms_c1']} vs {man['direct_p50_ms_c1']} ms)",
                ),
                (
                    "actions/s through the manager ÷ direct, sequential / 8 concurrent",
                    f"{man['ratio_throughput_c1']}× / {man['ratio_throughput_c8']}×",
                ),
                (
                    "manager p99, sequential / 8 concurrent",
                    f"{man['manager_p99_ms_c1']} / {man['manager_p99_ms_c8']} ms",
                ),
                (
                    "CPU per action at 8 concurrent, every part together (all on these cores): direct / through the "
                    "manager",
                    f"{man.get('direct_cpu_ms_total', '–')} / {man.get('manager_cpu_ms_total', '–')} ms",
                ),
                (
                    "… of which: sims / etcd members / managers / benchmark client (through the manager)",
                    " / ".join(
                        str(round(sum(v for k, v in man.items() if k.startswith("manager_cpu_ms_") and w in k[15:]), 2))
                        for w in ("server", "etcd", "manager", "client")
                    )
                    + " ms",
                ),
                (
                    "etcd transactions per action (claims and dones go in groups)",
                    f"{man.get('manager_etcd_txns_per_action', '–')}",
                ),
                (
                    "uid keys in etcd after the run / the member's database in use",
                    f"{man['etcd_uids']:,} / {man['etcd_db_in_use_mib']} MiB",
                ),
                (
                    f"manager's uid cache with {man['cache_uids']:,} uids (dedup_capacity): RSS growth",
                    f"{man['cache_rss_growth_mib']} MiB",
                ),
                (
                    "uid cache insert (decoded as the watch gets it) / lookup",
                    f"{man['cache_insert_us_per_uid']} / {man['cache_lookup_us']} µs",
                ),
            ]
        )
    )
    md.append("\n## Coordination through etcd (`tests/perf/etcd.py`)\n\n")
    md.append(
        table(
            [
                (
                    f"claim (a transaction) p50 / p99 over {coord['claims']} uids, three members on this machine",
                    f"{coord['claim_p50_ms']} / {coord['claim_p99_ms']} ms",
                ),
                ("done p50 / p99", f"{coord['done_p50_ms']} / {coord['done_p99_ms']} ms"),
                ("read of one key p50", f"{coord['read_p50_ms']} ms"),
                (
                    f"kill -9 of the primary manager → the console's next action Ok, over {coord['kills']} kills, "
                    "p50 / max",
                    f"{coord['failover_ms_p50']} / {coord['failover_ms_max']} ms",
                ),
            ]
        )
    )
    md.append("\n## Redundant client (`tests/perf/client.py`)\n\n")
    md.append(
        table(
            [
                (
                    "act() to both managers ÷ one direct call to the sim, p50 / p99",
                    f"**{cli['ratio_p50']}×** / {cli['ratio_p99']}× "
                    f"({cli['act_p50_ms']} vs {cli['direct_p50_ms']} ms p50)",
                ),
                (
                    "killed manager → SystemView shows it down, p50 / max",
                    f"{cli['manager_down_ms_p50']} / {cli['manager_down_ms_max']} ms",
                ),
                (
                    "restarted manager → shown back, p50 / max",
                    f"{cli['manager_back_ms_p50']} / {cli['manager_back_ms_max']} ms",
                ),
                (
                    "killed primary server → SystemView shows the secondary active, p50 / max",
                    f"{cli['server_takeover_ms_p50']} / {cli['server_takeover_ms_max']} ms",
                ),
            ]
        )
    )
    md.append("\n## Console (`tests/perf/ui.py`)\n\n")
    md.append(
        table(
            [
                ("start to a connected window showing the wall", f"{ui['startup_ms']} ms"),
                (
                    f"longest UI-thread stall during {ui['actions']} actions",
                    f"{ui['stall_ms_actions']} ms (target < 50)",
                ),
                ("longest UI-thread stall during a failover", f"{ui['stall_ms_failover']} ms (target < 50)"),
                (
                    f"{ui.get('panels_live', 24)} panels live: longest UI-thread stall / frames shown per second "
                    "(asked) / console CPU",
                    f"{ui.get('stall_ms_live')} ms / {ui.get('frames_per_s_shown')} ({ui.get('frames_per_s_asked')}) "
                    f"/ {ui.get('cpu_percent_live')} % of a core",
                ),
                (
                    "start to the wall, demo site / big site (2,000 cameras, 30 viewer stations)",
                    f"{ui['startup_ms']} / {ui.get('big_startup_ms')} ms",
                ),
                (
                    "camera filter per keystroke, median / max: demo site / big site",
                    f"{ui.get('filter_ms_per_key_median')} / {ui.get('filter_ms_per_key_max')} ms; "
                    f"{ui.get('big_filter_ms_per_key_median')} / {ui.get('big_filter_ms_per_key_max')} ms",
                ),
                ("console memory (RSS), demo site / big site", f"{ui.get('rss_mb')} / {ui.get('big_rss_mb')} MB"),
            ]
        )
    )
    md.append("\n## Security (`tests/perf/security.py`)\n\n")
    md.append(
        table(
            [
                ("token check, 1 / 100 configured tokens", f"{sec['check_us_1']} / {sec['check_us_100']} µs"),
                (
                    "time of a check matching the first token ÷ matching none, 1 / 100 tokens",
                    f"{sec['check_first_vs_none_1']} / {sec['check_first_vs_none_100']} (constant time: about 1)",
                ),
                (
                    "read p50 through a manager requiring a token ÷ one without tokens",
                    f"{sec['token_vs_open_p50']} ({sec['token_p50_ms']} vs {sec['open_p50_ms']} ms)",
                ),
            ]
        )
    )
    md.append("\n## Exactly once under faults (`tests/perf/chaos.py`)\n\n")
    md.append(
        "| seed | actions | faults | lost | duplicated non-idempotent | idempotent re-executed | in doubt | "
        "failed (reported) | failover p50 / max |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    for c in chaos:
        md.append(
            f"| {c['seed']} | {c['actions']} | {c['faults']} | {c['lost']} | {c['duplicated_nonidempotent']} | "
            f"{c['reexecuted_idempotent']} | {c['in_doubt']} | {c['failed_reported']} | "
            f"{c['failover_ms_p50']} / {c['failover_ms_max']} ms |\n"
        )
    md.append(workflow_table(chaos, "loopback"))
    md.append(lab_section(lab, lab_why))
    if lab:
        md.append(workflow_table(lab, "lab"))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text("".join(md), encoding="utf-8")
    print(f"written {a.out}")
    return 0


def workflow_table(runs: list[dict[str, Any]], where: str) -> str:
    """The alarm and tour load of the same runs (issue 15): each reaction and tour step executed once, in order."""
    runs = [c for c in runs if "tour_steps_executed" in c]
    if not runs:
        return ""
    md = [
        f"\nWorkflow load in the same runs ({where}): motion events raised on the active sim every 2–6 s, both "
        "consoles apply each alarm's reaction (one uid per alarm and rule) and acknowledge; console A's pair drives a "
        "2 s tour through every fault. *not shown*: a step whose camera switch failed under a fault; *re-sent*: a "
        "switch sent again under its own uid to the server that took over; *lost with their server*: events a sim "
        "took and died with before its standby or a manager read them (in neither sim's log at the end).\n\n",
        "| seed | events raised | alarms made twice | events without alarm | lost with their server | "
        "reactions executed / doubled | tour steps | repeated | out of order | not shown | re-sent |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n",
    ]
    for c in runs:
        md.append(
            f"| {c['seed']} | {c['alarm_events_raised']} | {c['alarms_doubled']} | "
            f"{c.get('alarm_events_missing', 0)} | {c.get('alarm_events_lost_with_server', '–')} | "
            f"{c['reactions_executed']} / {c['reactions_doubled']} | {c['tour_steps_executed']} | "
            f"{c['tour_steps_repeated']} | {c['tour_steps_out_of_order']} | {c['tour_steps_not_shown']} | "
            f"{c.get('tour_steps_resent', 0)} |\n"
        )
    return "".join(md)


def _lab_unavailable() -> str:
    """Why the lab cannot be built here ('' when it can): `python -m tests.lab check`."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.lab", "check"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    return "" if proc.returncode == 0 else (proc.stdout + proc.stderr).strip()[:300]


LAB_COLUMNS = ("faults", "actions", "availability", "doubled", "lost", "exec_failed", "late", "stale", "in_doubt")
# ... and the worst time from a fault of that kind to the next action answered Ok (ms).


def lab_section(runs: list[dict[str, Any]], why: str) -> str:
    """The fault suite on the lab: totals per seed, then every fault kind over all seeds."""
    md = ["\n## Exactly once on the lab: every part its own host (`python -m tests.perf.chaos --net lab`)\n\n"]
    if not runs:
        return md[0] + f"Not run: {why or 'no seeds given'}.\n"
    md.append(
        "A router namespace and one namespace per host (srv-p, srv-s, mgr-p, mgr-s, con-a, con-b, witness), each on "
        "its own veth link (MTU 1500, tbf 100 Mbit), real kernel TCP; faults cut at the router (silent: blackhole, "
        "refused: prohibit), hosts powered off (all links silent, processes killed), kill -9, SIGSTOP, J cut. "
        "*executed although failed*: the console told the operator a failure and the journal has the action; "
        "*late*: executed more than 1 s after the console's answer (in doubt answers included).\n\n"
    )
    md.append(
        "| seed | actions | faults | lost | doubled non-idempotent | stale | executed although failed | late | "
        "in doubt | failed (reported) | failover p50 / max |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    for c in runs:
        md.append(
            f"| {c['seed']} | {c['actions']} | {c['faults']} | {c['lost']} | {c['duplicated_nonidempotent']} | "
            f"{c['stale']} | {c['executed_although_failed']} | {c['late']} | {c['in_doubt']} | "
            f"{c['failed_reported']} | {c['failover_ms_p50']} / {c['failover_ms_max']} ms |\n"
        )
    kinds: dict[str, dict[str, float]] = {}
    for c in runs:
        for kind, row in c.get("kinds", {}).items():
            k = kinds.setdefault(kind, dict.fromkeys(LAB_COLUMNS, 0.0) | {"ok": 0.0})
            for col in LAB_COLUMNS:
                if col != "availability":
                    k[col] += row.get(col) or 0
            k["ok"] += (row.get("availability") or 0) * (row.get("actions") or 0)
            k["failover"] = max(k.get("failover", 0.0), row.get("failover_ms_max") or 0.0)
    md.append(
        "\nEvery fault kind, over all seeds (failover: the worst time from a fault to the next action answered Ok):"
        "\n\n| fault kind | " + " | ".join(LAB_COLUMNS) + " | failover max |\n"
    )
    md.append("|---" * (len(LAB_COLUMNS) + 2) + "|\n")
    for kind in sorted(kinds):
        k = kinds[kind]
        cells = [
            f"{k['ok'] / k['actions']:.1%}" if col == "availability" and k["actions"] else str(int(k[col]))
            for col in LAB_COLUMNS
        ]
        worst = f"{k['failover']:.0f} ms" if k.get("failover") else "-"
        md.append(f"| {kind} | " + " | ".join(cells) + f" | {worst} |\n")
    return "".join(md)


if __name__ == "__main__":
    sys.exit(main())
