"""Random and hostile input to every parser that reads the network: a clear error, never a crash or a hang."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.client.pairing import PeerMessageError, action_fields, parse_message
from app.manager.coord import UidRecord
from app.manager.etcd import EtcdClient, EtcdError, KeyValue, WatchEvent, _watch_events
from app.sense import SenseError, XmlError, decode, parse_result, parse_xml
from app.sense.login import check_login

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
b64_text = st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode()) | st.text(max_size=12)
etcd_kv = st.fixed_dictionaries(
    {},
    optional={
        "key": b64_text | json_values,
        "value": b64_text | json_values,
        "create_revision": st.integers() | st.text(max_size=5) | json_values,
        "mod_revision": st.integers() | st.text(max_size=5),
        "lease": st.integers() | st.text(max_size=5),
    },
)
etcd_events = st.fixed_dictionaries(
    {"type": st.sampled_from(["PUT", "DELETE", "EVIL"]) | json_values},
    optional={"kv": etcd_kv | json_values},
)
watch_messages = st.fixed_dictionaries(
    {},
    optional={
        "result": st.fixed_dictionaries(
            {},
            optional={
                "header": st.fixed_dictionaries({}, optional={"revision": st.integers() | st.text(max_size=5)})
                | json_values,
                "events": st.lists(etcd_events | json_values, max_size=4) | json_values,
                "compact_revision": st.integers() | st.text(max_size=5) | json_values,
            },
        )
        | json_values,
        "error": json_values,
    },
)


def _watch_line(line: bytes) -> None:
    """What the manager's watch may get from a member: events, or an EtcdError (the one error its loop handles)."""
    try:
        events = _watch_events(line, "http://etcd-p:2379")
    except EtcdError:
        return
    assert all(isinstance(e, WatchEvent) and e.kind in ("put", "delete", "progress") for e in events)


@given(st.binary(max_size=2000))
def test_random_bytes_as_an_etcd_watch_line(data: bytes) -> None:
    _watch_line(data)


@given(json_values)
def test_etcd_watch_lines_of_any_json(body: object) -> None:
    _watch_line(json.dumps(body).encode())


@given(watch_messages)
def test_etcd_watch_lines_of_the_right_shape_with_wrong_values(message: dict[str, object]) -> None:
    _watch_line(json.dumps(message).encode())


@given(json_values | st.binary(max_size=200))
def test_uid_records_of_any_value_are_a_record_or_a_value_error(value: object) -> None:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    try:
        rec = UidRecord.of("u-1", KeyValue("/sensetwin/uid/u-1", raw, 1, 2, 0))
    except ValueError:
        return
    assert isinstance(rec.state, str) and (rec.code is None or isinstance(rec.code, int))


@given(json_values, st.text(max_size=10))
def test_peer_messages_of_any_json(body: object, pair: str) -> None:
    raw = json.dumps(body).encode()
    try:
        msg = parse_message(raw, pair, 60)
        action_fields(msg)
    except PeerMessageError as exc:
        assert exc.status in (400, 409) and str(exc)


@given(st.binary(max_size=500))
def test_peer_messages_of_random_bytes(raw: bytes) -> None:
    with contextlib.suppress(PeerMessageError):
        parse_message(raw, "pair", 60)


@given(st.binary(max_size=1000))
def test_random_bytes_as_a_login(body: bytes) -> None:
    with contextlib.suppress(SenseError):
        assert check_login(body, "operator", "pw") is not None


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300), st.integers(0, 200))
def test_queries_with_many_and_odd_parameters(value: str, n: int) -> None:
    query = "command=selectLayout&" + "&".join(f"p{i}={quote(value)}" for i in range(n))
    try:
        req = decode(query)
    except SenseError as exc:
        assert exc.code == -111 and any(w in exc.description for w in ("parameters", "UTF-8", "bytes long"))
    else:
        assert len(req.params) == n and all(v == value for v in req.params.values())


HOSTILE = {
    "deep nesting": b"[" * 200_000 + b"]" * 200_000,
    "deep objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "huge number": b'{"result": {"header": {"revision": 1' + b"0" * 100_000 + b'}}, "pair": "pair", "at": 1}',
    "huge float": b'{"pair": "pair", "at": 1e999999}',
    "invalid utf-8": b'{"pair": "\xff\xfe", "at": 1}',
    "nan time": b'{"pair": "pair", "at": NaN}',
    "bool time": b'{"pair": "pair", "at": true}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_json_is_refused_quickly(name: str) -> None:
    t = time.monotonic()
    with pytest.raises(PeerMessageError):
        parse_message(HOSTILE[name], "pair", 60)
    _watch_line(HOSTILE[name])
    assert time.monotonic() - t < 5  # not a hang (a loose bound: this is a safety net, not a benchmark)


# What an etcd member, or something else at its address, may answer a request (status, body).
ETCD_ANSWERS = {
    "html error page": (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "empty": (200, b""),
    "a list": (200, b"[1, 2]"),
    "a string": (200, b'"ok"'),
    "invalid utf-8": (200, b'{"kvs": "\xff\xfe"}'),
    "error with a code that is no number": (200, b'{"error": "e", "code": "x"}'),
    "result that is a list": (200, b'{"result": []}'),
    "header that is a list": (200, b'{"header": [], "kvs": []}'),
    "kvs that are not key-values": (200, b'{"header": {"revision": "1"}, "kvs": [1, "x"]}'),
    "grant without an ID": (200, b'{"header": {"revision": "1"}}'),
    "deep nesting": (200, b"[" * 200_000 + b"]" * 200_000),
    "deep objects": (200, b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    "another cluster's error": (500, b'{"x": 1}'),
}


@pytest.mark.parametrize("name", sorted(ETCD_ANSWERS))
def test_any_answer_at_an_etcd_address_is_a_result_or_an_etcd_error(name: str) -> None:
    """The manager's coordination handles EtcdError (etcd.py): any other exception out of the client ends the task
    that made the request (the keepalive, the watch) for good."""
    from aiohttp import web

    status, body = ETCD_ANSWERS[name]

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, content_type="application/json")

    async def run() -> list[str]:
        app = web.Application()
        app.router.add_post("/{tail:.*}", answer)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        client = EtcdClient([f"http://127.0.0.1:{runner.addresses[0][1]}"], 2.0)
        await client.start()
        escaped = []
        try:
            for what, call in (
                ("call", lambda: client.call("/v3/kv/range", {})),
                ("txn", lambda: client.txn([], [])),
                ("get", lambda: client.get("/sensetwin/site")),
                ("get_prefix", lambda: client.get_prefix("/sensetwin/live/")),
                ("grant", lambda: client.grant(2)),
                ("keepalive", lambda: client.keepalive(1)),
            ):
                try:
                    await call()
                except EtcdError:
                    pass
                except Exception as exc:
                    escaped.append(f"{what}: {type(exc).__name__}: {str(exc)[:80]}")
        finally:
            await client.close()
            await runner.cleanup()
        return escaped

    assert asyncio.run(run()) == []


XML_HOSTILE = {
    "billion laughs": b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">]><result errorcode="0">&c;&c;&c;</result>',
    "external entity": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<result errorcode="0">&x;</result>',
    "deep nesting": b'<result errorcode="0">' + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</result>",
    "invalid utf-8": b'<?xml version="1.0" encoding="UTF-8"?><result errorcode="0">\xff\xfe\xfd</result>',
    "huge errorcode": b'<result errorcode="' + b"9" * 100_000 + b'"/>',
    "too large": b'<result errorcode="0">' + b"x" * (9 * 1024 * 1024) + b"</result>",
}


@pytest.mark.parametrize("name", sorted(XML_HOSTILE))
def test_hostile_xml_is_a_clear_error(name: str) -> None:
    with pytest.raises(XmlError) as info:
        parse_result(XML_HOSTILE[name])
    assert info.value.description
    if name in ("billion laughs", "external entity"):
        with pytest.raises(XmlError, match="forbidden"):
            parse_xml(XML_HOSTILE[name])
        with pytest.raises(XmlError):
            check_login(XML_HOSTILE[name], "operator", "pw")
