"""What the simulator and the manager share as aiohttp services: Sense-style errors for every failure,
XML responses, and running an application until SIGINT/SIGTERM with a graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

from .sense import ResultCode, SenseError, error_xml, result_xml

log = logging.getLogger(__name__)

XML = "text/xml"
# Large enough that an over-long query reaches our own check and gets a Sense answer, not aiohttp's 400.
MAX_LINE_BYTES = 2 * 1024 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def upstream_session(**kw: object) -> aiohttp.ClientSession:
    """An aiohttp client session that never sends a request twice by itself.

    aiohttp re-sends a GET whose persistent connection dropped before the answer (RFC 9112 lets a client retry
    idempotent *methods*). Sense carries actions in GETs, so that retry could execute an action twice and then
    report the second attempt's "connection refused" as if nothing had been sent. `_retry_connection` is the
    switch aiohttp's own test utilities use; test_upstream_never_resends guards it.
    """
    session = aiohttp.ClientSession(**kw)  # type: ignore[arg-type]
    if not hasattr(session, "_retry_connection"):
        raise RuntimeError(
            "this aiohttp version has no _retry_connection switch; pin aiohttp or adapt upstream_session"
        )
    session._retry_connection = False
    return session


class BodyTooLarge(ValueError):
    """An answer was longer than the limit the reader set; nothing of it was used."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"{what} answered more than {_size(limit)} (the limit for that answer); it was not read")
        self.limit = limit


def _size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    return f"{n // 1024} KiB" if n >= 1024 and n % 1024 == 0 else f"{n:,} bytes"


async def read_body(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The whole body of `response`, at most `limit` bytes, or BodyTooLarge naming `what` and the limit.

    `response.content.read(n)` returns what has arrived so far, which on a LAN is one TCP segment of a longer
    answer: every body this project reads comes through here, so a prefix is never parsed as if it were whole.
    """
    # With a Content-Encoding (gzip, ...) aiohttp hands us the decoded bytes while Content-Length counts the
    # encoded ones: then only the decoded size is checked (a small gzip body may unpack to far over the limit).
    encoded = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
    declared = None if encoded else response.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(what, limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await response.content.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(what, limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    if declared is not None and len(body) != declared:
        # aiohttp raises ClientPayloadError for a short body; this is the belt to those braces.
        raise aiohttp.ClientPayloadError(f"{what} sent {len(body)} of the {declared} bytes it announced")
    return body


def xml_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=XML, charset="utf-8")


def error_response(exc: SenseError, status: int = 200) -> web.Response:
    return xml_response(error_xml(exc), status)


@web.middleware
async def sense_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No request ever gets a traceback or a bare 500: every failure is a `<result errorcode="-...">`."""
    try:
        return await handler(request)
    except SenseError as exc:
        return error_response(exc)
    except web.HTTPNotFound:
        return error_response(
            SenseError.of(ResultCode.BAD_REQUEST, f"no such path {request.path[:80]!r}; use /info or /command"), 404
        )
    except web.HTTPMethodNotAllowed:
        return error_response(
            SenseError.of(
                ResultCode.BAD_REQUEST,
                f"method {request.method} is not allowed on {request.path[:80]}; use GET (POST only for executeAction)",
            ),
            405,
        )
    except web.HTTPException as exc:
        return error_response(SenseError.of(ResultCode.BAD_REQUEST, f"{exc.status} {exc.reason}"), exc.status)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return xml_response(result_xml(ResultCode.GENERAL_ERROR, "internal error; see the service log"))


async def serve(app: web.Application, host: str, port: int, name: str, tls: ssl.SSLContext | None = None) -> None:
    """Run `app` until SIGINT or SIGTERM, then shut it down cleanly; https when `tls` is given."""
    runner = web.AppRunner(app, access_log=None, max_line_size=MAX_LINE_BYTES, max_field_size=65536)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, ssl_context=tls)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise SystemExit(
            f"{name}: cannot listen on {host}:{port}: {exc.strerror}. "
            "Is another process using that port? Choose another with --listen."
        ) from None
    bound = runner.addresses[0][1] if runner.addresses else port
    print(f"{name} listening on {'https' if tls else 'http'}://{host}:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        if sys.platform != "win32":
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
