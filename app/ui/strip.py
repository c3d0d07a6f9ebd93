"""RedundancyStrip: always at the top, one tile per part (both servers, both managers, the peer console) with
colour + symbol + words, a brief flash on change, and a banner when the system runs on its secondary server; and
the ALARMS tile: how many alarms no console has acknowledged, red while any is high."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..client import SystemView

# level -> symbol shown beside the words (never colour alone)
SYMBOL = {"ok": "●", "standby": "◐", "warn": "▲", "down": "✖", "unknown": "?"}


class StatusTile(QFrame):
    def __init__(self, title: str) -> None:
        super().__init__()
        self.setObjectName("StatusTile")
        self.title = QLabel(title.upper())
        self.title.setObjectName("TileTitle")
        self.state = QLabel("? unknown")
        self.state.setObjectName("TileState")
        self.detail = QLabel("")
        self.detail.setObjectName("TileDetail")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.setSpacing(1)
        for w in (self.title, self.state, self.detail):
            lay.addWidget(w)
        self.level = "unknown"
        self._flash = QTimer(self)
        self._flash.setSingleShot(True)
        self._flash.timeout.connect(lambda: self._set_prop("flash", "false"))
        self.setMinimumWidth(170)

    def _set_prop(self, name: str, value: str) -> None:
        self.setProperty(name, value)
        self.style().unpolish(self)
        self.style().polish(self)

    def show_state(self, level: str, words: str, detail: str) -> None:
        text = f"{SYMBOL.get(level, '?')} {words}"
        changed = text != self.state.text()
        self.state.setText(text)
        self.detail.setText(detail)
        if level != self.level:
            self.level = level
            self._set_prop("level", level)
            self.state.setProperty("level", level)  # the theme's QSS colours the words by level
            self.state.style().unpolish(self.state)
            self.state.style().polish(self.state)
        if changed:
            self._set_prop("flash", "true")
            self._flash.start(900)


class RedundancyStrip(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.tiles = {
            k: StatusTile(k)
            for k in (
                "primary server",
                "secondary server",
                "primary manager",
                "secondary manager",
                "etcd",
                "peer console",
            )
        }
        row = QHBoxLayout()
        row.setSpacing(8)
        self.badge = QLabel("DEMO")
        self.badge.setObjectName("DemoBadge")
        self.badge.setVisible(False)
        row.addWidget(self.badge)
        for t in self.tiles.values():
            row.addWidget(t)
        self.alarms = StatusTile("alarms")
        self.alarms.setMinimumWidth(130)
        self.alarms.show_state("unknown", "…", "waiting for the managers")
        row.addWidget(self.alarms)
        self.banner = QLabel("Connecting…")
        self.banner.setObjectName("Banner")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 4)
        lay.addLayout(row)
        lay.addWidget(self.banner)

    def show_view(self, v: SystemView) -> None:
        for name, s in v.servers.items():
            level = {"active": "ok", "standby": "standby", "unreachable": "down", "reachable": "warn"}.get(
                s.state, "unknown"
            )
            words = {"unreachable": "DOWN"}.get(s.state, s.state.upper())
            self.tiles[f"{name} server"].show_state(level, words, f"epoch {s.epoch} · since {s.since or '—'}")
        for name, m in v.managers.items():
            mode = f"{m.mode} mode · " if m.reachable else ""
            detail = f"{mode}queue {m.queue} · since {m.since or '—'}"
            if not m.reachable:
                level, words = "down", "DOWN"
            elif m.token_refused:
                level, words, detail = "down", "TOKEN REFUSED", "set this console's token: File › Settings"
            elif m.forwarding:
                level, words = "ok", "EXECUTING"
            elif m.mode == "failover":
                level, words = "standby", "FAILOVER"
            else:
                level, words = "warn", m.mode.upper()
            self.tiles[f"{name} manager"].show_state(level, words, detail)
        self.tiles["etcd"].show_state(*v.coordination)
        p = v.peer
        if not p.configured:
            self.tiles["peer console"].show_state("unknown", "NOT PAIRED", "single workstation")
        else:
            control = "this console has control" if p.in_control else "peer has control"
            self.tiles["peer console"].show_state(
                "ok" if p.reachable else "down",
                ("CONNECTED" if p.reachable else "GONE") + f" · {p.station or '?'}",
                f"we are {p.role} · {control}",
            )
        self._banner(v)

    def show_alarms(self, unacknowledged: int, high: int, error: str = "") -> None:
        """The ALARMS tile: red with ✖ while a high alarm is unacknowledged, amber for others, green for none."""
        if error and not unacknowledged:
            self.alarms.show_state("unknown", "?", error[:60])
        elif high:
            self.alarms.show_state("down", f"{unacknowledged} NEW", f"{high} high")
        elif unacknowledged:
            self.alarms.show_state("warn", f"{unacknowledged} NEW", "none high")
        else:
            self.alarms.show_state("ok", "NONE", "all acknowledged")

    def _banner(self, v: SystemView) -> None:
        active = v.active_server
        executing = v.executing_manager
        refusing = [m.name for m in v.managers.values() if m.reachable and m.token_refused]
        if refusing:
            who = " and ".join(refusing)
            text, level = (
                f"TOKEN REFUSED by the {who} manager — set this console's access token (File › Settings)",
                "bad",
            )
        elif v.coordination[0] == "down":
            text, level = (
                "NO QUORUM — the managers' etcd cluster has lost its majority: actions cannot execute; "
                "start the etcd members (at least two of three)",
                "bad",
            )
        elif active is None:
            text, level = "NO ACTIVE SERVER — actions are held, then refused; check both Sense servers", "bad"
        elif active.name == "secondary":
            primary = v.servers.get("primary")
            why = (
                "primary unreachable"
                if primary is None or primary.state == "unreachable"
                else f"primary {primary.state}"
            )
            text, level = f"Running on SECONDARY server since {active.since} — {why}", "bad"
        elif executing is None:
            text, level = "NO MANAGER EXECUTING — actions cannot be sent; check both managers", "bad"
        elif executing.name == "secondary":
            text, level = f"Primary server active · SECONDARY manager executing since {executing.since}", "bad"
        else:
            text, level = f"Normal operation · primary server (epoch {active.epoch}) · primary manager executing", "ok"
        self.banner.setText(text)
        if self.banner.property("level") != level:
            self.banner.setProperty("level", level)
            self.banner.style().unpolish(self.banner)
            self.banner.style().polish(self.banner)
