"""Random and hostile input to every parser that reads the network: a clear error, never a crash or a hang."""

from __future__ import annotations

import contextlib
import json
import time
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.client.pairing import PeerMessageError, action_fields, parse_message
from app.manager.peer import parse_feed
from app.sense import SenseError, XmlError, decode, parse_result, parse_xml
from app.sense.login import check_login

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
record = st.fixed_dictionaries(
    {
        "seq": st.integers() | st.text(max_size=5) | st.floats(),
        "kind": st.sampled_from(["started", "done", "dropped", "mode", "evil"]),
        "uid": st.text(max_size=10),
        "command": st.text(max_size=10),
        "params": st.text(max_size=10) | st.integers(),
        "origin": st.text(max_size=10),
        "at": st.floats() | st.text(max_size=5),
    },
    optional={"errorcode": st.none() | st.integers() | st.text(max_size=3), "answer": st.none() | st.text(max_size=9)},
)
feeds = st.fixed_dictionaries(
    {
        "instance": json_values,
        "records": st.lists(record | json_values, max_size=5) | json_values,
        "mode": json_values,
        "healthy": json_values,
        "role": json_values,
    },
    optional={"gap": json_values},
)


@given(st.binary(max_size=2000))
def test_random_bytes_as_a_feed_answer(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        parse_feed(data)


@given(feeds)
def test_feed_answers_of_the_right_shape_with_wrong_values(page: dict[str, object]) -> None:
    try:
        parsed = parse_feed(json.dumps(page).encode())
    except ValueError:
        return
    assert isinstance(parsed.instance, str) and all(
        r.kind in ("started", "done", "dropped", "mode") for r in parsed.records
    )


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
    "huge number": b'{"instance": "i", "records": [{"seq": 1' + b"0" * 100_000 + b'}], "mode": "", "healthy": true}',
    "huge float": b'{"pair": "pair", "at": 1e999999}',
    "invalid utf-8": b'{"pair": "\xff\xfe", "at": 1}',
    "nan time": b'{"pair": "pair", "at": NaN}',
    "bool time": b'{"pair": "pair", "at": true}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_json_is_refused_quickly(name: str) -> None:
    t = time.monotonic()
    with pytest.raises(ValueError):
        parse_feed(HOSTILE[name])
    with pytest.raises(PeerMessageError):
        parse_message(HOSTILE[name], "pair", 60)
    assert time.monotonic() - t < 5  # not a hang (a loose bound: this is a safety net, not a benchmark)


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
