"""The camera tree: cameras by recording server, a filter box, PTZ domes marked; drag a camera onto a panel.

Signals: cameraChosen(str key) when a camera is selected (the PTZ pad follows it).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from ..client.site import Site
from .wall import camera_mime

KEY_ROLE = Qt.ItemDataRole.UserRole


class _Tree(QTreeWidget):
    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:
        key = items[0].data(0, KEY_ROLE) if items else ""
        return camera_mime(str(key or ""))


class CameraTree(QWidget):
    cameraChosen = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter cameras (Ctrl+F)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.tree = _Tree()
        self.tree.setHeaderLabels(["Camera", "Status"])
        self.tree.setDragEnabled(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setColumnWidth(0, 220)
        self.tree.currentItemChanged.connect(self._chosen)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.filter)
        lay.addWidget(self.tree)

    def show_site(self, site: Site) -> None:
        self.tree.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        for cam in sorted(site.cameras.values(), key=lambda c: (c.server_name, c.name.lower())):
            g = groups.get(cam.server_name)
            if g is None:
                g = QTreeWidgetItem([f"▤ {cam.server_name}", ""])
                g.setFlags(Qt.ItemFlag.ItemIsEnabled)
                groups[cam.server_name] = g
                self.tree.addTopLevelItem(g)
            item = QTreeWidgetItem(
                [("⟲ " if cam.ptz else "◉ ") + cam.name + ("  [PTZ]" if cam.ptz else ""), cam.status]
            )
            item.setData(0, KEY_ROLE, cam.key)
            item.setToolTip(
                0,
                f"{cam.name} — {cam.location}; server {cam.serverid}, camera {cam.deviceid}"
                + ("; PTZ dome" if cam.ptz else ""),
            )
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
            g.addChild(item)
        self.tree.expandAll()
        self._apply_filter(self.filter.text())

    def _apply_filter(self, text: str) -> None:
        t = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            g = self.tree.topLevelItem(i)
            if g is None:
                continue
            visible = 0
            for j in range(g.childCount()):
                c = g.child(j)
                if c is None:
                    continue
                hide = bool(t) and t not in c.text(0).lower() and t not in c.toolTip(0).lower()
                c.setHidden(hide)
                visible += not hide
            g.setHidden(visible == 0)

    def _chosen(self, item: QTreeWidgetItem | None, _prev: object) -> None:
        key = item.data(0, KEY_ROLE) if item is not None else None
        if key:
            self.cameraChosen.emit(str(key))
