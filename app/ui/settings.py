"""The console's settings: what the operator and the installer set, validated, saved per user (platformdirs).

The file is TOML-like JSON (`settings.json` in the user config dir), written with mode 0600 because a site may
put credentials in it; a world-readable file is refused at start with a message that says how to fix it.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..client.ops_model import TourDefinition
from ..config import DEFAULTS, config_dir, parse_listen
from ..security import check_token_text, is_loopback


@dataclass
class ConsoleSettings:
    station: str = "Console 1"
    managers: list[str] = field(default_factory=lambda: ["http://127.0.0.1:9100", "http://127.0.0.1:9101"])
    servers: list[str] = field(default_factory=list)
    pair_role: str = ""  # "", "primary" or "secondary"
    pair_name: str = "pair"
    peer_url: str = ""
    peer_listen: str = "127.0.0.1:9200"
    timeout: float = DEFAULTS.client_timeout
    theme: str = "dark"
    token: str = field(default="", repr=False)  # sent to the managers (X-SenseTwin-Token); SENSETWIN_TOKEN wins
    pair_token: str = field(default="", repr=False)  # shared by the two consoles of a pair
    ca_bundle: str = ""  # PEM file of the CA that signed https managers' and servers' certificates
    # This workstation's viewer stations on the wall (names or divaids); [] = all on a small site, else the first.
    viewers: list[str] = field(default_factory=list)
    # PTZ control: a dome another console steers stays with it unless this priority is higher (1..10).
    ptz_priority: int = 5  # the protocol's default (docs/workflows-protocol.md)
    # Camera tours this console can start on a wall panel: {"name", "cameras": [[cameraid, preset|null]], "dwell"}.
    tours: list[dict[str, Any]] = field(default_factory=list)

    def tour_definitions(self) -> list[TourDefinition]:
        return [tour_from_dict(t) for t in self.tours]

    def problems(self) -> list[str]:
        """Every reason these settings cannot be used, in words for the person who typed them."""
        out = []
        if not self.station.strip():
            out.append("Station name: give this workstation a name (it appears in every action's uid).")
        if not 1 <= len(self.managers) <= 2:
            out.append("Managers: give one or two manager addresses.")
        for u in [*self.managers, *self.servers, *([self.peer_url] if self.peer_url else [])]:
            if not u.startswith(("http://", "https://")) or len(u) < 10:
                out.append(f"Address {u!r} must start with http:// or https://, e.g. http://10.0.0.5:9100")
        if self.pair_role not in ("", "primary", "secondary"):
            out.append("Pair role: choose none, primary or secondary.")
        if self.pair_role and not self.peer_url:
            out.append("Pair: a paired console needs the peer console's address.")
        if not 0.2 <= self.timeout <= 30:
            out.append("Timeout: choose between 0.2 and 30 seconds.")
        if self.theme not in ("dark", "light"):
            out.append("Theme: dark or light.")
        for label, token in (("Token", self.token), ("Pair token", self.pair_token)):
            try:
                if token:
                    check_token_text(label, token)
            except ValueError as exc:
                out.append(f"{label}: {exc}.")
        if self.pair_role and not self.pair_token:
            try:
                if not is_loopback(parse_listen(self.peer_listen)[0]):
                    out.append("Pair token: a peer link on a network address needs one (the same on both consoles).")
            except ValueError as exc:
                out.append(f"Peer link listens on: {exc}.")
        if not isinstance(self.viewers, list) or not all(isinstance(v, str) and v.strip() for v in self.viewers):
            out.append('Viewer stations: a list of station names or ids, e.g. ["Operator desk 1"].')
        prio = self.ptz_priority
        if isinstance(prio, bool) or not isinstance(prio, int) or not 1 <= prio <= 10:
            out.append("PTZ priority: a whole number from 1 (lowest) to 10.")
        out.extend(tour_problems(self.tours))
        if self.ca_bundle and not Path(self.ca_bundle).is_file():
            out.append(f"CA bundle: {self.ca_bundle} does not exist.")
        return out


def tour_from_dict(d: dict[str, Any]) -> TourDefinition:
    """A tour as the settings file keeps it; raises ValueError (or TypeError/KeyError) on a malformed entry."""
    cameras = [(str(c[0]), None if c[1] is None else int(c[1])) for c in d["cameras"]]
    return TourDefinition(str(d["name"]), cameras, float(d["dwell"]))


def tour_to_dict(t: TourDefinition) -> dict[str, Any]:
    return {"name": t.name, "cameras": [[c, p] for c, p in t.cameras], "dwell": t.dwell}


def tour_problems(tours: object) -> list[str]:
    if not isinstance(tours, list):
        return ["Tours: a list of tours."]
    out, names = [], set()
    for i, d in enumerate(tours):
        try:
            t = tour_from_dict(d)
            t.validate()
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            out.append(f"Tour {i + 1}: {exc}.")
            continue
        if t.name in names:
            out.append(f"Tour {t.name!r}: two tours have this name.")
        names.add(t.name)
    return out


def env_token(default: str = "") -> str:
    """SENSETWIN_TOKEN when set: it wins over the settings file (a token kept out of files and argv)."""
    return os.environ.get("SENSETWIN_TOKEN") or default


def settings_path() -> Path:
    return config_dir() / "settings.json"


class SettingsError(Exception):
    pass


def load(path: Path | None = None) -> ConsoleSettings:
    p = path or settings_path()
    if not p.exists():
        return ConsoleSettings(token=env_token())
    mode = p.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError(f"{p} can be read by other users; it may hold credentials. Fix it with: chmod 600 {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read {p}: {exc}. Fix or delete the file to start with defaults.") from None
    known = {f.name for f in fields(ConsoleSettings)}
    if not isinstance(data, dict):
        raise SettingsError(f"{p} is not a settings object. Fix or delete the file to start with defaults.")
    try:
        s = ConsoleSettings(**{k: v for k, v in data.items() if k in known})
    except TypeError as exc:
        raise SettingsError(f"{p}: {exc}") from None
    s.token = env_token(s.token)
    problems = s.problems()
    if problems:
        raise SettingsError(f"{p}: " + " ".join(problems))
    return s


def save(s: ConsoleSettings, path: Path | None = None) -> Path:
    problems = s.problems()
    if problems:
        raise SettingsError(" ".join(problems))
    p = path or settings_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(asdict(s), f, indent=2)
    os.chmod(tmp, 0o600)
    tmp.replace(p)
    return p
