from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.sense import ResultCode, SenseError, XmlError, decode, encode, parse_result, result_xml
from app.sense.xml import el


def test_encode_decode_round_trip_with_uid() -> None:
    q = encode("selectLayout", {"layoutid": 1, "divaid": "7015498111931795223"}, uid="AUniqueValue1234")
    assert q == "command=selectLayout&layoutid=1&divaid=7015498111931795223&uid=AUniqueValue1234"
    req = decode(q)
    assert req.command == "selectLayout" and req.uid == "AUniqueValue1234"
    assert req.params == {"layoutid": "1", "divaid": "7015498111931795223"}


def test_parameter_names_are_case_insensitive() -> None:
    assert decode("COMMAND=getPosition&ServerID=1&deviceId=2").params == {"serverid": "1", "deviceid": "2"}


def test_repeated_parameter_is_refused() -> None:
    with pytest.raises(SenseError) as info:
        decode("command=selectLayout&layoutid=1&LayoutID=2")
    assert info.value.code == ResultCode.BAD_REQUEST


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(SenseError):
        decode("command=getDivaList&x=%ff%fe")


def test_missing_command_is_refused() -> None:
    with pytest.raises(SenseError) as info:
        decode("layoutid=1")
    assert info.value.code == ResultCode.NOT_ENOUGH_PARAMETERS


def test_too_long_query_is_refused() -> None:
    with pytest.raises(SenseError):
        decode("command=x&a=" + "b" * 70_000)


def test_result_parsing_ignores_case_extra_tags_and_attributes() -> None:
    r = parse_result(
        b'<RESULT ErrorCode="0" extra="1"><Divas Count="1"><diva><DivaID>5</DivaID><new/></diva>'
        b"</Divas><whatever/></RESULT>"
    )
    assert r.ok and r.errorcode == 0
    assert r.text("divas/diva/divaid") == "5"
    assert r.root.find("divas").get("count") == "1"  # type: ignore[union-attr]


def test_negative_result_carries_its_description() -> None:
    r = parse_result(result_xml(-14, "No layout"))
    assert not r.ok and r.errorcode == -14 and r.message() == "No layout"


@pytest.mark.parametrize(
    "body", [b"", b"<html><body>502</body></html>", b"not xml", b'<result errorcode="x"/>', b"<result/>"]
)
def test_unusable_answers_are_xml_errors(body: bytes) -> None:
    with pytest.raises(XmlError):
        parse_result(body)


def test_billion_laughs_is_not_expanded() -> None:
    bomb = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
    <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
    <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
    <result errorcode="0">&lol3;</result>"""
    with pytest.raises(XmlError):
        parse_result(bomb)


def test_builder_writes_lower_case_documented_shape() -> None:
    body = result_xml(0, None, el("divas", None, el("diva", None, el("divaid", 1)), count=1))
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?><result errorcode="0"><divas count="1">')


@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_the_parser(data: bytes) -> None:
    with contextlib.suppress(XmlError):
        parse_result(data)


@given(st.text(max_size=500))
def test_random_queries_decode_or_fail_cleanly(text: str) -> None:
    with contextlib.suppress(SenseError):
        decode(text)
