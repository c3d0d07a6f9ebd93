"""Misbehaving stand-ins for a Sense server or a peer manager, run as real processes by the tests.

python -m tests.fakes --mode garbage|hang|html-feed|json-garbage-feed --port PORT
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web

INFO = (
    b'<?xml version="1.0" encoding="UTF-8"?><apiinfo><utc>2020-01-01 00:00:00</utc><version>2.6.1</version>'
    b"<role>primary</role><state>active</state><epoch>1</epoch></apiinfo>"
)


def make_app(mode: str) -> web.Application:
    async def info(request: web.Request) -> web.Response:
        return web.Response(body=INFO, content_type="text/xml")

    async def command(request: web.Request) -> web.Response:
        if mode == "hang":
            await asyncio.sleep(60)
        return web.Response(text="<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html")

    async def feed(request: web.Request) -> web.Response:
        if mode == "json-garbage-feed":
            return web.json_response({"instance": 1, "records": [{"seq": "x"}], "mode": None})
        return web.Response(text="<html>not a feed</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/info", info)
    app.router.add_get("/command", command)
    app.router.add_get("/manager/feed", feed)
    app.router.add_post("/manager/fence", feed)
    return app


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True)
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    web.run_app(make_app(a.mode), host="127.0.0.1", port=a.port, print=None)


if __name__ == "__main__":
    main()
