"""A site of real size for the simulator (`sensetwin sim --site big`): 20 recording servers, 2,000 cameras
(every tenth a dome with presets), 30 viewer stations with 4 monitors each, layouts and multilayouts.

The description has the shape of resources/sites/demo.json and is the same on every call: ids come from a
hash of a name, never from a random source, so two sims of a pair (and every test run) agree on them.
The macros and actions are the demo site's (they describe the product, not the site).

    python -m app.sim.bigsite > big.json      (write it out, e.g. to edit and serve with --site big.json)
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

from ..resources_access import read_text

SERVERS = 20
CAMERAS = 2000
DOME_EVERY = 10  # cameras 0, 10, 20, ... are PTZ domes
VIEWERS = 30
MONITORS = 4
FIRST_DEVICEID = 1001  # device ids are unique over the whole site (a cameraview without serverid finds one)

_AREAS = (
    "North gate",
    "South gate",
    "Car park",
    "Loading bay",
    "Lobby",
    "Warehouse",
    "Perimeter fence",
    "Platform",
    "Stairwell",
    "Corridor",
)
_PRESETS = ("Overview", "Entrance", "Close-up", "Perimeter")


def uid(kind: str, n: int) -> str:
    """A Sense-style id (an unsigned 64-bit decimal, often above the signed maximum) for the nth `kind`."""
    digest = hashlib.sha256(f"sensetwin big site/{kind}/{n}".encode()).digest()
    return str(int.from_bytes(digest[:8], "big") | (1 << 56))  # never 0, never short


def _grid(name: str, k: int) -> dict[str, Any]:
    cell = 1000 // k
    panels = [
        {
            "panelid": uid(f"panel {name}", i),
            "name": f"Panel {i + 1}",
            "left": (i % k) * cell,
            "top": (i // k) * cell,
            "width": 1000 - (k - 1) * cell if i % k == k - 1 else cell,
            "height": 1000 - (k - 1) * cell if i // k == k - 1 else cell,
        }
        for i in range(k * k)
    ]
    return {"layoutid": uid(f"layout {name}", 0), "name": name, "panels": panels}


def _one_plus(name: str, k: int) -> dict[str, Any]:
    """One main panel over (k-1)x(k-1) cells of a k-by-k grid, small panels along the right and the bottom."""
    cell = 1000 // k
    main = (k - 1) * cell
    cells = [(k - 1, r) for r in range(k - 1)] + [(c, k - 1) for c in range(k)]
    panels = [{"panelid": uid(f"panel {name}", 0), "name": "Main", "left": 0, "top": 0, "width": main, "height": main}]
    for i, (c, r) in enumerate(cells, start=1):
        panels.append(
            {
                "panelid": uid(f"panel {name}", i),
                "name": f"Panel {i + 1}",
                "left": c * cell,
                "top": r * cell,
                "width": 1000 - c * cell if c == k - 1 else cell,
                "height": 1000 - r * cell if r == k - 1 else cell,
            }
        )
    return {"layoutid": uid(f"layout {name}", 0), "name": name, "panels": panels}


def _layouts() -> list[dict[str, Any]]:
    return [
        _grid("1x1", 1),
        _grid("2x2", 2),
        _grid("3x3", 3),
        _grid("4x4", 4),
        _one_plus("1+5", 3),
        _one_plus("1+7", 4),
    ]


def _camera(i: int, servers: list[dict[str, str]]) -> dict[str, Any]:
    srv = servers[i % SERVERS]
    area = _AREAS[(i // SERVERS) % len(_AREAS)]
    cam: dict[str, Any] = {
        "serverid": srv["serverid"],
        "deviceid": str(FIRST_DEVICEID + i),
        "name": f"{area} {i + 1:04d}",
        "location": f"{srv['name']}, {area}",
        "ptz": i % DOME_EVERY == 0,
        "brand": "VDG" if i % 3 else "Axis",
        "ipaddress": f"10.31.{i // 250}.{i % 250 + 1}",
        "port": 80,
    }
    if cam["ptz"]:
        cam["presets"] = {
            str(p + 1): {
                "name": _PRESETS[p],
                "pan": (i * 97 + p * 900) % 3601 - 1800,
                "tilt": -((i * 31 + p * 150) % 600),
                "zoom": (i * 13 + p * 250) % 1001,
            }
            for p in range(len(_PRESETS))
        }
    return cam


def big_site() -> dict[str, Any]:
    """The big site as a JSON-shaped dict (what `load_site("big")` parses)."""
    demo = json.loads(read_text("sites", "demo.json"))
    servers = [
        {
            "serverid": uid("server", s),
            "name": f"Recorder {s + 1:02d}",
            "address": f"10.30.1.{s + 11}",
            "macaddress": f"00:1b:44:30:01:{s + 11:02x}",
        }
        for s in range(SERVERS)
    ]
    cameras = [_camera(i, servers) for i in range(CAMERAS)]
    layouts = _layouts()
    by_name = {lay["name"]: lay for lay in layouts}
    # Each station's four monitors show four different layouts, rotating over the site.
    wall_names = ["2x2", "3x3", "4x4", "1+5", "1+7", "1x1"]
    viewers, initial, multilayouts = [], [], []
    next_camera = 0
    for v in range(VIEWERS):
        divaid = uid("viewer", v)
        name = f"Operator desk {v + 1:02d}" if v < VIEWERS - 6 else f"Video wall {v - VIEWERS + 7}"
        monitors = []
        for m in range(MONITORS):
            lay = by_name[wall_names[(v + m) % len(wall_names)]]
            monitors.append(
                {"monitorid": uid(f"monitor {v}", m), "name": f"Monitor {m + 1}", "layoutid": lay["layoutid"]}
            )
            for panel in lay["panels"]:
                cam = cameras[next_camera % CAMERAS]
                next_camera += 7  # spread the wall over the servers and areas
                initial.append(
                    {
                        "divaid": divaid,
                        "monitorindex": m,
                        "layoutid": lay["layoutid"],
                        "panelid": panel["panelid"],
                        "serverid": cam["serverid"],
                        "deviceid": cam["deviceid"],
                    }
                )
        viewers.append(
            {
                "divaid": divaid,
                "name": name,
                "address": f"10.30.3.{v + 21}",
                "macaddress": f"00:1b:44:30:03:{v + 21:02x}",
                "monitors": monitors,
            }
        )
        multilayouts += [
            {
                "multilayoutid": uid("multilayout overview", v),
                "name": f"{name}: overview",
                "divaid": divaid,
                "layouts": [by_name["4x4"]["layoutid"]] * MONITORS,
            },
            {
                "multilayoutid": uid("multilayout incident", v),
                "name": f"{name}: incident",
                "divaid": divaid,
                "layouts": [by_name[n]["layoutid"] for n in ("1+5", "1x1", "2x2", "3x3")][:MONITORS],
            },
        ]
    return {
        "name": "Big control room",
        "management": {
            "divaid": uid("management", 0),
            "name": "Management server",
            "address": "10.30.1.10",
            "macaddress": "00:1b:44:30:01:0a",
        },
        "servers": servers,
        "viewers": viewers,
        "layouts": layouts,
        "multilayouts": multilayouts,
        "cameras": cameras,
        "initial": initial,
        "macros": demo["macros"],
        "actions": demo["actions"],
    }


if __name__ == "__main__":  # pragma: no cover - a convenience for writing the file out
    json.dump(big_site(), sys.stdout, indent=1)
    sys.stdout.write("\n")
