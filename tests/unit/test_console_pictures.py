"""The console's Qt-free picture and playback parts: RedundantClient.picture against real servers on loopback
(fallback, limits, timeouts, what a bad answer is called), a station's playback clock, which stations are this
workstation's, and the wall's playback as the server reports it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from app.client import ClientSettings, RedundantClient
from app.client.pictures import ManagerOrder, PictureError, check_answer, reason_of
from app.client.playback import (
    SPEEDS,
    Playback,
    after_action,
    parse_sense_time,
    sense_time,
    speed_text,
    utc_now,
)
from app.client.site import ViewerState, own_viewers, parse_wall
from app.config import LOOPBACK
from app.sense import ResultCode, parse_result

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 600 + b"\xff\xd9"
DOWN = b'<result errorcode="-21"><description>Device not active</description></result>'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[tuple[str, list[str]]]:
    """An aiohttp server answering /command with `handler`; yields its address and the commands it got."""
    seen: list[str] = []

    async def command(request: web.Request) -> web.StreamResponse:
        seen.append(request.query.get("command", ""))
        return await handler(request)

    app = web.Application()
    app.router.add_get("/command", command)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://{LOOPBACK}:{port}", seen
    finally:
        await runner.cleanup()


def closed_port() -> str:
    import socket

    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return f"http://{LOOPBACK}:{s.getsockname()[1]}"


async def _jpeg(request: web.Request) -> web.StreamResponse:
    return web.Response(body=JPEG, content_type="image/jpeg")


async def _down(request: web.Request) -> web.StreamResponse:
    return web.Response(body=DOWN, content_type="text/xml")


@asynccontextmanager
async def client(*managers: str) -> AsyncIterator[RedundantClient]:
    c = RedundantClient(ClientSettings("Unit desk", list(managers)))  # not started: no watch, order as given
    try:
        yield c
    finally:
        await c.close()


LIVE = {"serverid": "1", "cameraid": "2", "imagewidth": 320, "imageheight": 176, "fittopanel": "true"}


def test_a_picture_comes_back_as_bytes_and_content_type_with_a_uid() -> None:
    async def run() -> None:
        async with server(_jpeg) as (url, seen), client(url) as c:
            pic = await c.picture("getLiveImage", LIVE)
            assert pic.body == JPEG and pic.content_type == "image/jpeg" and pic.manager == "primary"
            assert seen == ["getLiveImage"]

    asyncio.run(run())


def test_a_dead_manager_falls_back_to_the_other_and_is_asked_last_for_a_while() -> None:
    async def run() -> None:
        async with server(_jpeg) as (url, _), client(closed_port(), url) as c:
            assert (await c.picture("getLiveImage", LIVE)).manager == "secondary"
            assert (await c.picture("getLiveImage", LIVE)).manager == "secondary"
            assert c._picture_order.order(["primary", "secondary"], "primary") == ["secondary", "primary"]

    asyncio.run(run())


def test_what_the_server_says_is_final_and_not_asked_again() -> None:
    async def run() -> None:
        async with server(_down) as (a, _), server(_jpeg) as (b, seen_b), client(a, b) as c:
            with pytest.raises(PictureError) as e:
                await c.picture("getLiveImage", LIVE)
            assert e.value.reason == "device not active" and e.value.final and e.value.code == -21
            assert "primary manager: Device not active" in e.value.detail
            assert seen_b == []  # both managers reach the same server: its answer stands

    asyncio.run(run())


def test_a_picture_over_the_limit_is_refused_unread_and_the_other_manager_tried() -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        r = web.StreamResponse(headers={"Content-Type": "image/jpeg"})  # chunked: no length to refuse by
        await r.prepare(request)
        for _ in range(200):
            await r.write(b"\xff" * 65536)
        return r

    async def run() -> None:
        async with server(huge) as (a, _), server(huge) as (b, seen_b), client(a, b) as c:
            with pytest.raises(PictureError) as e:
                await c.picture("getLiveImage", LIVE, max_bytes=256 * 1024)
            assert e.value.reason == "picture too large (256 KiB limit)" and not e.value.final
            assert seen_b == ["getLiveImage"]

    asyncio.run(run())


def test_a_picture_that_never_finishes_ends_within_its_timeout() -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        r = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        await r.prepare(request)
        for _ in range(100):  # a byte every 0.1 s: each read comes in time, the whole never does
            await r.write(b"\xff")
            await asyncio.sleep(0.1)
        return r

    async def run() -> None:
        loop = asyncio.get_running_loop()
        async with server(trickle) as (url, _), client(url) as c:
            t0 = loop.time()
            with pytest.raises(PictureError) as e:
                await c.picture("getLiveImage", LIVE, timeout=0.5)
            assert loop.time() - t0 < 1.5
            assert e.value.reason == "no answer in time" and "not complete within 0.5 s" in e.value.detail

    asyncio.run(run())


def test_reads_and_actions_are_not_pictures() -> None:
    async def run() -> None:
        async with client("http://127.0.0.1:1") as c:
            with pytest.raises(ValueError, match="not a picture command"):
                await c.picture("getLayoutStatus", {})

    asyncio.run(run())


@pytest.mark.parametrize(
    ("body", "ctype", "reason", "final"),
    [
        (DOWN, "text/xml", "device not active", True),
        (b'<result errorcode="-2"/>', "text/xml", "unknown camera", True),
        (b'<result errorcode="-11"><description>No image</description></result>', "text/xml", "no image", True),
        (b'<result errorcode="-3"/>', "text/xml", "no recording at that time", True),
        (DOWN, "image/jpeg", "corrupt answer: XML labelled as a picture", False),
        (b"GIF89a" + b"\x00" * 10, "image/gif", "", False),
        (b"\x00\x01garbage", "image/jpeg", "corrupt picture", False),
        (b"", "image/jpeg", "empty picture", False),
        (b"<html>oops</html>", "text/html", "not a picture", False),
        (b'<result errorcode="-108"/>', "text/xml", reason_of(ResultCode.NO_ACTIVE_SERVER, "No active server"), False),
        (b'<result errorcode="0"/>', "text/xml", "no picture in the answer", False),
    ],
)
def test_check_answer_names_what_is_wrong(body: bytes, ctype: str, reason: str, final: bool) -> None:
    if not reason:
        check_answer(body, ctype)
        return
    with pytest.raises(PictureError) as e:
        check_answer(body, ctype)
    assert e.value.reason == reason and e.value.final is final


def test_manager_order_prefers_the_executing_manager_unless_it_just_failed() -> None:
    order = ManagerOrder(avoid_for=60)
    assert order.order(["primary", "secondary"], "secondary") == ["secondary", "primary"]
    order.failed("secondary")
    assert order.order(["primary", "secondary"], "secondary") == ["primary", "secondary"]
    order.answered("secondary")
    assert order.order(["primary", "secondary"], "secondary") == ["secondary", "primary"]
    assert ManagerOrder(avoid_for=0).order(["primary", "secondary"], None) == ["primary", "secondary"]


def test_sense_times_round_trip_in_utc() -> None:
    t = dt.datetime(2026, 11, 24, 19, 5, 55, 120000, tzinfo=dt.UTC)
    assert sense_time(t) == "2026-11-24 19:05:55"
    assert sense_time(t, millis=True) == "2026-11-24 19:05:55.120"
    assert parse_sense_time("2026-11-24 19:05:55.120") == t
    assert parse_sense_time("2026-11-24 19:05:55") == t.replace(microsecond=0)
    with pytest.raises(ValueError, match="not a UTC time"):
        parse_sense_time("24/11/2026")
    assert [speed_text(s) for s in SPEEDS] == ["-16", "-8", "-4", "-2", "-1", "-0.5", "0.5", "1", "2", "4", "8", "16"]


def test_a_playback_moves_at_its_speed_and_never_past_now() -> None:
    start = utc_now() - dt.timedelta(hours=1)
    pb = Playback(start, 4.0, anchor=100.0)
    assert pb.at(now=110.0) == start + dt.timedelta(seconds=40)
    back = Playback(start, -2.0, anchor=100.0)
    assert back.at(now=105.0) == start - dt.timedelta(seconds=10)
    assert Playback(start, 16.0, anchor=0.0).at(now=10_000.0) <= utc_now()  # caught up with live: waits there
    slower = pb.with_speed(0.5, now=110.0)
    assert slower.time == start + dt.timedelta(seconds=40) and slower.speed == 0.5 and slower.anchor == 110.0
    moved = pb.moved_to(start, now=200.0)
    assert moved.at(now=201.0) == start + dt.timedelta(seconds=4)


def test_after_action_follows_each_playback_command() -> None:
    t = "2026-11-24 19:05:55"
    pb = after_action(None, "startPlayback", {"divaid": "7"}, now=0.0)
    assert pb is not None and pb.speed == 1.0
    assert after_action(pb, "startPlayback", {}, now=5.0) is pb  # a repeated start does not jump
    pb = after_action(pb, "setPlaybackDateTime", {"time": t}, now=10.0)
    assert pb is not None and sense_time(pb.at(now=10.0)) == t
    pb = after_action(pb, "setPlaybackSpeed", {"speed": "-4"}, now=10.0)
    assert pb is not None and pb.speed == -4.0 and sense_time(pb.at(now=11.0)) == "2026-11-24 19:05:51"
    assert after_action(pb, "stopPlayback", {}, now=12.0) is None
    assert after_action(None, "selectCamera", {}) is None


def _viewers(n: int) -> list[ViewerState]:
    return [ViewerState(str(1000 + i), f"Desk {i + 1}", []) for i in range(n)]


def test_own_viewers_by_name_or_id_and_the_default_by_site_size() -> None:
    few, many = _viewers(3), _viewers(30)
    assert own_viewers(few, [], 4) == ["1000", "1001", "1002"]
    assert own_viewers(many, [], 4) == ["1000"]
    assert own_viewers(many, ["desk 7", "1011"], 4) == ["1006", "1011"]
    assert own_viewers(many, ["nobody"], 4) == ["1000"]  # none found: the default, not an empty wall
    assert own_viewers([], [], 4) == []


def test_the_wall_read_carries_each_stations_playback() -> None:
    xml = (
        b'<result errorcode="0"><layoutstatus><divas count="3">'
        b"<diva><divaid>1</divaid><name>A</name><monitors/>"
        b"<playback><mode>playback</mode><time>2026-11-24 19:05:55.500</time><speed>-2</speed></playback></diva>"
        b"<diva><divaid>2</divaid><name>B</name><monitors/>"
        b"<playback><mode>live</mode><time></time><speed>1</speed></playback></diva>"
        b"<diva><divaid>3</divaid><name>C</name><monitors/></diva>"
        b"</divas></layoutstatus></result>"
    )
    a, b, c = parse_wall(parse_result(xml))
    assert a.playback_known and a.playback is not None and a.playback.speed == -2.0
    assert a.playback.time == dt.datetime(2026, 11, 24, 19, 5, 55, 500000, tzinfo=dt.UTC)
    assert b.playback_known and b.playback is None
    assert not c.playback_known and c.playback is None  # a real Sense server reports nothing
