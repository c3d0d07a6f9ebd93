"""read_body: whole bodies, bounded, from answers that arrive in pieces; and the manager's server follower,
which reads every server answer through it (a cut answer, a too-large answer, a too-large /info)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from app.http_service import BodyTooLarge, read_body
from app.manager.servers import MAX_ANSWER_BYTES, MAX_INFO_BYTES, MaybeSent, ServerFollower
from tests.faultproxy import FaultProxy

BODY = (
    b"<result errorcode='0'>"
    + b"".join(b"<device><deviceid>%d</deviceid></device>" % i for i in range(4000))
    + b"</result>"
)


@asynccontextmanager
async def raw_server(answer: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> AsyncIterator[str]:
    """A TCP server that reads one request head and lets `answer` write whatever bytes it likes."""

    handlers: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            await answer(writer)
        except ConnectionError:
            pass  # the client stopped reading (a refused body): nothing more to send
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        if handlers:  # let each answer end by itself, not be cancelled when the loop closes
            await asyncio.wait(handlers, timeout=10)
        await server.wait_closed()


def in_pieces(head: bytes, body: bytes, size: int = 1460, gap: float = 0.002) -> Callable[..., Awaitable[None]]:
    async def answer(writer: asyncio.StreamWriter) -> None:
        data = head + body
        for i in range(0, len(data), size):
            writer.write(data[i : i + size])
            await writer.drain()
            await asyncio.sleep(gap)

    return answer


def head(length: int | None, *extra: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: text/xml", "Connection: close", *extra]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def get(url: str, read: Callable[[aiohttp.ClientResponse], Awaitable[Any]]) -> Any:
    async with aiohttp.ClientSession() as s, s.get(url + "/command") as r:
        return await read(r)


def test_a_body_in_tcp_sized_pieces_is_read_whole() -> None:
    async def run() -> tuple[bytes, bytes]:
        async with raw_server(in_pieces(head(len(BODY)), BODY)) as url:
            partial = await get(url, lambda r: r.content.read(len(BODY) + 1))  # the old way: what has arrived
            whole = await get(url, lambda r: read_body(r, 1 << 20, "the server"))
        return partial, whole

    partial, whole = asyncio.run(run())
    assert len(partial) < len(BODY)  # the hazard this guards against, shown on the same link
    assert whole == BODY


def test_a_chunked_body_without_a_length_is_read_whole() -> None:
    def chunked(body: bytes) -> bytes:
        out = b""
        for i in range(0, len(body), 5000):
            part = body[i : i + 5000]
            out += b"%x\r\n" % len(part) + part + b"\r\n"
        return out + b"0\r\n\r\n"

    async def run() -> bytes:
        async with raw_server(in_pieces(head(None, "Transfer-Encoding: chunked"), chunked(BODY), size=700)) as url:
            return await get(url, lambda r: read_body(r, 1 << 20, "the server"))  # type: ignore[no-any-return]

    assert asyncio.run(run()) == BODY


def test_over_the_limit_is_an_error_naming_the_limit_with_or_without_a_length() -> None:
    async def run(length: int | None) -> BodyTooLarge:
        async with raw_server(in_pieces(head(length), BODY)) as url:
            with pytest.raises(BodyTooLarge) as info:
                await get(url, lambda r: read_body(r, 64 * 1024, "the primary server"))
        return info.value

    for length in (len(BODY), None):  # announced (refused before reading) and not announced (counted)
        exc = asyncio.run(run(length))
        assert str(exc) == ("the primary server answered more than 64 KiB (the limit for that answer); it was not read")
        assert exc.limit == 64 * 1024


def test_exactly_the_limit_is_read() -> None:
    async def run() -> bytes:
        async with raw_server(in_pieces(head(len(BODY)), BODY)) as url:
            return await get(url, lambda r: read_body(r, len(BODY), "the server"))  # type: ignore[no-any-return]

    assert asyncio.run(run()) == BODY


def test_a_body_shorter_than_announced_is_an_error() -> None:
    async def run() -> None:
        async with raw_server(in_pieces(head(len(BODY)), BODY[:5000])) as url:
            await get(url, lambda r: read_body(r, 1 << 20, "the server"))

    with pytest.raises(aiohttp.ClientPayloadError):
        asyncio.run(run())


def test_a_gzip_body_is_read_decoded_and_bounded_by_its_decoded_size() -> None:
    packed = gzip.compress(BODY)
    assert len(packed) < len(BODY) // 10

    async def run(limit: int) -> bytes:
        async with raw_server(in_pieces(head(len(packed), "Content-Encoding: gzip"), packed)) as url:
            return await get(url, lambda r: read_body(r, limit, "the server"))  # type: ignore[no-any-return]

    # Content-Length counts the gzip bytes, aiohttp hands over the decoded ones: neither a false "short body"
    assert asyncio.run(run(1 << 20)) == BODY
    with pytest.raises(BodyTooLarge):  # ... nor a small packed body that unpacks past the limit
        asyncio.run(run(len(BODY) - 1))


def test_limits_are_named_in_the_unit_a_person_reads() -> None:
    assert "8 MiB" in str(BodyTooLarge("x", 8 * 1024 * 1024))
    assert "64 KiB" in str(BodyTooLarge("x", 65536))
    assert "1,000 bytes" in str(BodyTooLarge("x", 1000))


# -- the manager's server follower ---------------------------------------------------------------------------


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def follower(url: str) -> AsyncIterator[ServerFollower]:
    f = ServerFollower([url], poll=0.2, timeout=5.0, on_change=lambda reason: None)
    await f.start()
    try:
        yield f
    finally:
        await f.close()


ACTIVE_INFO = b"<apiinfo><version>2.6.1</version><role>primary</role><state>active</state><epoch>1</epoch></apiinfo>"


def test_a_server_answer_cut_in_pieces_reaches_the_manager_whole() -> None:
    async def info(request: web.Request) -> web.Response:
        return web.Response(body=ACTIVE_INFO, content_type="text/xml")

    async def device_list(request: web.Request) -> web.Response:  # a 150 KB answer to every command
        return web.Response(body=BODY, content_type="text/xml")

    big = web.Application()
    big.router.add_get("/info", info)
    big.router.add_get("/command", device_list)

    async def run() -> bytes:
        async with serving(big) as url:
            link = FaultProxy("manager → server", int(url.rsplit(":", 1)[1]), mode="segment")
            await link.start()
            try:
                async with follower(link.url) as f:
                    assert f.active is not None
                    body = await f.execute("command=getDeviceList", asyncio.get_running_loop().time() + 10)
                    assert link.pieces >= len(BODY) // 1460
                    return body
            finally:
                await link.close()

    assert asyncio.run(run()) == BODY


def test_a_server_answering_more_than_the_limit_is_maybe_sent_naming_the_limit() -> None:
    async def info(request: web.Request) -> web.Response:
        return web.Response(body=ACTIVE_INFO, content_type="text/xml")

    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=b"<result errorcode='0'>" + b"x" * (10 << 20) + b"</result>", content_type="text/xml")

    app = web.Application()
    app.router.add_get("/info", info)
    app.router.add_get("/command", huge)

    async def run() -> MaybeSent:
        async with serving(app) as url, follower(url) as f:
            assert f.active is not None
            # getUidStatus answered 10 MiB too: nobody can tell whether it was executed (not a crash)
            assert await f.uid_executed("u-1", asyncio.get_running_loop().time() + 5) is None
            with pytest.raises(MaybeSent) as info:
                await f.execute("command=setRelativePosition&cameraid=1&pan=10", asyncio.get_running_loop().time() + 10)
            return info.value

    exc = asyncio.run(run())
    assert MAX_ANSWER_BYTES == 8 * 1024 * 1024
    assert "primary server answered more than 8 MiB" in exc.description


def test_a_too_large_info_makes_the_server_unreachable_with_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    async def info(request: web.Request) -> web.Response:
        return web.Response(body=b"<apiinfo>" + b" " * (MAX_INFO_BYTES + 1) + b"</apiinfo>", content_type="text/xml")

    app = web.Application()
    app.router.add_get("/info", info)

    async def run() -> tuple[bool, str, str]:
        async with serving(app) as url, follower(url) as f:
            await f.refresh()
            await f.refresh()
            v = f.views[0]
            return v.reachable, v.state, v.reason

    with caplog.at_level(logging.ERROR, logger="app.manager.servers"):
        reachable, state, reason = asyncio.run(run())
    assert (reachable, state) == (False, "unreachable")
    assert "more than 64 KiB" in reason
    lines = [r.getMessage() for r in caplog.records if r.name == "app.manager.servers"]
    assert len(lines) == 1 and "primary server" in lines[0] and "more than 64 KiB" in lines[0], lines
