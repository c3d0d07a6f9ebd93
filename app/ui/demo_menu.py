"""The Demo menu: kill (-9), restart, pause (SIGSTOP) and resume each part of the demo system (sims, managers, the
three etcd members), and cut the two manager hosts apart, so anyone can watch a failover happen in the strip and
nothing execute twice; raise a high or a low alarm (a server event the demo managers' alarm rules turn into one)."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow

log = logging.getLogger(__name__)

# The server events the demo managers' alarm rules make alarms of (app/demo: the managers' [[alarms]]):
# priority -> (event type, the camera's serverid (Recorder North), deviceid, value).
DEMO_ALARMS = {
    "high": ("Motion", "13427094042528044067", "101", "motion at the gate"),
    "low": ("VideoLost", "13427094042528044067", "103", "video signal lost"),
}


def add_demo_menu(win: QMainWindow, topology: Any) -> None:
    badge = win.strip.badge  # type: ignore[attr-defined]
    badge.setVisible(True)
    badge.setToolTip(f"Simulated system on loopback; journal: {topology.journal}")
    menu = win.menuBar().addMenu("&Demo")
    win.demo_actions = {}  # type: ignore[attr-defined]
    for name, part in topology.parts.items():
        sub = menu.addMenu(name.capitalize())
        for label, fn in (
            ("Kill (crash)", part.kill),
            ("Restart", part.start),
            ("Pause (SIGSTOP)", part.pause),
            ("Resume", part.resume),
        ):
            act = QAction(label, win)
            act.triggered.connect(lambda _=False, fn=fn, name=name, label=label: _do(win, fn, name, label))
            sub.addAction(act)
            win.demo_actions[(name, label.split()[0].lower())] = act  # type: ignore[attr-defined]
    if getattr(topology, "cut_links", None) is not None:
        menu.addSeparator()
        sub = menu.addMenu("Cut the manager hosts apart")
        for label, mode in (
            ("Cut silently (packets vanish)", "silent"),
            ("Cut with refusals (a rejecting firewall)", "refused"),
            ("Restore the link", "pass"),
        ):
            act = QAction(label, win)
            act.triggered.connect(
                lambda _=False, mode=mode, label=label: _do(
                    win, lambda: topology.cut_managers(mode), "the manager hosts", label
                )
            )
            sub.addAction(act)
            win.demo_actions[("managers", mode)] = act  # type: ignore[attr-defined]
    menu.addSeparator()
    alarms = menu.addMenu("Raise alarm")
    for priority in DEMO_ALARMS:
        act = QAction(f"Raise alarm ({priority})", win)
        act.triggered.connect(lambda _=False, p=priority: win.spawn(raise_alarm(win, topology, p)))  # type: ignore[attr-defined]
        alarms.addAction(act)
        win.demo_actions[("alarm", priority)] = act  # type: ignore[attr-defined]


async def raise_alarm(win: Any, topology: Any, priority: str) -> None:
    """POST /sim/event to the active server: the event the demo's alarm rule of this priority matches."""
    kind, serverid, deviceid, value = DEMO_ALARMS[priority]
    active = win.client.view.active_server
    base = active.url if active is not None else topology.parts["primary server"].url
    payload = {"type": kind, "serverid": serverid, "deviceid": deviceid, "value": value}
    try:
        reply = await win.client.http.post_json(f"{base}/sim/event", payload)
        text = f"Demo: {kind} event raised on {base} ({priority} alarm)"
        if reply.status != 200:
            text = f"Demo: the server did not take the {kind} event: {reply.status} {reply.body[:200]!r}"
    except Exception as exc:  # the demo's server is down: say so, as the other Demo entries do
        text = f"Demo: no {kind} event raised: {exc}"
    log.info("%s", text)
    win.statusBar().showMessage(text, 6000)


def _do(win: QMainWindow, fn: Any, name: str, label: str) -> None:
    fn()
    win.statusBar().showMessage(f"Demo: {label.lower()} — {name}", 5000)
