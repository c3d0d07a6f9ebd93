"""Shared pieces of the benchmarks: percentiles, timed loops, and the one-line JSON summary."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Awaitable, Callable


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def rate(
    call: Callable[[int], Awaitable[object]], seconds: float, concurrency: int = 1, max_calls: int = 1_000_000
) -> tuple[float, list[float]]:
    """Calls per second over `seconds` with `concurrency` workers, and each call's latency (s)."""
    import asyncio

    latencies: list[float] = []
    counter = [0]
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline and counter[0] < max_calls:
            counter[0] += 1
            t = time.perf_counter()
            await call(counter[0])
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - start), latencies


def summary(name: str, figures: dict[str, object]) -> None:
    """The last line a benchmark prints: one JSON object."""
    print(json.dumps({"benchmark": name, **figures}, sort_keys=True), flush=True)


def ms(v: float) -> float:
    return round(v * 1000, 3)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
