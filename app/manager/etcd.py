"""The manager's only etcd module: etcd v3 through its JSON gateway (/v3/kv/txn, /v3/lease/*, /v3/watch), over aiohttp.

Chosen over a gRPC client (aetcd) to add no dependency: aiohttp is already the manager's HTTP library, and every
call we need (transactions, leases, watches, member list) is in the gateway of etcd 3.4 and later. The choice stays
this one file away.

A request goes to one member; on a connection error it moves to the next. Two failures matter:
`EtcdUnavailable` (no member took the request: nothing was written) and `EtcdUnknown` (a member took it and did not
answer in time: it may have been applied). Callers make every write safe to repeat under a compare, so an unknown
outcome is resolved by reading the key again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..http_service import BodyTooLarge, read_body

log = logging.getLogger(__name__)
MAX_ETCD_ANSWER = 16 * 1024 * 1024
MAX_WATCH_LINE = 8 * 1024 * 1024
CONNECT_TIMEOUT = 0.25  # a LAN connect takes a millisecond; one that hangs this long goes to a dead or cut host


class EtcdError(Exception):
    """An etcd request failed; the text says where and how, for a person."""


class EtcdUnavailable(EtcdError):
    """No member took the request: it was certainly not applied."""


class EtcdUnknown(EtcdError):
    """A member took the request and gave no answer: it may or may not have been applied."""


class EtcdRefused(EtcdError):
    """etcd answered with an error (a wrong request, a lease that is gone, permission denied)."""


def b64(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text) if text else b""


def prefix_end(prefix: str) -> str:
    """The range_end that makes a range or a watch cover every key starting with `prefix`."""
    raw = bytearray(prefix.encode("utf-8"))
    raw[-1] += 1
    return b64(bytes(raw))


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int

    @classmethod
    def of(cls, kv: dict[str, Any]) -> KeyValue:
        return cls(
            unb64(kv.get("key", "")).decode("utf-8", "replace"),
            unb64(kv.get("value", "")),
            int(kv.get("create_revision", 0)),
            int(kv.get("mod_revision", 0)),
            int(kv.get("lease", 0)),
        )

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.value)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class TxnResult:
    succeeded: bool
    revision: int
    responses: list[dict[str, Any]]

    def range_kvs(self, index: int = 0) -> list[KeyValue]:
        """The key-values of the `index`th range among the responses (a failure branch's get)."""
        ranges = [r["response_range"] for r in self.responses if "response_range" in r]
        if index >= len(ranges):
            return []
        return [KeyValue.of(kv) for kv in ranges[index].get("kvs", [])]


@dataclass(frozen=True)
class WatchEvent:
    kind: str  # "put" | "delete"
    kv: KeyValue
    revision: int


# -- request builders (plain dicts, the gateway's JSON) ---------------------------------------------------------


def cmp_create(key: str, revision: int) -> dict[str, Any]:
    return {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": str(revision)}


def cmp_mod(key: str, revision: int) -> dict[str, Any]:
    return {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(revision)}


def op_put(key: str, value: str | bytes, lease: int = 0) -> dict[str, Any]:
    put: dict[str, Any] = {"key": b64(key), "value": b64(value)}
    if lease:
        put["lease"] = str(lease)
    return {"request_put": put}


def op_get(key: str) -> dict[str, Any]:
    return {"request_range": {"key": b64(key)}}


class EtcdClient:
    """One aiohttp session to the members at `endpoints`; `timeout` bounds each request (watches aside)."""

    def __init__(
        self,
        endpoints: list[str],
        timeout: float,
        tls: ssl.SSLContext | None = None,
        user: str = "",
        password: str = "",
    ) -> None:
        if not endpoints:
            raise ValueError("no etcd endpoints")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.timeout = timeout
        self._tls = tls
        self._user, self._password = user, password
        self._token = ""
        self._current = 0
        self._session: aiohttp.ClientSession | None = None
        self.cluster_id = ""
        self.last_error = ""
        self.ok_at = float("-inf")  # loop time of the last request a member answered

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64, ssl=self._tls or True, keepalive_timeout=30),
            json_serialize=json.dumps,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def endpoint(self) -> str:
        return self.endpoints[self._current]

    def _rotate(self, failed: int) -> None:
        if self._current == failed:
            self._current = (failed + 1) % len(self.endpoints)

    # -- the request ---------------------------------------------------------------------------------------

    async def call(self, path: str, body: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """POST `body` to `path` on a member; move to the next member on a connection error.
        An answer that etcd itself marks as an error raises EtcdRefused (or EtcdUnknown for a timeout inside etcd,
        which is how a member without quorum answers)."""
        assert self._session is not None, "start() first"
        t = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + t
        errors: list[str] = []
        tried = 0
        while tried < len(self.endpoints):
            index = self._current
            url = self.endpoints[index] + path
            remaining = deadline - loop.time()
            if remaining <= 0.01:
                break
            tried += 1
            try:
                headers = {"Authorization": self._token} if self._token else None
                # A connect that does not complete in CONNECT_TIMEOUT went nowhere (a dead or cut host): the next
                # member is tried within the same call instead of losing the whole request timeout on it.
                limit = aiohttp.ClientTimeout(total=remaining, sock_connect=min(CONNECT_TIMEOUT, remaining))
                async with self._session.post(url, json=body, headers=headers, timeout=limit) as r:
                    raw = await read_body(r, MAX_ETCD_ANSWER, f"etcd member {self.endpoints[index]}")
                    status = r.status
            except aiohttp.ClientConnectorCertificateError as exc:
                raise EtcdRefused(
                    f"etcd member {self.endpoints[index]}: its TLS certificate is not trusted ({_short(exc)}); set "
                    "etcd_ca to the CA that signed the members' certificates"
                ) from None
            except aiohttp.ClientSSLError as exc:
                raise EtcdRefused(
                    f"etcd member {self.endpoints[index]}: TLS failed ({_short(exc)}); check etcd_ca, etcd_cert and "
                    "etcd_key in the manager config and the member's --client-cert-auth"
                ) from None
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                errors.append(f"{self.endpoints[index]}: {_short(exc) if str(exc) else 'no connection'}")
                self._rotate(index)
                continue
            except (TimeoutError, aiohttp.ClientError, OSError, BodyTooLarge) as exc:
                self._rotate(index)
                self.last_error = f"etcd member {self.endpoints[index]} gave no answer ({_short(exc)})"
                raise EtcdUnknown(self.last_error) from None
            try:
                answer = json.loads(raw)
            except (ValueError, RecursionError):
                self._rotate(index)
                raise EtcdUnknown(f"etcd member {self.endpoints[index]} answered something that is not JSON") from None
            if not isinstance(answer, dict):
                self._rotate(index)
                raise EtcdUnknown(
                    f"etcd member {self.endpoints[index]} answered {type(answer).__name__}, not an object"
                )
            if status != 200 or "error" in answer:
                message = str(answer.get("message") or answer.get("error") or f"HTTP {status}")[:300]
                code = _int(answer.get("code", 0))
                if code == 16 and self._user and path != "/v3/auth/authenticate":  # token expired: log in again
                    await self.authenticate()
                    continue
                if code in (14, 4) or "timed out" in message or "leader" in message:
                    # Unavailable / deadline exceeded inside etcd: a member without quorum answers like this. Another
                    # member may do better, but the request may have been proposed: unknown.
                    self._rotate(index)
                    self.last_error = f"etcd member {self.endpoints[index]}: {message}"
                    raise EtcdUnknown(self.last_error)
                raise EtcdRefused(f"etcd member {self.endpoints[index]} refused {path}: {message}")
            result = answer.get("result")
            header = answer.get("header") or (result.get("header") if isinstance(result, dict) else None)
            cid = str(header.get("cluster_id", "")) if isinstance(header, dict) else ""
            if not cid and path != "/v3/auth/authenticate":
                # Another program at a member's address (no etcd answers without its cluster id): it applied
                # nothing; the next member may be the real one.
                errors.append(f"{self.endpoints[index]}: does not answer like an etcd member (no cluster id)")
                self._rotate(index)
                continue
            if cid:
                if self.cluster_id and cid != self.cluster_id:
                    raise EtcdRefused(
                        f"etcd member {self.endpoints[index]} belongs to another cluster (id {cid}, the others "
                        f"{self.cluster_id}); "
                        "check the etcd addresses in the manager config"
                    )
                self.cluster_id = cid
            self.ok_at = loop.time()
            self.last_error = ""
            return answer
        self.last_error = "no etcd member answered: " + ("; ".join(errors) or f"none within {t:.1f} s")
        raise EtcdUnavailable(self.last_error)

    async def authenticate(self) -> None:
        if not self._user:
            return
        self._token = ""
        answer = await self.call("/v3/auth/authenticate", {"name": self._user, "password": self._password})
        self._token = str(answer.get("token", ""))

    # -- kv ------------------------------------------------------------------------------------------------

    def _shape(self, what: str) -> EtcdUnknown:
        return EtcdUnknown(f"etcd member {self.endpoint} answered {what} in an unexpected shape")

    async def txn(
        self,
        compare: list[dict[str, Any]],
        success: list[dict[str, Any]],
        failure: list[dict[str, Any]] | None = None,
        timeout: float | None = None,
    ) -> TxnResult:
        body = {"compare": compare, "success": success, "failure": failure or []}
        a = await self.call("/v3/kv/txn", body, timeout)
        try:
            responses = a.get("responses", [])
            if not isinstance(responses, list) or not all(isinstance(r, dict) for r in responses):
                raise TypeError("responses")
            result = TxnResult(bool(a.get("succeeded", False)), int(a.get("header", {}).get("revision", 0)), responses)
            for i in range(len(responses)):
                result.range_kvs(i)  # every key-value in it decodes
        except (TypeError, ValueError, KeyError, AttributeError, binascii.Error):
            raise self._shape("a transaction") from None
        return result

    async def get(self, key: str) -> KeyValue | None:
        a = await self.call("/v3/kv/range", {"key": b64(key)})
        try:
            kvs = a.get("kvs", [])
            return KeyValue.of(kvs[0]) if kvs else None
        except (TypeError, ValueError, KeyError, AttributeError, IndexError, binascii.Error):
            raise self._shape("a read") from None

    async def get_prefix(self, prefix: str, limit: int = 0) -> tuple[list[KeyValue], int]:
        body: dict[str, Any] = {"key": b64(prefix), "range_end": prefix_end(prefix)}
        if limit:
            body["limit"] = str(limit)
        a = await self.call("/v3/kv/range", body)
        try:
            return [KeyValue.of(kv) for kv in a.get("kvs", [])], int(a.get("header", {}).get("revision", 0))
        except (TypeError, ValueError, KeyError, AttributeError, binascii.Error):
            raise self._shape("a range read") from None

    # -- leases --------------------------------------------------------------------------------------------

    async def grant(self, ttl: int) -> int:
        a = await self.call("/v3/lease/grant", {"TTL": str(ttl)})
        try:
            return int(a["ID"])
        except (TypeError, ValueError, KeyError):
            raise self._shape("a lease grant") from None

    async def keepalive(self, lease: int, timeout: float | None = None) -> int:
        """Renew `lease` once; the TTL left, 0 when the lease is gone (expired or revoked)."""
        a = await self.call("/v3/lease/keepalive", {"ID": str(lease)}, timeout)
        result = a.get("result")
        return _int(result.get("TTL", 0)) if isinstance(result, dict) else 0

    async def revoke(self, lease: int) -> None:
        with contextlib.suppress(EtcdError):
            await self.call("/v3/lease/revoke", {"ID": str(lease)}, timeout=min(self.timeout, 0.5))

    # -- cluster -------------------------------------------------------------------------------------------

    async def status_of(self, endpoint: str, timeout: float = 0.5) -> dict[str, Any]:
        """One member's own status (its leader, version, raft term), asked of that member only."""
        assert self._session is not None
        async with self._session.post(
            endpoint.rstrip("/") + "/v3/maintenance/status", json={}, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as r:
            answer = json.loads(await read_body(r, 65536, f"etcd member {endpoint}"))
        return answer if isinstance(answer, dict) else {}

    # -- watch ---------------------------------------------------------------------------------------------

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[WatchEvent]:
        """Every change to keys under `prefix` from `start_revision` on, as long as a member streams them.
        Ends (returns) when the stream breaks; the caller starts again from the last revision it saw + 1."""
        assert self._session is not None
        index = self._current
        body = {
            "create_request": {
                "key": b64(prefix),
                "range_end": prefix_end(prefix),
                "start_revision": str(start_revision),
                "progress_notify": True,
            }
        }
        headers = {"Authorization": self._token} if self._token else None
        try:
            async with self._session.post(
                self.endpoints[index] + "/v3/watch",
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=None, connect=self.timeout, sock_read=15.0),
            ) as r:
                if r.status != 200:
                    raise EtcdRefused(f"etcd member {self.endpoints[index]} refused a watch (HTTP {r.status})")
                buffer = b""
                async for chunk in r.content.iter_any():
                    buffer += chunk
                    if len(buffer) > MAX_WATCH_LINE:
                        raise EtcdUnknown(f"etcd member {self.endpoints[index]} sent a watch message over 8 MiB")
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        for event in _watch_events(line, self.endpoints[index]):
                            yield event
                for event in _watch_events(buffer, self.endpoints[index]):
                    yield event
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.last_error = f"watch on etcd member {self.endpoints[index]} broke ({_short(exc)})"
            log.info("%s", self.last_error)
        finally:
            self._rotate(index)


class WatchCompacted(EtcdError):
    """The watch asked for revisions etcd has compacted away: read the state again."""

    def __init__(self, compact_revision: int) -> None:
        super().__init__(f"etcd compacted history up to revision {compact_revision}")
        self.compact_revision = compact_revision


def _watch_events(line: bytes, endpoint: str) -> list[WatchEvent]:
    """The events of one line of a watch stream; EtcdUnknown for anything that is not a watch answer."""
    try:
        return _watch_line(line, endpoint)
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError, binascii.Error):
        raise EtcdUnknown(f"etcd member {endpoint} sent a watch line that is not a watch answer") from None


def _watch_line(line: bytes, endpoint: str) -> list[WatchEvent]:
    line = line.strip()
    if not line:
        return []
    message = json.loads(line)
    if not isinstance(message, dict):
        raise TypeError("not an object")
    if "error" in message:
        raise EtcdUnknown(f"etcd member {endpoint} ended the watch: {str(message['error'])[:200]}")
    result = message.get("result", {})
    if int(result.get("compact_revision", 0) or 0):
        raise WatchCompacted(int(result["compact_revision"]))
    revision = int(result.get("header", {}).get("revision", 0))
    out = []
    for e in result.get("events", []):
        kind = "delete" if e.get("type") == "DELETE" else "put"
        out.append(WatchEvent(kind, KeyValue.of(e.get("kv", {})), revision))
    if not out and revision:
        out.append(WatchEvent("progress", KeyValue("", b"", 0, revision, 0), revision))
    return out


def _int(value: object) -> int:
    if not isinstance(value, (int, str)) or isinstance(value, bool):
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."
