"""A stand-in Sense server that answers pictures, run as a real process by tests/e2e/test_manager_pictures.py.

python -m tests.fake_picture_server --port PORT

getLiveImage answers JPEG-looking bytes (image/jpeg) that carry the query, so a test can see they passed through
untouched; cameraid=down answers the Sense XML error -21; cameraid=xml-as-image answers XML labelled image/jpeg;
cameraid=huge answers 9 MiB of image/jpeg (over the manager's 8 MiB limit).
"""

from __future__ import annotations

import argparse

from aiohttp import web

INFO = (
    b'<?xml version="1.0" encoding="UTF-8"?><apiinfo><utc>2020-01-01 00:00:00</utc><version>2.6.1</version>'
    b"<role>primary</role><state>active</state><epoch>1</epoch></apiinfo>"
)


def picture(query: str) -> bytes:
    return b"\xff\xd8\xff\xe0" + query.encode() + bytes(range(256)) * 40 + b"\xff\xd9"


def make_app() -> web.Application:
    async def info(request: web.Request) -> web.Response:
        return web.Response(body=INFO, content_type="text/xml")

    async def command(request: web.Request) -> web.Response:
        cam = request.query.get("cameraid", "")
        if request.query.get("command") != "getLiveImage":  # an action: tell which epoch the sender chose us for
            epoch = request.headers.get("X-SenseTwin-Epoch", "none")
            body = f'<result errorcode="0"><description>epoch={epoch}</description></result>'.encode()
            return web.Response(body=body, content_type="text/xml")
        if cam == "down":
            return web.Response(
                body=b'<result errorcode="-21"><description>Device not active</description></result>',
                content_type="text/xml",
            )
        if cam == "huge":
            return web.Response(body=b"\xff\xd8" + b"x" * (9 * 1024 * 1024), content_type="image/jpeg")
        return web.Response(body=picture(request.query_string), content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/info", info)
    app.router.add_get("/command", command)
    return app


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    web.run_app(make_app(), host="127.0.0.1", port=a.port, print=None)


if __name__ == "__main__":
    main()
