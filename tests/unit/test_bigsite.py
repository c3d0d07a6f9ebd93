"""The big site (`sensetwin sim --site big`): its size, its consistency, the demo site's shape, the same every
time; and how a site is chosen and how a bad site file is reported."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from app.resources_access import read_text
from app.sim.bigsite import big_site, uid
from app.sim.site import load_site

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def big() -> dict[str, Any]:
    return big_site()


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    return dict(json.loads(read_text("sites", "demo.json")))


def test_it_has_the_size_asked_for(big: dict[str, Any]) -> None:
    assert len(big["servers"]) == 20
    assert len(big["cameras"]) == 2000
    domes = [c for c in big["cameras"] if c["ptz"]]
    assert len(domes) == 200 and all(int(c["deviceid"]) % 10 == 1 for c in domes)  # every tenth
    assert all(c["presets"] for c in domes) and not any("presets" in c for c in big["cameras"] if not c["ptz"])
    assert len(big["viewers"]) == 30 and all(len(v["monitors"]) == 4 for v in big["viewers"])
    assert len(big["layouts"]) >= 4 and big["multilayouts"]
    assert Counter(c["serverid"] for c in big["cameras"]) == dict.fromkeys((s["serverid"] for s in big["servers"]), 100)


def test_it_is_the_same_every_time(big: dict[str, Any]) -> None:
    assert big_site() == big
    # Pinned: the ids come from a hash of a name, not from a random source or Python's per-process hash().
    assert uid("server", 0) == "7860950271604385924" == big["servers"][0]["serverid"]
    assert uid("viewer", 0) == "10599311583943423778" == big["viewers"][0]["divaid"]


def test_it_has_the_demo_sites_shape(big: dict[str, Any], demo: dict[str, Any]) -> None:
    assert set(big) == set(demo)
    assert set(big["management"]) == set(demo["management"])
    for kind in ("servers", "viewers", "layouts", "multilayouts", "initial"):
        want = set().union(*(set(x) for x in demo[kind]))
        assert all(set(x) == want for x in big[kind]), kind
    cam_keys = set().union(*(set(c) for c in demo["cameras"]))
    assert all(set(c) | {"presets"} == cam_keys for c in big["cameras"])
    panel_keys = set(demo["layouts"][0]["panels"][0])
    assert all(set(p) == panel_keys for lay in big["layouts"] for p in lay["panels"])
    assert set(big["viewers"][0]["monitors"][0]) == set(demo["viewers"][0]["monitors"][0])
    assert big["actions"] == demo["actions"] and big["macros"] == demo["macros"]


def test_every_id_is_a_unique_unsigned_64_bit_decimal(big: dict[str, Any]) -> None:
    ids = [big["management"]["divaid"], *(s["serverid"] for s in big["servers"])]
    ids += [v["divaid"] for v in big["viewers"]] + [m["monitorid"] for v in big["viewers"] for m in v["monitors"]]
    ids += [lay["layoutid"] for lay in big["layouts"]] + [p["panelid"] for lay in big["layouts"] for p in lay["panels"]]
    ids += [m["multilayoutid"] for m in big["multilayouts"]]
    assert len(ids) == len(set(ids))
    assert all(i.isdigit() and 0 < int(i) < 2**64 for i in ids)
    assert any(int(i) >= 2**63 for i in ids)  # some above the signed maximum, as real Sense ids are
    devices = [c["deviceid"] for c in big["cameras"]]
    assert len(devices) == len(set(devices))  # a cameraview without a serverid still names one camera


def test_everything_it_refers_to_exists(big: dict[str, Any]) -> None:
    layouts = {lay["layoutid"]: lay for lay in big["layouts"]}
    cameras = {(c["serverid"], c["deviceid"]) for c in big["cameras"]}
    viewers = {v["divaid"]: v for v in big["viewers"]}
    for v in big["viewers"]:
        assert all(m["layoutid"] in layouts for m in v["monitors"])
    for p in big["initial"]:
        monitor = viewers[p["divaid"]]["monitors"][p["monitorindex"]]
        assert monitor["layoutid"] == p["layoutid"]
        assert p["panelid"] in {x["panelid"] for x in layouts[p["layoutid"]]["panels"]}
        assert (p["serverid"], p["deviceid"]) in cameras
    for m in big["multilayouts"]:
        assert m["divaid"] in viewers and all(lid in layouts for lid in m["layouts"])
    # each layout covers the whole screen (per mille) with no panel over another
    for lay in big["layouts"]:
        boxes = [(p["left"], p["top"], p["left"] + p["width"], p["top"] + p["height"]) for p in lay["panels"]]
        assert all(0 <= a < c <= 1000 and 0 <= b < d <= 1000 for a, b, c, d in boxes), lay["name"]
        assert sum((c - a) * (d - b) for a, b, c, d in boxes) == 1000 * 1000, lay["name"]
        for i, (a, b, c, d) in enumerate(boxes):
            for e, f, g, h in boxes[i + 1 :]:
                assert c <= e or g <= a or d <= f or h <= b, f"panels overlap in {lay['name']}"


def test_load_site_by_name_or_file(tmp_path: Path, big: dict[str, Any]) -> None:
    assert load_site().name == load_site("demo").name == "Demo control room"
    site = load_site("big")
    assert len(site.cameras) == 2000 and len(site.viewers) == 30
    path = tmp_path / "site.json"
    path.write_text(json.dumps(big), encoding="utf-8")
    assert load_site(path) == site == load_site(str(path))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read site file {path}: No such file or directory"),
        ('{"name": "x",\n  "servers": [}', "site file {path} is not valid JSON: Expecting value at line 2, column 15"),
        ('{"name": "x"}', "site file {path} is not a valid site description: missing 'layouts'"),
        (b"\xff\xfe{}", "site file {path} is not UTF-8 text"),
    ],
)
def test_a_bad_site_file_is_one_line_saying_what_and_where(tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "site.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as info:
        load_site(path)
    assert str(info.value).startswith(message.format(path=path))


def test_sensetwin_sim_with_a_bad_site_exits_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    r = subprocess.run(
        [sys.executable, "-m", "app", "sim", "--role", "primary", "--site", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode != 0
    assert r.stderr.strip() == f"sensetwin sim: cannot read site file {path}: No such file or directory"
    assert r.stdout == ""
