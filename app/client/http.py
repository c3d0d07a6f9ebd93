"""The console's only HTTP module (httpx lives here alone, so the choice stays one file away).

A request fails in one of two ways that matter for exactly-once: NotSent (the connection was never made: the
command certainly did not arrive) or MaybeSent (it may have arrived and been executed; never resend it with a
new uid).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ..config import DEFAULTS
from ..security import TOKEN_HEADER, client_tls


class LinkError(Exception):
    """A request to `url` failed; `reason` says how, for a person."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class NotSent(LinkError):
    """The request certainly did not reach the other side."""


class MaybeSent(LinkError):
    """The request may have reached the other side."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str


class HttpLink:
    """One shared httpx.AsyncClient for the whole console (a new one costs ~34 ms on the loop)."""

    def __init__(
        self,
        timeout: float = DEFAULTS.client_timeout,
        max_bytes: int = DEFAULTS.max_answer_bytes,
        verify: bool | str = True,
        tokens: dict[str, str] | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        # Address prefix -> access token: the token goes to that manager or peer console only, never elsewhere.
        self._tokens = {prefix.rstrip("/") + "/": token for prefix, token in (tokens or {}).items() if token}
        tls = client_tls(Path(verify)) if isinstance(verify, str) else verify
        self._client = httpx.AsyncClient(
            timeout=timeout,
            verify=tls,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        params: dict[str, str] | str | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        whole_within: float | None = None,
    ) -> Reply:
        """`max_bytes` overrides the link's answer limit; `whole_within` (seconds) bounds the whole answer, not only
        each piece of it (a server that trickles a body forever ends as MaybeSent)."""
        if whole_within is None:
            return await self._request("GET", url, params=params, timeout=timeout, max_bytes=max_bytes)
        try:
            async with asyncio.timeout(whole_within):
                return await self._request("GET", url, params=params, timeout=timeout, max_bytes=max_bytes)
        except TimeoutError:
            raise MaybeSent(url, f"answer not complete within {whole_within:.1f} s") from None

    async def post_json(self, url: str, payload: Any, timeout: float | None = None) -> Reply:
        return await self._request("POST", url, json=payload, timeout=timeout)

    async def _request(
        self, method: str, url: str, timeout: float | None = None, max_bytes: int | None = None, **kw: Any
    ) -> Reply:
        t = self.timeout if timeout is None else timeout
        limit = self.max_bytes if max_bytes is None else max_bytes
        for prefix, token in self._tokens.items():
            if url.startswith(prefix):
                kw["headers"] = {TOKEN_HEADER: token}
                break
        try:
            async with self._client.stream(method, url, timeout=t, **kw) as r:
                declared = r.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:  # refused before a byte of it is read
                    raise MaybeSent(url, f"answer larger than {limit // 1024} KiB; not read")
                chunks, size = [], 0
                pieces = r.aiter_bytes()
                async for chunk in pieces:
                    size += len(chunk)
                    if size > limit:
                        await _abandon(r, pieces)
                        raise MaybeSent(url, f"answer larger than {limit // 1024} KiB; not read")
                    chunks.append(chunk)
                return Reply(r.status_code, b"".join(chunks), r.headers.get("content-type", ""))
        except httpx.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise NotSent(url, "its TLS certificate is not trusted; set the CA bundle in the settings") from None
            raise NotSent(url, f"cannot connect ({_short(exc)})") from None
        except httpx.ConnectTimeout:
            raise NotSent(url, f"no connection within {t:.1f} s") from None
        except httpx.TimeoutException:
            raise MaybeSent(url, f"no answer within {t:.1f} s") from None
        except (httpx.HTTPError, OSError) as exc:
            raise MaybeSent(url, f"connection failed ({_short(exc)})") from None


async def _abandon(r: httpx.Response, pieces: AsyncIterator[bytes]) -> None:
    """Stop reading an answer half-way: close its connection, then let the byte iterator run into the closed
    connection so that every generator under it (httpx's and httpcore's) ends here, in this task. Merely left
    behind, they would be finalised later by the garbage collector ("async generator ignored GeneratorExit")."""
    await r.aclose()
    with contextlib.suppress(Exception):
        async for _ in pieces:
            pass


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 120 else text[:117] + "..."
