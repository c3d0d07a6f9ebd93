"""What security costs: a token check in microseconds (and whether its time depends on which token matched, or
none), and a manager's read latency with a token required against the same manager without tokens.

    python -m tests.perf.security [--seconds 3]      (--smoke: a tiny run for make test)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import httpx

from app.demo import Topology, free_port
from app.security import TOKEN_HEADER, TokenCheck
from tests.helpers import manager_field, start_etcd, wait_for
from tests.perf.common import ms, pct, rate, summary


def check_times(n_tokens: int, rounds: int) -> dict[str, float]:
    tokens = {f"desk-{i}": f"token-{i:04d}-" + "x" * 32 for i in range(n_tokens)}
    check = TokenCheck(tokens)
    cases = {"first": tokens["desk-0"], "last": tokens[f"desk-{n_tokens - 1}"], "none": "token-none-" + "x" * 32}
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(15):  # the cases interleaved, the best batch of each: machine drift hits all of them alike
        for name, presented in cases.items():
            t = time.perf_counter()
            for _ in range(rounds):
                check.identify(presented)
            best[name] = min(best[name], (time.perf_counter() - t) / rounds)
    out = {name: v * 1e6 for name, v in best.items()}
    return out


def _manager(topo: Topology, tmp: Path, name: str, sim_url: str, etcd: str, tokens: bool) -> str:
    """A primary manager on the sim, with an etcd member of its own (a cluster holds one site)."""
    port = free_port()
    cfg = tmp / f"{name}.toml"
    text = (
        f'[manager]\nrole = "primary"\nlisten = "127.0.0.1:{port}"\nservers = ["{sim_url}"]\n'
        f'state_dir = "{tmp / name}"\netcd = ["{etcd}"]\netcd_allow_fewer = true\n'
    )
    if tokens:
        text += 'reads_need_token = true\n[manager.tokens]\ndesk = "bench-token-0123456789abcdef"\n'
    fd = os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    part = topo.add(name, ["manager", "--config", str(cfg)], f"http://127.0.0.1:{port}")
    part.start()
    return part.url


async def read_latency(url: str, seconds: float, token: str | None) -> tuple[float, list[float]]:
    headers = {TOKEN_HEADER: token} if token else {}
    async with httpx.AsyncClient(timeout=5, headers=headers) as c:

        async def one(_: int) -> None:
            r = await c.get(url + "/command?command=getDivaList")
            assert b'errorcode="0"' in r.content, r.content[:200]

        await rate(one, 0.2, 1, 50)  # warm up
        return await rate(one, seconds, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--smoke", action="store_true", help="0.2 s per figure")
    a = ap.parse_args()
    seconds, rounds = (0.2, 200) if a.smoke else (a.seconds, 5000)
    figures: dict[str, object] = {}
    for n in (1, 100):
        t = check_times(n, rounds)
        print(
            f"token check, {n:3d} token(s): first {t['first']:.2f} us, last {t['last']:.2f} us, none {t['none']:.2f} us"
        )
        figures[f"check_us_{n}"] = round(t["none"], 3)
        figures[f"check_first_vs_none_{n}"] = round(t["first"] / t["none"], 3)
    with (
        tempfile.TemporaryDirectory() as tmp,
        Topology.create(Path(tmp)) as topo,
        Topology.create(Path(tmp) / "second-etcd") as second,
    ):
        sim = topo.add_single_sim()
        sim.start()
        wait_for(sim.answers, 15, "sim up")
        open_url = _manager(topo, Path(tmp), "open", sim.url, start_etcd(topo)[0], tokens=False)
        auth_url = _manager(topo, Path(tmp), "auth", sim.url, start_etcd(second)[0], tokens=True)
        wait_for(lambda: manager_field(open_url, "activeservername") == "primary", 15, "open manager ready")
        wait_for(lambda: topo.parts["auth"].answers(), 15, "auth manager up")
        # Interleaved rounds, so a slow moment of the machine hits both sides alike.
        open_lat: list[float] = []
        auth_lat: list[float] = []
        spent = [0.0, 0.0]
        for _ in range(3):
            for i, (url, token) in enumerate(((open_url, None), (auth_url, "bench-token-0123456789abcdef"))):
                t = time.perf_counter()
                _, lat = asyncio.run(read_latency(url, seconds / 3, token))
                spent[i] += time.perf_counter() - t
                (open_lat if i == 0 else auth_lat).extend(lat)
        open_rate, auth_rate = len(open_lat) / spent[0], len(auth_lat) / spent[1]
    print(f"read through a manager without tokens: p50 {ms(pct(open_lat, 50))} ms, {open_rate:.0f}/s")
    print(f"read through a manager needing a token: p50 {ms(pct(auth_lat, 50))} ms, {auth_rate:.0f}/s")
    ratio = pct(auth_lat, 50) / pct(open_lat, 50)
    print(f"ratio token/no token p50: {ratio:.2f}")
    figures.update(
        open_p50_ms=ms(pct(open_lat, 50)),
        token_p50_ms=ms(pct(auth_lat, 50)),
        token_vs_open_p50=round(ratio, 3),
        open_reads_per_s=round(open_rate),
        token_reads_per_s=round(auth_rate),
    )
    summary("security", figures)


if __name__ == "__main__":
    main()
