"""Small synchronous helpers for tests that talk to real processes over loopback."""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.sense import Result, encode, parse_result, parse_xml
from app.sense.xml import Element


def command(base: str, name: str, /, uid: str | None = None, timeout: float = 5.0, **params: Any) -> Result:
    with httpx.Client(timeout=timeout) as c:
        r = c.get(f"{base}/command?{encode(name, params, uid)}")
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/xml")
    return parse_result(r.content)


@dataclass
class RawResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes


def raw(base: str, path_and_query: str, method: str = "GET", body: bytes | None = None) -> RawResponse:
    """A request exactly as given (http.client: no URL length limit of its own, unlike httpx)."""
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request(method, path_and_query, body=body)
        r = conn.getresponse()
        return RawResponse(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def info(base: str, timeout: float = 1.0) -> Element | None:
    try:
        with httpx.Client(timeout=timeout) as c:
            r = c.get(f"{base}/info")
        return parse_xml(r.content)
    except httpx.HTTPError:
        return None


def state_of(base: str) -> str:
    root = info(base)
    return "down" if root is None else (root.findtext("state") or "?")


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Wait until condition() is true; returns the seconds it took. Polls, never sleeps a fixed time."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.01)
    return time.monotonic() - start


async def acommand(client: httpx.AsyncClient, base: str, name: str, /, uid: str | None = None, **params: Any) -> Result:
    r = await client.get(f"{base}/command?{encode(name, params, uid)}")
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return parse_result(r.content)


def journal_counts(path: Any) -> dict[str, int]:
    from collections import Counter

    from app.sim import read_journal

    return dict(Counter(str(e["uid"]) for e in read_journal(path)))


def manager_status(base: str) -> Result | None:
    try:
        return command(base, "getManagerStatus", timeout=1.0)
    except (httpx.HTTPError, AssertionError):
        return None


def manager_field(base: str, path: str) -> str:
    r = manager_status(base)
    return "down" if r is None else r.text(f"managerstatus/{path}")


def wall_target(base: str) -> dict[str, str]:
    """divaid, layoutid and panelid of the first panel of the first monitor: a valid selectCamera target."""
    d = command(base, "getLayoutStatus").root.find("layoutstatus/divas/diva")
    assert d is not None
    return {
        "divaid": d.findtext("divaid") or "",
        "layoutid": d.findtext("monitors/monitor/layout/layoutid") or "",
        "panelid": d.findtext("monitors/monitor/layout/panels/panel/panelid") or "",
    }


def start_etcd(topo: Any, count: int = 1, timeout: float = 20.0) -> list[str]:
    """`count` real etcd members added to `topo`, started and healthy; their client URLs. A test with one
    manager on a fake server needs one (a manager without etcd refuses to start)."""
    parts = topo.add_etcd(count=count)
    for p in parts:
        p.start()
    for p in parts:
        wait_for(p.answers, timeout, f"{p.name} healthy")
    return list(topo.etcd_urls())


def etcd_args(urls: list[str], site: str = "test", prefix: str | None = None) -> list[str]:
    """The manager command-line options for the etcd members at `urls` (fewer than three allowed: a test)."""
    args = ["--etcd", ",".join(urls), "--site", site]
    if prefix:
        args += ["--etcd-prefix", prefix]
    if len(urls) < 3:
        args.append("--etcd-allow-fewer")
    return args


def etcd_put(url: str, key: str, value: str) -> None:
    """Write one key straight into etcd through its JSON gateway (what another program could do)."""
    import base64

    def b64(s: str) -> str:
        return base64.b64encode(s.encode()).decode()

    r = httpx.post(f"{url}/v3/kv/put", json={"key": b64(key), "value": b64(value)}, timeout=5)
    assert r.status_code == 200, r.text


def etcd_txns(urls: list[str]) -> int:
    """Transactions the etcd members at `urls` have answered so far, over all of them (their /metrics): a client
    talks to one member, which one does not matter."""
    import re
    import urllib.request

    handled = re.compile(r'^grpc_server_handled_total\{[^}]*grpc_method="Txn"[^}]*\} (\S+)$', re.M)
    total = 0.0
    for url in urls:
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
            total += sum(float(v) for v in handled.findall(r.read().decode()))
    return int(total)
