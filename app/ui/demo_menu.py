"""The Demo menu: kill (-9), restart, pause (SIGSTOP) and resume each part of the demo system (sims, managers, the
three etcd members), and cut the two manager hosts apart, so anyone can watch a failover happen in the strip and
nothing execute twice."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow


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


def _do(win: QMainWindow, fn: Any, name: str, label: str) -> None:
    fn()
    win.statusBar().showMessage(f"Demo: {label.lower()} — {name}", 5000)
