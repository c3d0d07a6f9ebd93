from __future__ import annotations

import pytest

from app.sense import Kind, ResultCode, SenseError, classify, lookup
from app.sense.catalogue import commands, parse_cameraview, validate


def test_every_documented_function_is_in_the_catalogue() -> None:
    for name in [
        "getDivaList",
        "getDeviceList",
        "getCameraList",
        "getLayoutList",
        "getMultiLayoutList",
        "getLayoutStatus",
        "getOptions",
        "getPosition",
        "getAbsolutePosition",
        "getEvents",
        "getActionList",
        "selectLayout",
        "selectMultiLayout",
        "selectCamera",
        "setAbsolutePosition",
        "setRelativePosition",
        "setPreset",
        "gotoPreset",
        "executeAction",
        "startPlayback",
    ]:
        assert lookup(name) is not None, name


def test_names_are_case_insensitive_and_aliases_share_an_entry() -> None:
    assert lookup("SELECTCAMERA") is lookup("selectcamera")
    assert lookup("getCameraList") is lookup("getDeviceList")
    assert lookup("getabsoluteposition") is lookup("getPosition")


@pytest.mark.parametrize("name", ["selectCamera", "selectLayout", "gotoPreset", "setAbsolutePosition"])
def test_absolute_actions_are_idempotent(name: str) -> None:
    cmd = classify(name)
    assert cmd.kind is Kind.ACTION and cmd.idempotent


@pytest.mark.parametrize("name", ["executeAction", "setRelativePosition", "setPreset"])
def test_relative_actions_are_not_idempotent(name: str) -> None:
    cmd = classify(name)
    assert cmd.kind is Kind.ACTION and not cmd.idempotent


def test_unknown_command_is_a_non_idempotent_action() -> None:
    cmd = classify("frobnicateWall")
    assert cmd.is_action and not cmd.idempotent and not cmd.known


def test_reads_are_reads() -> None:
    assert all(c.kind is Kind.READ for c in commands() if c.name.startswith("get"))


def _code(cmd: str, **params: str) -> int:
    with pytest.raises(SenseError) as info:
        validate(lookup(cmd), params)  # type: ignore[arg-type]
    return info.value.code


def test_missing_parameter_is_not_enough_parameters() -> None:
    assert _code("selectLayout", monitorindex="0") == ResultCode.NOT_ENOUGH_PARAMETERS


def test_empty_value_is_refused() -> None:
    assert _code("selectLayout", monitorindex="0", layoutid="") == ResultCode.EMPTY_VALUE


def test_preset_out_of_range_has_its_own_code() -> None:
    assert _code("gotoPreset", cameraid="1", preset="65") == ResultCode.PRESET_OUT_OF_RANGE
    assert _code("gotoPreset", cameraid="1", preset="0") == ResultCode.PRESET_OUT_OF_RANGE


def test_pan_out_of_range() -> None:
    assert _code("setAbsolutePosition", cameraid="1", pan="5000") == ResultCode.VALUE_OUT_OF_RANGE


def test_uids_stay_strings_up_to_unsigned_64_bit() -> None:
    big = "9890179877273119875"  # above the signed maximum, from the Sense docs
    out = validate(lookup("selectLayout"), {"divaid": big, "monitorindex": "0", "layoutid": "1"})  # type: ignore[arg-type]
    assert out["divaid"] == big
    assert _code("selectLayout", divaid=str(2**64), monitorindex="0", layoutid="1") == ResultCode.VALUE_OUT_OF_RANGE
    assert _code("selectLayout", divaid="12ab", monitorindex="0", layoutid="1") == ResultCode.VALUE_OUT_OF_RANGE


def test_divaid_minus_one_means_all_viewers() -> None:
    out = validate(lookup("selectLayout"), {"divaid": "-1", "monitorindex": "0", "layoutid": "1"})  # type: ignore[arg-type]
    assert out["divaid"] == "-1"


def test_cameraid_or_deviceid_exactly_one() -> None:
    assert _code("getPosition") == ResultCode.NOT_ENOUGH_PARAMETERS
    assert validate(lookup("getOptions"), {"deviceid": "2"})["deviceid"] == "2"  # type: ignore[arg-type]


def test_cameraview_parsing() -> None:
    assert parse_cameraview("serverid:5;cameraid:7") == {"serverid": "5", "camera": "7"}
    assert parse_cameraview("deviceid:7;left:10") == {"camera": "7", "left": "10"}
    with pytest.raises(SenseError):
        parse_cameraview("serverid:5")
    with pytest.raises(SenseError):
        parse_cameraview("colour:red;cameraid:1")


def test_overlong_value_is_refused() -> None:
    assert _code("executeAction", actionname="x" * 10_000) == ResultCode.VALUE_OUT_OF_RANGE


def test_bad_timestamp_is_invalid_timestamp() -> None:
    assert _code("getEvents", starttime="yesterday") == ResultCode.INVALID_TIMESTAMP
