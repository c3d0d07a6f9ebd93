"""The lab's one entry point.

    python -m tests.lab check                   can a lab be built here? (one line)
    python -m tests.lab run SCENARIO [--keep DIR] [--seed N] [--profile lan|slow]
                                                build the LAN, start the system, run a scenario, tear down
    python -m tests.lab clean                   remove every stale lab (its owner process is gone)

Scenarios: smoke, partition-managers, host-down (tests/lab/scenarios.py). As root it runs directly; as a normal
user it re-execs itself inside `unshare --user --map-root-user --net --mount` when user namespaces allow it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.lab.net import (
    Lab,
    LabError,
    clean_stale,
    in_user_namespace,
    preflight,
    prepare_user_namespace,
    privileged,
    userns_command,
)

READY_ENV = "SENSETWIN_LAB_USERNS_READY"


def ensure_lab_privileges(argv: Sequence[str]) -> None:
    """Return when this process can build a lab; re-exec `python *argv` in a user namespace when that is the
    way; exit with one line saying what to do when neither works."""
    if in_user_namespace() and os.environ.get(READY_ENV) != "1":
        try:
            prepare_user_namespace()
        except LabError as exc:
            sys.exit(f"lab: cannot prepare the user namespace: {exc}")
        os.environ[READY_ENV] = "1"
    if privileged():
        return
    why = preflight()
    if why:
        sys.exit(f"lab: {why}")
    env = dict(os.environ)
    env.pop(READY_ENV, None)
    cmd = userns_command([sys.executable, *argv])
    sys.stdout.flush()
    os.execvpe(cmd[0], cmd, env)


def check() -> int:
    why = preflight()
    if why:
        print(f"lab: no: {why}")
        return 1
    if not privileged():
        print("lab: yes, as a normal user inside a user namespace (unshare --user --net --mount)")
        return 0
    t = time.monotonic()
    try:
        with Lab(hosts=["a", "b"]):
            pass
    except LabError as exc:
        print(f"lab: no: {exc}")
        return 1
    print(f"lab: yes, as root (a two-host lab built and removed in {time.monotonic() - t:.2f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    from tests.lab.scenarios import SCENARIOS

    ap = argparse.ArgumentParser(
        prog="python -m tests.lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check", help="can a lab be built here?")
    sub.add_parser("clean", help="remove stale labs")
    r = sub.add_parser("run", help="run a scenario")
    r.add_argument("scenario", choices=sorted(SCENARIOS))
    r.add_argument("--keep", type=Path, help="keep logs and the journal in this folder")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--profile", choices=["lan", "slow"], default="lan")
    hold = sub.add_parser("hold", help=argparse.SUPPRESS)  # tests: build a small lab and wait to be killed
    hold.add_argument("--hosts", default="a,b")
    a = ap.parse_args(argv)
    if a.cmd == "check":
        return check()
    ensure_lab_privileges(["-m", "tests.lab", *(sys.argv[1:] if argv is None else argv)])
    try:
        if a.cmd == "clean":
            removed = clean_stale()
            print(f"lab: removed {len(removed)} leftover(s){': ' + ', '.join(removed) if removed else ''}")
            return 0
        if a.cmd == "hold":
            lab = Lab(hosts=a.hosts.split(",")).build()
            print(json.dumps({"prefix": lab.prefix, "namespaces": lab.namespaces()}), flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(1)
            return 130
        from tests.lab.scenarios import scenario, verdict
        from tests.perf.chaos import print_table
        from tests.perf.common import summary

        result = scenario(a.scenario, a.keep, a.seed, a.profile)
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 2
    for k in ("_lost", "_dup", "_failed", "_late", "_exec_failed"):
        for line in result.get(k, []):
            print(f"{k[1:]}: {line}")
    print_table(result.pop("kinds"))
    bad = verdict(result)
    summary("lab", {k: v for k, v in result.items() if not k.startswith("_")} | {"seed": a.seed, "ok": not bad})
    for line in bad:
        print(f"lab: {a.scenario}: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
