"""The video wall: every viewer station, its monitors, each monitor's layout drawn as its panel grid with the
camera on each panel. Drop a camera on a panel to select it there; pick a layout per monitor.

Signals (VideoWall):
    cameraDropped(str divaid, int monitor, str layoutid, str panelid, str camera_key)
    layoutPicked(str divaid, int monitor, str layoutid)
    multiLayoutPicked(str divaid, str multilayoutid)
    panelSelected(str divaid, int monitor, str layoutid, str panelid, str camera_key)
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QMimeData, QRect, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent, QResizeEvent
from PySide6.QtWidgets import QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..client.site import LayoutShape, MonitorState, Site, ViewerState

CAMERA_MIME = "application/x-sensetwin-camera"


def camera_mime(key: str) -> QMimeData:
    m = QMimeData()
    m.setData(CAMERA_MIME, key.encode())
    m.setText(key)
    return m


class PanelWidget(QFrame):
    dropped = Signal(str)
    clicked = Signal()

    def __init__(self, name: str) -> None:
        super().__init__()
        self.setObjectName("Panel")
        self.setAcceptDrops(True)
        self.title = QLabel(name)
        self.title.setObjectName("PanelHint")
        self.camera = QLabel("— empty —")
        self.camera.setObjectName("PanelName")
        self.camera.setWordWrap(True)
        self.camera.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.addWidget(self.title)
        lay.addWidget(self.camera, 1)
        self.camera_key = ""

    def set_prop(self, name: str, value: bool) -> None:
        self.setProperty(name, "true" if value else "false")
        self.style().unpolish(self)
        self.style().polish(self)

    def show_camera(self, key: str, label: str) -> None:
        self.camera_key = key
        self.camera.setText(label or "— empty —")

    def dragEnterEvent(self, e: QDragEnterEvent) -> None:
        if e.mimeData().hasFormat(CAMERA_MIME):
            e.acceptProposedAction()
            self.set_prop("dropTarget", True)

    def dragLeaveEvent(self, e: object) -> None:
        self.set_prop("dropTarget", False)

    def dropEvent(self, e: QDropEvent) -> None:
        self.set_prop("dropTarget", False)
        key = bytes(e.mimeData().data(CAMERA_MIME).data()).decode()
        e.acceptProposedAction()
        self.dropped.emit(key)

    def mousePressEvent(self, e: QMouseEvent) -> None:
        self.clicked.emit()


class PanelArea(QWidget):
    """Places panels by their per-mille geometry from getLayoutList."""

    def __init__(self, on_new_panel: Callable[[str, PanelWidget], None]) -> None:
        super().__init__()
        self.setMinimumSize(220, 130)
        self.panels: dict[str, PanelWidget] = {}
        self._shape: LayoutShape | None = None
        self._on_new_panel = on_new_panel

    def set_layout_shape(self, shape: LayoutShape) -> None:
        if self._shape is not None and self._shape.layoutid == shape.layoutid:
            return
        for w in self.panels.values():
            w.deleteLater()
        self.panels = {}
        self._shape = shape
        for p in shape.panels:
            w = PanelWidget(p.name)
            w.setParent(self)
            w.show()
            self.panels[p.panelid] = w
            self._on_new_panel(p.panelid, w)
        self._place()

    def resizeEvent(self, e: QResizeEvent) -> None:
        self._place()

    def _place(self) -> None:
        if self._shape is None:
            return
        W, H = self.width(), self.height()
        for p in self._shape.panels:
            self.panels[p.panelid].setGeometry(
                QRect(
                    p.left * W // 1000 + 1,
                    p.top * H // 1000 + 1,
                    max(10, p.width * W // 1000 - 2),
                    max(10, p.height * H // 1000 - 2),
                )
            )


class MonitorWidget(QWidget):
    def __init__(self, wall: VideoWall, viewer: ViewerState, mon: MonitorState) -> None:
        super().__init__()
        self.wall, self.divaid, self.index = wall, viewer.divaid, mon.index
        self.layout_box = QComboBox()
        self.layout_box.setToolTip("Switch this monitor's layout (selectLayout)")
        for shape in wall.site.layouts.values():
            self.layout_box.addItem(shape.name, shape.layoutid)
        self.layout_box.activated.connect(self._picked)
        head = QHBoxLayout()
        name = QLabel(f"{mon.name} (#{mon.index})")
        name.setObjectName("TileTitle")
        head.addWidget(name)
        head.addStretch(1)
        head.addWidget(self.layout_box)
        self.area = PanelArea(self._wire)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(head)
        lay.addWidget(self.area, 1)
        self.layoutid = ""

    def _picked(self, i: int) -> None:
        self.wall.layoutPicked.emit(self.divaid, self.index, str(self.layout_box.itemData(i)))

    def show_monitor(self, mon: MonitorState) -> None:
        shape = self.wall.site.layouts.get(mon.layoutid)
        if shape is None:
            return
        self.layoutid = mon.layoutid
        self.layout_box.setCurrentIndex(max(0, self.layout_box.findData(mon.layoutid)))
        self.area.set_layout_shape(shape)
        for pid, w in self.area.panels.items():
            key = mon.cameras.get(pid, "")
            cam = self.wall.site.cameras.get(key)
            w.show_camera(key, (cam.name + ("  ⟲ PTZ" if cam.ptz else "")) if cam else "")
            w.set_prop("pending", (self.divaid, self.index, mon.layoutid, pid) in self.wall.pending)

    def _wire(self, pid: str, w: PanelWidget) -> None:
        w.dropped.connect(lambda key: self.wall.cameraDropped.emit(self.divaid, self.index, self.layoutid, pid, key))
        w.clicked.connect(
            lambda: self.wall.panelSelected.emit(self.divaid, self.index, self.layoutid, pid, w.camera_key)
        )


class VideoWall(QWidget):
    multiLayoutPicked = Signal(str, str)  # divaid, multilayoutid
    cameraDropped = Signal(str, int, str, str, str)
    layoutPicked = Signal(str, int, str)
    panelSelected = Signal(str, int, str, str, str)

    def __init__(self) -> None:
        super().__init__()
        self.site = Site()
        self.monitors: dict[tuple[str, int], MonitorWidget] = {}
        self.pending: set[tuple[str, int, str, str]] = set()
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.hint = QLabel("Waiting for the wall (getLayoutStatus)…")
        self.grid.addWidget(self.hint, 0, 0)

    def show_wall(self, site: Site, viewers: list[ViewerState]) -> None:
        self.site = site
        if self.hint is not None:
            self.hint.deleteLater()
            self.hint = None  # type: ignore[assignment]
        for row, v in enumerate(viewers):
            for mon in v.monitors:
                key = (v.divaid, mon.index)
                if key not in self.monitors:
                    w = MonitorWidget(self, v, mon)
                    self.monitors[key] = w
                    if mon.index == 0:
                        self.grid.addWidget(self._viewer_header(v), row * 2, 0, 1, 2)
                    self.grid.addWidget(w, row * 2 + 1, mon.index)
                self.monitors[key].show_monitor(mon)

    def _viewer_header(self, v: ViewerState) -> QWidget:
        head = QWidget()
        row = QHBoxLayout(head)
        row.setContentsMargins(0, 0, 0, 0)
        title = QLabel(f"▣ {v.name}")
        title.setObjectName("TileTitle")
        row.addWidget(title)
        row.addStretch(1)
        box = QComboBox()
        box.setToolTip("Show a multilayout on all monitors of this viewer (selectMultiLayout)")
        box.addItem("Multilayout…", "")
        for mid, name, divaid in self.site.multilayouts:
            if divaid in ("", v.divaid):
                box.addItem(name, mid)
        box.activated.connect(lambda i: self._multi(v.divaid, box, i))
        row.addWidget(box)
        return head

    def _multi(self, divaid: str, box: QComboBox, i: int) -> None:
        mid = str(box.itemData(i) or "")
        box.setCurrentIndex(0)
        if mid:
            self.multiLayoutPicked.emit(divaid, mid)
