"""Bad input to the simulator: always a Sense <result> with a negative code and a description,
never a 500 or a traceback, and the world exactly as it was."""

from __future__ import annotations

import pytest

from app.demo import Part, Topology
from app.sense import parse_result
from app.sim import read_journal
from tests.helpers import command, raw

Sim = tuple[Part, Topology]


def _fingerprint(part: Part, topo: Topology) -> tuple[bytes, str, int]:
    status = raw(part.url, "/command?command=getLayoutStatus").content
    devices = command(part.url, "getDeviceList").root.find("devices")
    positions = []
    for d in devices:  # type: ignore[union-attr]
        if d.findtext("ptztype"):
            r = command(part.url, "getPosition", serverid=d.findtext("serverid"), cameraid=d.findtext("deviceid"))
            positions.append(",".join(r.text(a) for a in ("pan", "tilt", "zoom")))
    return status, ";".join(positions), len(read_journal(topo.journal))


@pytest.fixture
def ids(single_sim: Sim) -> dict[str, str]:
    url = single_sim[0].url
    d = command(url, "getLayoutStatus").root.find("layoutstatus/divas/diva")
    m = d.find("monitors/monitor")  # type: ignore[union-attr]
    dome = next(x for x in command(url, "getDeviceList").root.find("devices") if x.findtext("ptztype"))  # type: ignore[union-attr]
    return {
        "divaid": d.findtext("divaid"),
        "layoutid": m.findtext("layout/layoutid"),  # type: ignore[union-attr,dict-item]
        "panelid": m.findtext("layout/panels/panel/panelid"),
        "serverid": dome.findtext("serverid"),  # type: ignore[union-attr]
        "deviceid": dome.findtext("deviceid"),
    }  # type: ignore[dict-item]


CASES = [
    # (name, query or None, expected code or None for "any negative")
    ("unknown command", "command=frobnicate", -1),
    ("no command", "layoutid=1", -10),
    ("missing parameter", "command=selectLayout&monitorindex=0", -10),
    ("no such layout", "command=selectLayout&monitorindex=0&layoutid=12345", -14),
    ("no such diva", "command=selectLayout&divaid=999&monitorindex=0&layoutid={layoutid}", -12),
    ("no such device", "command=getPosition&cameraid=999999", -2),
    ("no such panel", "command=selectCamera&cameraview=cameraid:101&layoutid={layoutid}&panelid=42", -15),
    (
        "no such camera on a panel",
        "command=selectCamera&cameraview=cameraid:999&layoutid={layoutid}&panelid={panelid}",
        -2,
    ),
    ("preset 65", "command=gotoPreset&serverid={serverid}&cameraid={deviceid}&preset=65", -7),
    ("preset 0 store", "command=setPreset&serverid={serverid}&cameraid={deviceid}&preset=0", -7),
    ("pan 5000", "command=setAbsolutePosition&serverid={serverid}&cameraid={deviceid}&pan=5000", -22),
    ("speed 2000", "command=setRelativePosition&serverid={serverid}&deviceid={deviceid}&pan=2000", -22),
    ("non-numeric id", "command=selectLayout&divaid=abc&monitorindex=0&layoutid={layoutid}", -22),
    ("negative id", "command=getPosition&cameraid=-5", -22),
    ("float id", "command=getPosition&cameraid=1.5e3", -22),
    ("empty value", "command=selectLayout&monitorindex=&layoutid={layoutid}", -23),
    ("10 kB parameter", "command=executeAction&actionname=" + "x" * 10_240, -22),
    ("non-ASCII id", "command=getPosition&cameraid=%D9%A3", -22),
    ("non-ASCII action name", "command=executeAction&actionname=%C3%A4ktion", -26),
    ("invalid UTF-8", "command=getPosition&cameraid=%ff", -111),
    ("repeated parameter", "command=selectLayout&monitorindex=0&layoutid={layoutid}&LAYOUTID={layoutid}", -111),
    ("both cameraid and deviceid", "command=getPosition&cameraid=1&deviceid=2", -111),
    ("bad cameraview", "command=selectCamera&cameraview=hello&layoutid={layoutid}&panelid={panelid}", -22),
    ("monitor index too large", "command=selectLayout&divaid={divaid}&monitorindex=7&layoutid={layoutid}", -13),
    ("absolute without axes", "command=setAbsolutePosition&serverid={serverid}&cameraid={deviceid}", -10),
    ("too many parameters", "command=getDivaList&" + "&".join(f"p{i}=1" for i in range(100)), -111),
    ("huge query", "command=getDivaList&x=" + "y" * 100_000, -111),
    ("bad timestamp", "command=getEvents&startid=1&endtime=2020-13-45", -4),
]


@pytest.mark.parametrize(("name", "query", "code"), CASES, ids=[c[0] for c in CASES])
def test_bad_query_gets_a_sense_error_and_changes_nothing(
    single_sim: Sim, ids: dict[str, str], name: str, query: str, code: int
) -> None:
    part, topo = single_sim
    before = _fingerprint(part, topo)
    r = raw(part.url, "/command?" + query.format(**ids))
    assert r.status_code == 200
    result = parse_result(r.content)
    assert result.errorcode == code, result.description
    assert result.description, "every error says what happened"
    assert _fingerprint(part, topo) == before


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("PUT", "/command?command=getDivaList", 405),
        ("DELETE", "/command?command=selectLayout", 405),
        ("POST", "/command?command=selectLayout&monitorindex=0&layoutid=1", 200),
        ("GET", "/nothing/here", 404),
        ("POST", "/info", 405),
    ],
)
def test_wrong_method_or_path_gets_a_sense_error(single_sim: Sim, method: str, path: str, status: int) -> None:
    part, topo = single_sim
    before = _fingerprint(part, topo)
    r = raw(part.url, path, method)
    assert r.status_code == status
    result = parse_result(r.content)
    assert result.errorcode < -100 and result.description
    assert _fingerprint(part, topo) == before


def test_garbage_post_body_for_execute_action(single_sim: Sim) -> None:
    part, topo = single_sim
    before = _fingerprint(part, topo)
    for body in (b"<action><actionname>", b"\xff\xfe\x00", b"<!DOCTYPE x [<!ENTITY a 'b'>]><action>&a;</action>"):
        r = raw(part.url, "/command?command=executeAction", "POST", body)
        assert r.status_code == 200
        assert parse_result(r.content).errorcode < 0
    assert _fingerprint(part, topo) == before


def test_webservice_accepts_only_an_authentication_message(single_sim: Sim) -> None:
    url = single_sim[0].url
    ok = raw(
        url,
        "/webservice",
        "POST",
        b"<AuthenticateUserDigest><username>a</username><nonce>n</nonce>"
        b"<timestamp>2020-01-01 00:00:00</timestamp><digest>x</digest>"
        b"</AuthenticateUserDigest>",
    )
    assert parse_result(ok.content).errorcode == 0
    assert parse_result(raw(url, "/webservice", "POST", b"<hello/>").content).errorcode < 0
    assert parse_result(raw(url, "/webservice", "POST", b"nonsense").content).errorcode < 0
