"""The video wall: this workstation's viewer stations (a picker switches to any other), their monitors, each
monitor's layout drawn as its panel grid with the camera's picture on each panel. Drop a camera on a panel to
select it there; pick a layout per monitor; play a station back; start, pause, resume and stop a camera tour from
a panel's context menu. A panel running a tour shows it (TOUR name 3/8, paused in amber), a dome another console
steers says so (in use by NAME).

Signals (VideoWall):
    cameraDropped(str divaid, int monitor, str layoutid, str panelid, str camera_key)
    layoutPicked(str divaid, int monitor, str layoutid)
    multiLayoutPicked(str divaid, str multilayoutid)
    panelSelected(str divaid, int monitor, str layoutid, str panelid, str camera_key)
    playbackRequested(str divaid, object steps)     steps: [(command, params), ...] to send in order
    stationsShown()                                 the wall was redrawn for other viewer stations
    tourStartRequested(str divaid, str layoutid, str panelid, str tour_name)
    tourControlRequested(str action, str run)       action: pause | resume | stop
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QMimeData, QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QContextMenuEvent, QDragEnterEvent, QDropEvent, QMouseEvent, QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QComboBox, QGridLayout, QHBoxLayout, QLabel, QMenu, QVBoxLayout, QWidget

from ..client.ops_model import TourRun
from ..client.playback import Playback
from ..client.site import LayoutShape, MonitorState, Site, ViewerState, own_viewers
from ..config import DEFAULTS
from .picture_view import PictureView
from .pictures import PictureFeed
from .playback import PlaybackBar

CAMERA_MIME = "application/x-sensetwin-camera"
# Tags over a panel's picture (on an opaque plate: readable over any picture, in both themes).
TAG_STYLE = {
    "running": "background: #1d4f8f; color: #ffffff; font-weight: bold; border-radius: 3px; padding: 1px 5px;",
    "paused": "background: #f0a020; color: #1a1200; font-weight: bold; border-radius: 3px; padding: 1px 5px;",
    "stalled": "background: #c0262d; color: #ffffff; font-weight: bold; border-radius: 3px; padding: 1px 5px;",
    "ptz": "background: #7a1f24; color: #ffe3e0; font-weight: bold; font-size: 8pt; border-radius: 3px; "
    "padding: 1px 4px;",
}


def tour_badge(t: TourRun) -> str:
    """TOUR name 3/8: the camera on the panel now (1-based) of the tour's cameras; paused and stalled runs say so."""
    n = len(t.steps)
    at = f"{t.step % n + 1}/{n}" if n and t.step >= 0 else f"–/{n}"
    if t.overdue > 0:  # first, so a narrow panel that cuts the badge still says it
        return f"⚠ TOUR STALLED {t.name} {at}"
    return (
        ("‖ TOUR " if t.state == "paused" else "▶ TOUR ")
        + f"{t.name} {at}"
        + (" PAUSED" if t.state == "paused" else "")
    )


def tour_style(t: TourRun) -> str:
    return "stalled" if t.overdue > 0 else t.state if t.state in TAG_STYLE else "running"


def tour_tip(t: TourRun) -> str:
    if t.overdue <= 0:
        return tour_badge(t)
    late = round(t.late)
    return (
        f"Tour {t.name}: no step for {late} s (dwell {t.dwell:g} s). The console that runs it ({t.owner or '?'}) "
        "and its pair are not driving it: stop it from this panel's menu, or start it again at a console."
    )


def camera_mime(key: str) -> QMimeData:
    m = QMimeData()
    m.setData(CAMERA_MIME, key.encode())
    m.setText(key)
    return m


class PanelWidget(PictureView):
    """One panel: its camera's picture (the feed fills it), the panel's and the camera's names over it."""

    dropped = Signal(str)
    clicked = Signal()
    menuRequested = Signal(QPoint)

    def __init__(self, name: str) -> None:
        super().__init__(name, "Panel", DEFAULTS.picture_interval)
        self.setAcceptDrops(True)
        self.tour_tag = QLabel("")
        self.tour_tag.setObjectName("PanelTour")
        self.ptz_tag = QLabel("")
        self.ptz_tag.setObjectName("PanelPtz")
        tags = QHBoxLayout()
        tags.setContentsMargins(0, 0, 0, 0)
        for tag in (self.tour_tag, self.ptz_tag):
            tag.hide()
            tags.addWidget(tag, 0, Qt.AlignmentFlag.AlignLeft)
        tags.addStretch(1)
        lay = self.layout()
        assert isinstance(lay, QBoxLayout)
        lay.insertLayout(1, tags)  # under the title and badge row

    def set_tag(self, tag: QLabel, text: str, style: str, tip: str = "") -> None:
        if tag.text() != text:
            tag.setText(text)
        if tag.toolTip() != (tip or text):
            tag.setToolTip(tip or text)
        if text and tag.styleSheet() != TAG_STYLE[style]:
            tag.setStyleSheet(TAG_STYLE[style])
        tag.setVisible(bool(text))

    def contextMenuEvent(self, e: QContextMenuEvent) -> None:
        self.menuRequested.emit(e.globalPos())

    def set_prop(self, name: str, value: bool) -> None:
        text = "true" if value else "false"
        if self.property(name) != text:
            self.setProperty(name, text)
            self.style().unpolish(self)
            self.style().polish(self)

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
        self.setMinimumSize(200, 112)
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
            w.show_camera(key, (cam.name + ("  ⟲ PTZ" if cam.ptz else "")) if cam else "", cam)
            w.set_prop("pending", (self.divaid, self.index, mon.layoutid, pid) in self.wall.pending)
        self.show_tags()

    def show_tags(self) -> None:
        for pid, w in self.area.panels.items():
            run = self.wall.runs.get((self.divaid, self.layoutid, pid))
            if run is None:
                w.set_tag(w.tour_tag, "", "running")
            else:
                w.set_tag(w.tour_tag, tour_badge(run), tour_style(run), tour_tip(run))
            w.set_tag(w.ptz_tag, self.wall.ptz_holders.get(w.camera_key, ""), "ptz")

    def _wire(self, pid: str, w: PanelWidget) -> None:
        divaid = self.divaid
        w.playback = lambda: self.wall.playback.get(divaid)
        if self.wall.feed is not None:
            self.wall.feed.add(w)
        w.dropped.connect(lambda key: self.wall.cameraDropped.emit(self.divaid, self.index, self.layoutid, pid, key))
        w.clicked.connect(
            lambda: self.wall.panelSelected.emit(self.divaid, self.index, self.layoutid, pid, w.camera_key)
        )
        w.menuRequested.connect(lambda at: self._menu(pid, at))

    def _menu(self, pid: str, at: QPoint) -> None:
        # popup, not exec: no nested event loop under qasync; the menu goes once it is closed.
        menu = self.wall.panel_menu(self.divaid, self.layoutid, pid)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(at)


class VideoWall(QWidget):
    multiLayoutPicked = Signal(str, str)  # divaid, multilayoutid
    cameraDropped = Signal(str, int, str, str, str)
    layoutPicked = Signal(str, int, str)
    panelSelected = Signal(str, int, str, str, str)
    playbackRequested = Signal(str, object)
    stationsShown = Signal()
    tourStartRequested = Signal(str, str, str, str)
    tourControlRequested = Signal(str, str)

    def __init__(self, feed: PictureFeed | None = None, wanted: list[str] | None = None) -> None:
        super().__init__()
        self.feed = feed
        self.wanted = list(wanted or [])  # the console's `viewers` setting: names or ids ([] = the default)
        self.site = Site()
        self.viewers: list[ViewerState] = []
        self.own: list[str] = []  # this workstation's stations (divaids)
        self.shown: list[str] = []  # the stations drawn now
        self.monitors: dict[tuple[str, int], MonitorWidget] = {}
        self.bars: dict[str, PlaybackBar] = {}
        self.playback: dict[str, Playback] = {}  # divaid -> its playback; absent = live
        self.pending: set[tuple[str, int, str, str]] = set()
        self.tour_names: list[str] = []  # the console's tours, offered in a panel's menu
        self.runs: dict[tuple[str, str, str], TourRun] = {}  # (divaid, layoutid, panelid) -> its running tour
        self.ptz_holders: dict[str, str] = {}  # camera key -> "in use by NAME (12 s)"
        self.picker = QComboBox()
        self.picker.setObjectName("StationPicker")
        self.picker.setToolTip("Which viewer stations the wall shows: this workstation's, or any other")
        self.picker.activated.connect(self._picked_station)
        top = QHBoxLayout()
        top.setContentsMargins(4, 4, 4, 0)
        label = QLabel("Viewer stations")
        label.setObjectName("TileTitle")
        top.addWidget(label)
        top.addWidget(self.picker, 1)
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(0, 0, 0, 0)
        self.outer.addLayout(top)
        self.body = QWidget()
        self.grid = QGridLayout(self.body)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.hint: QLabel | None = QLabel("Waiting for the wall (getLayoutStatus)…")
        self.grid.addWidget(self.hint, 0, 0)
        self.outer.addWidget(self.body, 1)
        self._picker_ids: list[str] = []
        self._clock = QTimer(self)
        self._clock.timeout.connect(self._tick_bars)
        self._clock.start(1000)

    # -- which stations ---------------------------------------------------------------------------------

    def show_stations(self, divaids: list[str]) -> None:
        """Draw these stations (the picker's choice); the next show_wall fills them."""
        self.shown = [d for d in divaids if any(v.divaid == d for v in self.viewers)] or self.own
        self._rebuild()
        self.stationsShown.emit()

    def _picked_station(self, i: int) -> None:
        data = str(self.picker.itemData(i) or "")
        self.show_stations(self.own if data == "own" else [data])

    def _fill_picker(self) -> None:
        ids = [v.divaid for v in self.viewers]
        if ids == self._picker_ids:
            return
        self._picker_ids = ids
        self.own = own_viewers(self.viewers, self.wanted, DEFAULTS.wall_all_viewers_up_to)
        names = [v.name for v in self.viewers if v.divaid in self.own]
        self.picker.clear()
        own_label = f"All stations ({len(names)})" if len(self.own) == len(ids) > 1 else "This workstation"
        self.picker.addItem(f"{own_label}: {', '.join(names)}", "own")
        for v in self.viewers:
            self.picker.addItem(f"▣ {v.name}", v.divaid)
        if not self.shown or not set(self.shown) <= set(ids):
            self.shown = self.own

    # -- drawing --------------------------------------------------------------------------------------

    def show_wall(self, site: Site, viewers: list[ViewerState]) -> None:
        if not site.layouts:
            return  # the site is not read yet (a wall read can come first): nothing to draw panels with
        new_site = site is not self.site
        self.site, self.viewers = site, viewers
        self._fill_picker()
        built = {d for d, _ in self.monitors}
        if new_site or built != set(self.shown) or self.hint is not None:
            self._rebuild()
        for v in viewers:
            if v.divaid not in self.shown:
                continue
            for mon in v.monitors:
                w = self.monitors.get((v.divaid, mon.index))
                if w is not None:
                    w.show_monitor(mon)
            bar = self.bars.get(v.divaid)
            if bar is not None:
                bar.show_state(self.playback.get(v.divaid))

    def _rebuild(self) -> None:
        self.outer.removeWidget(self.body)
        self.body.deleteLater()
        self.hint = None
        self.body = QWidget()
        self.grid = QGridLayout(self.body)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.outer.addWidget(self.body, 1)
        self.monitors, self.bars = {}, {}
        row = 0
        for v in self.viewers:
            if v.divaid not in self.shown:
                continue
            # Up to three monitors side by side, more in rows of two (four monitors of a desk as a 2×2 block
            # keep the panels' shape).
            cols = len(v.monitors) if len(v.monitors) <= 3 else 2
            self.grid.addWidget(self._viewer_header(v), row, 0, 1, max(1, cols))
            for i, mon in enumerate(v.monitors):
                w = MonitorWidget(self, v, mon)
                self.monitors[(v.divaid, mon.index)] = w
                self.grid.addWidget(w, row + 1 + i // max(1, cols), i % max(1, cols))
                w.show_monitor(mon)
            row += 1 + -(-len(v.monitors) // max(1, cols))

    def _viewer_header(self, v: ViewerState) -> QWidget:
        head = QWidget()
        row = QHBoxLayout(head)
        row.setContentsMargins(0, 0, 0, 0)
        title = QLabel(f"▣ {v.name}")
        title.setObjectName("TileTitle")
        row.addWidget(title)
        bar = PlaybackBar(v.divaid)
        bar.requested.connect(self.playbackRequested.emit)
        bar.show_state(self.playback.get(v.divaid))
        self.bars[v.divaid] = bar
        row.addWidget(bar, 1)
        box = QComboBox()
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(10)
        box.setToolTip("Show a multilayout on all monitors of this viewer (selectMultiLayout)")
        box.addItem("Multilayout…", "")
        for mid, name, divaid in self.site.multilayouts:
            if divaid in ("", v.divaid):
                box.addItem(name, mid)
        box.activated.connect(lambda i: self._multi(v.divaid, box, i))
        row.addWidget(box)
        return head

    def set_playback(self, divaid: str, state: Playback | None) -> None:
        old = self.playback.get(divaid)
        if state is None:
            self.playback.pop(divaid, None)
        else:
            self.playback[divaid] = state
        if _jumped(old, state):  # the station went to another moment: its panels ask for it at once
            for (d, _), mon in self.monitors.items():
                if d == divaid:
                    for p in mon.area.panels.values():
                        p.due = 0.0
        bar = self.bars.get(divaid)
        if bar is not None:
            bar.show_state(state)

    def _tick_bars(self) -> None:
        for divaid, bar in self.bars.items():
            pb = self.playback.get(divaid)
            if pb is not None and bar.isVisible():
                bar.status.setText(pb.label())
                bar.status.setToolTip(pb.label())

    # -- tours and PTZ control ------------------------------------------------------------------------

    def show_tours(self, runs: list[TourRun]) -> None:
        """The running and paused tours (stopped ones are gone): each on its panel's badge."""
        self.runs = {(t.divaid, t.layoutid, t.panelid): t for t in runs if t.state in ("running", "paused")}
        for mon in self.monitors.values():
            mon.show_tags()

    def show_ptz(self, holders: dict[str, str]) -> None:
        """Domes another console steers: camera key -> what the panel says."""
        if holders != self.ptz_holders:
            self.ptz_holders = dict(holders)
            for mon in self.monitors.values():
                mon.show_tags()

    def panel_menu(self, divaid: str, layoutid: str, panelid: str) -> QMenu:
        """A panel's context menu: Start tour ▸ <name>; for a panel running one, Pause/Resume/Stop tour."""
        menu = QMenu(self)
        run = self.runs.get((divaid, layoutid, panelid))
        start = menu.addMenu("Start tour")
        start.setObjectName("StartTour")
        for name in self.tour_names:
            act = QAction(name, start)
            act.triggered.connect(
                lambda _=False, name=name: self.tourStartRequested.emit(divaid, layoutid, panelid, name)
            )
            start.addAction(act)
        if not self.tour_names:
            none = start.addAction("No tours yet: Tours › Edit tours…")
            none.setEnabled(False)
        if run is not None:
            start.setEnabled(False)
            start.setTitle(f"Start tour (stop {run.name} first)")
            menu.addSeparator()
            if run.state == "paused":
                actions = [("resume", f"Resume tour {run.name}")]
            else:
                actions = [("pause", f"Pause tour {run.name}")]
            actions.append(("stop", f"Stop tour {run.name}"))
            for action, label in actions:
                act = QAction(label, menu)
                act.setData(action)
                act.triggered.connect(lambda _=False, a=action: self.tourControlRequested.emit(a, run.run))
                menu.addAction(act)
        return menu

    def panels(self) -> list[PanelWidget]:
        return [p for m in self.monitors.values() for p in m.area.panels.values()]

    def _multi(self, divaid: str, box: QComboBox, i: int) -> None:
        mid = str(box.itemData(i) or "")
        box.setCurrentIndex(0)
        if mid:
            self.multiLayoutPicked.emit(divaid, mid)


def _jumped(old: Playback | None, new: Playback | None) -> bool:
    if old is None or new is None:
        return old is not new
    return old.speed != new.speed or abs((old.at() - new.at()).total_seconds()) > 1.5
