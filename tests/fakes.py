"""Misbehaving stand-ins for a Sense server, a manager or an etcd member, run as real processes by the tests.

python -m tests.fakes --mode MODE --port PORT [--state S] [--epoch N] [--count-file F]

Modes: garbage, hang, huge, drop, bare-info, json-garbage, ok.

As an etcd member (every POST, the etcd JSON gateway's /v3/... paths): `garbage` answers an HTML error page,
`json-garbage` JSON of another shape with status 200 (another program's API at a member's address), `hang`
nothing at all.

`ok` answers every command with `<result errorcode="0">` and reports in /info whatever --state and --epoch
say, so a test can show a manager a server that claims to be active with a stale epoch.
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web


def make_app(mode: str, state: str = "active", epoch: int = 1) -> web.Application:
    info_xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><apiinfo><utc>2020-01-01 00:00:00</utc><version>2.6.1</version>'
        f"<role>primary</role><state>{state}</state><epoch>{epoch}</epoch></apiinfo>"
    ).encode()

    async def info(request: web.Request) -> web.Response:
        if mode == "bare-info":  # an /info as a real Sense server gives it: no role, state or epoch
            return web.Response(
                body=b"<apiinfo><utc>2020-01-01 00:00:00</utc><version>2.6.1</version></apiinfo>",
                content_type="text/xml",
            )
        return web.Response(body=info_xml, content_type="text/xml")

    async def command(request: web.Request) -> web.Response:
        if mode == "drop":
            # Take the request, count it, and drop the connection without an answer (a server that died).
            if request.query.get("command") != "getUidStatus":
                with open(request.app["count_file"], "a") as f:  # noqa: ASYNC230 - a test fake, tiny writes
                    f.write(request.query_string + "\n")
            assert request.transport is not None
            request.transport.close()
            await asyncio.sleep(1)
        if mode == "huge":
            return web.Response(
                body=b"<result errorcode='0'>" + b"x" * (10 * 1024 * 1024) + b"</result>", content_type="text/xml"
            )
        if mode == "hang":
            await asyncio.sleep(60)
        if mode == "ok":
            return web.Response(
                body=b'<result errorcode="0"><description>Ok</description></result>', content_type="text/xml"
            )
        return web.Response(text="<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html")

    async def post(request: web.Request) -> web.Response:
        if mode == "json-garbage":
            return web.json_response({"instance": 1, "records": [{"seq": "x"}], "mode": None})
        if mode == "hang":
            await asyncio.sleep(60)
        return web.Response(text="<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html")

    app = web.Application()
    app["count_file"] = f"/tmp/sensetwin-fake-{mode}-{epoch}.count"
    app.router.add_get("/info", info)
    app.router.add_get("/command", command)
    app.router.add_post("/{tail:.*}", post)
    return app


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state", default="active")
    ap.add_argument("--epoch", type=int, default=1)
    ap.add_argument("--count-file", help="drop mode: append every command received here")
    a = ap.parse_args()
    app = make_app(a.mode, a.state, a.epoch)
    if a.count_file:
        app["count_file"] = a.count_file
    web.run_app(app, host="127.0.0.1", port=a.port, print=None)


if __name__ == "__main__":
    main()
