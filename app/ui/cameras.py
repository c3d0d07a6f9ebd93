"""The camera tree: cameras by recording server, a filter box, PTZ domes marked, and a live preview of the
selected camera (larger and faster than a wall panel); drag a camera onto a panel.

Signals: cameraChosen(str key) when a camera is selected (the PTZ pad follows it).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import QLineEdit, QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from ..client.site import Site
from ..config import DEFAULTS
from .picture_view import PictureView
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
        self.preview = PictureView("Preview", "Picture", DEFAULTS.preview_interval)
        self.preview.setMinimumSize(240, 135)
        self.preview.camera.setText("select a camera to preview it")
        self.site = Site()
        # Per camera item, its lower-case search text (name, location, ids): the filter only compares strings.
        self._search: list[tuple[QTreeWidgetItem, list[tuple[QTreeWidgetItem, str]]]] = []
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(self.preview)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.filter)
        lay.addWidget(split, 1)

    def show_site(self, site: Site) -> None:
        self.site = site
        self.tree.clear()
        self._search = []
        groups: dict[str, QTreeWidgetItem] = {}
        for cam in sorted(site.cameras.values(), key=lambda c: (c.server_name, c.name.lower())):
            g = groups.get(cam.server_name)
            if g is None:
                g = QTreeWidgetItem([f"▤ {cam.server_name}", ""])
                g.setFlags(Qt.ItemFlag.ItemIsEnabled)
                groups[cam.server_name] = g
                self.tree.addTopLevelItem(g)
                self._search.append((g, []))
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
            self._search[-1][1].append((item, f"{item.text(0)}\n{item.toolTip(0)}".lower()))
        self.tree.expandAll()
        self._apply_filter(self.filter.text())

    def _apply_filter(self, text: str) -> None:
        t = text.strip().lower()
        # Only items whose state changes are touched, with updates off: a keystroke on 2,000 cameras stays instant.
        self.tree.setUpdatesEnabled(False)
        try:
            for g, items in self._search:
                visible = 0
                for c, words in items:
                    hide = bool(t) and t not in words
                    if c.isHidden() != hide:
                        c.setHidden(hide)
                    visible += not hide
                if g.isHidden() != (visible == 0):
                    g.setHidden(visible == 0)
        finally:
            self.tree.setUpdatesEnabled(True)

    def _chosen(self, item: QTreeWidgetItem | None, _prev: object) -> None:
        key = item.data(0, KEY_ROLE) if item is not None else None
        if key:
            cam = self.site.cameras.get(str(key))
            if cam is not None:
                self.preview.show_camera(cam.key, ("⟲ " if cam.ptz else "") + cam.name, cam)
            self.cameraChosen.emit(str(key))
