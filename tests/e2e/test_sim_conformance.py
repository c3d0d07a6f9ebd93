"""Every function the simulator serves, against the shapes of SENSE_API.md, over real HTTP."""

from __future__ import annotations

import pytest

from app.demo import Part, Topology
from app.sense import parse_xml
from app.sim import read_journal
from tests.helpers import command, raw

Sim = tuple[Part, Topology]


def _ids(result_root, path: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.text or "" for e in result_root.iterfind(path)]


def test_info_answers_documented_shape_plus_role(single_sim: Sim) -> None:
    part, _ = single_sim
    r = raw(part.url, "/info")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    assert r.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?><apiinfo>')
    root = parse_xml(r.content)
    assert root.findtext("version") == "2.6.1"
    assert len(root.findtext("utc") or "") == len("2013-09-03 19:05:55")
    assert root.findtext("state") == "active" and root.findtext("role") == "primary"
    assert int(root.findtext("epoch") or 0) >= 1


def test_get_diva_list(single_sim: Sim) -> None:
    r = command(single_sim[0].url, "getDivaList")
    divas = r.root.find("divas")
    assert divas is not None and int(divas.get("count", "0")) == len(divas) == 5
    types = {d.findtext("type") for d in divas}
    assert types == {"Diva server", "Diva client"}
    for d in divas:
        assert {c.tag for c in d} >= {"divaid", "name", "type", "options", "status", "address", "macaddress"}
    # Unsigned 64-bit ids are kept whole (at least one demo id is above the signed maximum).
    assert any(int(d.findtext("divaid") or 0) > 2**63 for d in divas)


@pytest.mark.parametrize("name", ["getDeviceList", "getCameraList"])
def test_get_device_list_and_alias(single_sim: Sim, name: str) -> None:
    r = command(single_sim[0].url, name)
    devices = r.root.find("devices")
    assert devices is not None and devices.get("count") == "16"
    names = [d.findtext("name") or "" for d in devices]
    assert names == sorted(names, key=str.lower)
    for d in devices:
        assert {c.tag for c in d} >= {"name", "serverid", "deviceid", "status", "type", "brand", "location", "ptztype"}
    assert sum(1 for d in devices if d.findtext("ptztype")) == 4
    assert len({d.findtext("serverid") for d in devices}) == 2


def test_get_layout_list(single_sim: Sim) -> None:
    r = command(single_sim[0].url, "getLayoutList")
    layouts = r.root.find("layouts")
    assert layouts is not None
    sizes = {lay.findtext("name"): int(lay.find("panels").get("count")) for lay in layouts}  # type: ignore[union-attr]
    assert sizes == {"1x1": 1, "2x2": 4, "3x3": 9, "1+5": 6}
    panel = layouts.find("layout/panels/panel")
    assert panel is not None
    assert {c.tag for c in panel} >= {
        "panelid",
        "name",
        "deviceid",
        "serverid",
        "type",
        "top",
        "left",
        "width",
        "height",
    }


def test_get_multilayout_list(single_sim: Sim) -> None:
    r = command(single_sim[0].url, "getMultiLayoutList")
    ml = r.root.find("multilayouts")
    assert ml is not None and int(ml.get("count", "0")) == len(ml) == 4
    assert all(m.findtext("multilayoutid") and m.findtext("name") for m in ml)


def test_get_layout_status_shape(single_sim: Sim) -> None:
    r = command(single_sim[0].url, "getLayoutStatus")
    divas = r.root.find("layoutstatus/divas")
    assert divas is not None and len(divas) == 2
    mon = divas.find("diva/monitors/monitor")
    assert mon is not None
    assert {c.tag for c in mon} >= {"index", "monitorid", "name", "active", "layout"}
    panel = mon.find("layout/panels/panel")
    assert panel is not None and panel.find("status/video") is not None
    one = command(single_sim[0].url, "getLayoutStatus", divaid=divas[0].findtext("divaid"))
    assert len(one.root.find("layoutstatus/divas")) == 1  # type: ignore[arg-type]


def _ptz(url: str) -> tuple[str, str]:
    devices = command(url, "getDeviceList").root.find("devices")
    d = next(d for d in devices if d.findtext("ptztype"))  # type: ignore[union-attr]
    return d.findtext("serverid") or "", d.findtext("deviceid") or ""


def _fixed(url: str) -> tuple[str, str]:
    devices = command(url, "getDeviceList").root.find("devices")
    d = next(d for d in devices if not d.findtext("ptztype"))  # type: ignore[union-attr]
    return d.findtext("serverid") or "", d.findtext("deviceid") or ""


def test_get_options_dome_and_fixed(single_sim: Sim) -> None:
    url = single_sim[0].url
    sid, did = _ptz(url)
    r = command(url, "getOptions", serverid=sid, deviceid=did)  # the example's deviceid= form
    assert r.text("options/positioning/pan/relative") == "true"
    assert r.text("options/positioning/zoom/auto") == "true"
    presets = r.root.find("options/presets")
    assert presets is not None and int(presets.get("count", "0")) >= 3
    assert presets[0].get("number") == "1" and presets[0].text
    fsid, fdid = _fixed(url)
    fixed = command(url, "getOptions", serverid=fsid, cameraid=fdid)
    assert fixed.ok and fixed.text("options/positioning/pan/relative") == "false"


@pytest.mark.parametrize("name", ["getPosition", "getAbsolutePosition"])
def test_get_position(single_sim: Sim, name: str) -> None:
    url = single_sim[0].url
    sid, did = _ptz(url)
    r = command(url, name, serverid=sid, cameraid=did)
    assert r.ok
    for axis in ("pan", "tilt", "zoom", "focus", "iris"):
        int(r.text(axis))
    fsid, fdid = _fixed(url)
    assert command(url, name, serverid=fsid, cameraid=fdid).errorcode == -19


def test_get_action_list(single_sim: Sim) -> None:
    r = command(single_sim[0].url, "getActionList")
    actions = r.root.find("actions")
    assert actions is not None
    names = {a.findtext("name") for a in actions}
    assert {"viewer.executeMacro", "server.tagVideoStart", "camera.sendDeviceCommand"} <= names
    p = actions.find("action/parameters/parameter")
    assert p is not None and p.findtext("required") in {"true", "false"}
    assert {a.findtext("type") for a in actions} == {"viewer", "server"}


def test_get_hardware_status_ok_on_a_lone_server(single_sim: Sim) -> None:
    r = command(single_sim[0].url, "getHardwareStatus")
    assert r.text("hardwarestatus/status") == "Ok"


def _status(url: str) -> dict[tuple[str, str, str], tuple[str, str]]:
    """(divaid, monitor index, panelid) -> (serverid, deviceid) for every panel shown."""
    out = {}
    for d in command(url, "getLayoutStatus").root.iterfind("layoutstatus/divas/diva"):
        for m in d.iterfind("monitors/monitor"):
            for p in m.iterfind("layout/panels/panel"):
                out[(d.findtext("divaid") or "", m.findtext("index") or "", p.findtext("panelid") or "")] = (
                    p.findtext("serverid") or "",
                    p.findtext("deviceid") or "",
                )
    return out


def _wall(url: str) -> tuple[str, str, str, str]:
    """divaid, monitor 0's layoutid, its first panelid, and the 3x3 layout id."""
    st = command(url, "getLayoutStatus")
    d = st.root.find("layoutstatus/divas/diva")
    m = d.find("monitors/monitor")  # type: ignore[union-attr]
    layouts = command(url, "getLayoutList").root.find("layouts")
    three = next(lay.findtext("layoutid") for lay in layouts if lay.findtext("name") == "3x3")  # type: ignore[union-attr]
    return (
        d.findtext("divaid"),
        m.findtext("layout/layoutid"),  # type: ignore[union-attr,return-value]
        m.findtext("layout/panels/panel/panelid"),
        three,
    )  # type: ignore[union-attr]


def test_select_camera_changes_layout_status_and_is_journaled(single_sim: Sim) -> None:
    part, topo = single_sim
    divaid, layoutid, panelid, _ = _wall(part.url)
    sid, did = _fixed(part.url)
    before = len(read_journal(topo.journal))
    r = command(
        part.url,
        "selectCamera",
        uid="conf-1",
        cameraview=f"serverid:{sid};cameraid:{did}",
        layoutid=layoutid,
        panelid=panelid,
        divaid=divaid,
    )
    assert r.ok and r.message() == "Ok"
    assert _status(part.url)[(divaid, "0", panelid)] == (sid, did)
    entries = read_journal(topo.journal)[before:]
    assert [(e["uid"], e["command"]) for e in entries] == [("conf-1", "selectCamera")]
    assert entries[0]["server"] == "primary" and entries[0]["params"]["panelid"] == panelid


def test_select_layout_and_multilayout(single_sim: Sim) -> None:
    url = single_sim[0].url
    divaid, _, _, three = _wall(url)
    assert command(url, "selectLayout", divaid=divaid, monitorindex=1, layoutid=three).ok
    st = command(url, "getLayoutStatus", divaid=divaid)
    assert st.root.findall("layoutstatus/divas/diva/monitors/monitor")[1].findtext("layout/name") == "3x3"
    ml = command(url, "getMultiLayoutList").root.find("multilayouts")
    incident = next(m for m in ml if m.findtext("divaid") == divaid and "incident" in (m.findtext("name") or ""))  # type: ignore[union-attr]
    assert command(url, "selectMultiLayout", divaid=divaid, name=incident.findtext("name")).ok
    mons = command(url, "getLayoutStatus", divaid=divaid).root.findall("layoutstatus/divas/diva/monitors/monitor")
    assert [m.findtext("layout/name") for m in mons] == ["1x1", "1+5"]


def test_presets_and_absolute_position_change_get_position(single_sim: Sim) -> None:
    url = single_sim[0].url
    sid, did = _ptz(url)
    assert command(url, "setAbsolutePosition", serverid=sid, cameraid=did, pan=123, tilt=-45, zoom=300).ok
    pos = command(url, "getPosition", serverid=sid, cameraid=did)
    assert (pos.text("pan"), pos.text("tilt"), pos.text("zoom")) == ("123", "-45", "300")
    assert command(url, "setPreset", serverid=sid, cameraid=did, preset=9).ok
    assert command(url, "gotoPreset", serverid=sid, cameraid=did, preset=1).ok
    assert command(url, "getPosition", serverid=sid, cameraid=did).text("pan") != "123"
    assert command(url, "gotoPreset", serverid=sid, cameraid=did, preset=9).ok
    assert command(url, "getPosition", serverid=sid, cameraid=did).text("pan") == "123"
    names = command(url, "getOptions", serverid=sid, cameraid=did).root.findall("options/presets/preset")
    assert "9" in {p.get("number") for p in names}


def test_relative_move_moves_the_dome_over_time_and_zero_stops(single_sim: Sim) -> None:
    from tests.helpers import wait_for

    url = single_sim[0].url
    sid, did = _ptz(url)
    assert command(url, "setAbsolutePosition", serverid=sid, cameraid=did, pan=0).ok
    assert command(url, "setRelativePosition", serverid=sid, deviceid=did, pan=1000).ok
    wait_for(lambda: int(command(url, "getPosition", serverid=sid, cameraid=did).text("pan")) > 50, 5, "dome panning")
    assert command(url, "setRelativePosition", serverid=sid, deviceid=did, pan=0).ok
    stopped = command(url, "getPosition", serverid=sid, cameraid=did).text("pan")
    assert command(url, "getPosition", serverid=sid, cameraid=did).text("pan") == stopped


def test_execute_action_get_and_post_forms(single_sim: Sim) -> None:
    url = single_sim[0].url
    divaid = _wall(url)[0]
    assert command(url, "executeAction", actionname="viewer.executeMacro", divaid=divaid, name="Incident mode").ok
    body = (
        b"<action><actionname>viewer.executeMacro</actionname><parameters>"
        b'<parameter name="divaid">' + divaid.encode() + b'</parameter><parameter name="name">Incident mode'
        b"</parameter></parameters></action>"
    )
    r = raw(url, "/command?command=executeAction", "POST", body)
    assert parse_xml(r.content).get("errorcode") == "0"
    assert command(url, "executeAction", actionname="nope.nothing").errorcode == -26
    assert command(url, "executeAction", actionname="viewer.executeMacro", divaid=divaid, name="x").errorcode == -25


def test_start_playback(single_sim: Sim) -> None:
    url = single_sim[0].url
    divaid = _wall(url)[0]
    assert command(url, "startPlayback", divaid=divaid).ok
    assert command(url, "startPlayback", divaid="424242").errorcode == -12
    server = command(url, "getDivaList").root.find("divas/diva/divaid").text  # type: ignore[union-attr]
    assert command(url, "startPlayback", divaid=server).errorcode == -28


def test_root_path_works_like_command(single_sim: Sim) -> None:
    r = raw(single_sim[0].url, "/?command=getMultiLayoutList")
    assert parse_xml(r.content).get("errorcode") == "0"


def test_get_events_semantics(single_sim: Sim) -> None:
    url = single_sim[0].url
    first = command(url, "getEvents")
    events = first.root.find("events")
    assert events is not None and events.get("count") == "0" and len(events) == 0
    last = int(events.get("lasteventid", "-1"))
    divaid, layoutid, panelid, _ = _wall(url)
    for _ in range(3):
        command(url, "selectCamera", cameraview="cameraid:0", layoutid=layoutid, panelid=panelid, divaid=divaid)
    r = command(url, "getEvents", startid=last)
    ids = [int(x) for x in _ids(r.root, "events/event/eventid")]
    assert len(ids) == 3 and min(ids) > last
    e = r.root.find("events/event")
    assert {c.tag for c in e} >= {
        "eventid",
        "eventtype",
        "eventdescription",
        "eventvalue",
        "eventtime",  # type: ignore[union-attr]
        "serverid",
        "serverdescription",
        "deviceid",
        "devicedescription",
    }
    assert len(_ids(command(url, "getEvents", startid=last, limit=2).root, "events/event/eventid")) == 2
    tail = [int(x) for x in _ids(command(url, "getEvents", startid=last, limit=-1).root, "events/event/eventid")]
    assert tail == [max(ids)]
    assert _ids(command(url, "getEvents", startid=last, types="NoSuchType").root, "events/event") == []
    assert command(url, "getEvents", startid=1, starttime="bad").errorcode == -4


def test_get_events_wait_returns_when_an_event_arrives(single_sim: Sim) -> None:
    import threading

    url = single_sim[0].url
    last = int(command(url, "getEvents").root.find("events").get("lasteventid"))  # type: ignore[union-attr]
    divaid, layoutid, panelid, _ = _wall(url)
    got: list[int] = []
    t = threading.Thread(
        target=lambda: got.append(
            len(command(url, "getEvents", startid=last, wait=10000, timeout=15).root.findall("events/event"))
        )
    )
    t.start()
    command(url, "selectCamera", cameraview="cameraid:0", layoutid=layoutid, panelid=panelid, divaid=divaid)
    t.join(12)
    assert got == [1]
