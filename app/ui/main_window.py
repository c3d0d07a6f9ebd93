"""The console's main window: the redundancy strip on top, the wall in the middle, cameras, PTZ, actions,
alarms, events, the system log and the command log in docks; the shared workflows (alarms, tours, PTZ control)
through an OpsClient beside the RedundantClient. It owns every task its slots start and cancels them on
close; all network work goes through the RedundantClient, never on the UI thread's time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QWidget,
)

from ..client import Outcome, RedundantClient, SystemView
from ..client.ops import OpsClient
from ..client.ops_model import OpsState, TourDefinition
from ..client.playback import after_action
from ..client.site import Site, ViewerState, parse_presets, parse_site, parse_wall
from ..client.view import Change, now_text
from ..client.watch import EventRecord
from ..sense import ResultCode
from .actions import ActionPanel
from .alarms import AlarmPanel
from .bridge import ClientBridge
from .cameras import CameraTree
from .events import EventList
from .log import CommandLog
from .ops_bridge import OpsBridge
from .pictures import PictureFeed
from .ptz import PtzPad
from .settings import ConsoleSettings, SettingsError, tour_from_dict
from .steering import HeldMove, Move
from .strip import RedundancyStrip
from .wall import VideoWall

log = logging.getLogger(__name__)
WALL_EVENTS = {"CameraSelected", "LayoutSelected", "MultiLayoutSelected", "ServerTakeover", "ServerFailback"}


class MainWindow(QMainWindow):
    """Signals: wallShown() once the wall has been drawn from the server's state."""

    wallShown = Signal()

    def __init__(
        self,
        client: RedundantClient,
        station: str,
        demo: Any = None,
        viewers: list[str] | None = None,
        settings: ConsoleSettings | None = None,
        settings_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.bridge = ClientBridge(client)
        self.settings = settings or ConsoleSettings(
            station=station, viewers=list(viewers or []), ptz_priority=client.s.ptz_priority
        )
        self.settings_file = settings_file  # where the tour editor saves (None: the user's settings file)
        self.station = station
        pair = client.s.pair
        # A pair owns its tours together: whichever console of it is in control drives them.
        self.ops = OpsClient(client, station, pair.name if pair else station, self.settings.ptz_priority)
        self.ops_bridge = OpsBridge(self.ops)
        self.ops_state = OpsState()
        self.tours: list[TourDefinition] = self._tour_definitions()
        self.demo = demo
        self.site = Site()
        self.viewers: list[ViewerState] = []
        self.dome: str = ""  # the selected PTZ camera's key
        self.selected_panel: tuple[str, int, str, str] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.setWindowTitle(f"SenseTwin — {station}" + (" — DEMO" if demo else ""))
        self.strip = RedundancyStrip()
        self.resize(1500, 920)

        self.feed = PictureFeed(client)
        self.wall = VideoWall(self.feed, viewers)
        self.wall.tour_names = [d.name for d in self.tours]
        bar = QToolBar("Redundancy")
        bar.setObjectName("Redundancy")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.addWidget(self.strip)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)  # full width, above the docks
        self.setCentralWidget(self.wall)

        self.cameras = CameraTree()
        self.ptz = PtzPad()
        self.feed.add(self.cameras.preview)
        self.feed.add(self.ptz.view)
        self.action_panel = ActionPanel()
        self.events = EventList()
        self.system_log = QListWidget()
        self.command_log = CommandLog()
        self.alarms = AlarmPanel(_alarm_sound())
        self.feed.add(self.alarms.view)
        self._dock("Cameras", self.cameras, Qt.DockWidgetArea.LeftDockWidgetArea)
        ptz_dock = self._dock("PTZ", self.ptz, Qt.DockWidgetArea.RightDockWidgetArea)
        act_dock = self._dock("Actions", self.action_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(ptz_dock, act_dock)
        ptz_dock.raise_()
        log_dock = self._dock("Command log", self.command_log, Qt.DockWidgetArea.BottomDockWidgetArea)
        sys_dock = self._dock("System changes", self.system_log, Qt.DockWidgetArea.BottomDockWidgetArea)
        ev_dock = self._dock("Events", self.events, Qt.DockWidgetArea.BottomDockWidgetArea)
        # Alarms beside the logs (not a tab behind them): a new alarm is seen without a click.
        self.alarm_dock = self._dock("Alarms", self.alarms, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(log_dock, sys_dock)
        self.tabifyDockWidget(sys_dock, ev_dock)
        log_dock.raise_()
        # The wall with its pictures gets the room; the alarms and logs a strip below it.
        self.resizeDocks([log_dock], [230], Qt.Orientation.Vertical)
        self.resizeDocks([log_dock, self.alarm_dock], [450, 1050], Qt.Orientation.Horizontal)
        self.resizeDocks([ptz_dock], [360], Qt.Orientation.Horizontal)

        self._menus()
        self.bridge.viewChanged.connect(self._on_view)
        self.bridge.changed.connect(self._on_change)
        self.bridge.outcome.connect(self.command_log.record)
        self.bridge.eventArrived.connect(self._on_event)
        # The watch tells of changes only: what it learnt before this window subscribed (a console whose peer link
        # or first answers came before the window was built) is shown now, not at the next change.
        self._on_view(client.view.snapshot())
        for c in client.changes:
            self._log_change(c)
        self.wall.cameraDropped.connect(self.drop_camera)
        self.wall.layoutPicked.connect(
            lambda d, m, lid: self.spawn(self.act_on_wall("selectLayout", divaid=d, monitorindex=m, layoutid=lid))
        )
        self.wall.panelSelected.connect(self._panel_selected)
        self.wall.multiLayoutPicked.connect(
            lambda d, mid: self.spawn(self.act_on_wall("selectMultiLayout", divaid=d, multilayoutid=mid))
        )
        self.wall.playbackRequested.connect(lambda d, steps: self.spawn(self.playback_steps(d, steps)))
        self.wall.stationsShown.connect(self._refresh_timer_start)
        self.cameras.cameraChosen.connect(self.choose_camera)
        self.ptz.moveRequested.connect(self._ptz_move)
        self.ptz.recall.connect(lambda n: self.spawn(self._preset("gotoPreset", n)))
        self.ptz.store.connect(lambda n: self.spawn(self._preset("setPreset", n)))
        self.action_panel.execute.connect(
            lambda name, params: self.spawn(self.act("executeAction", actionname=name, **params))
        )
        self.ops_bridge.stateChanged.connect(self._on_ops)
        self.ops_bridge.lines.connect(self._on_ops_lines)
        self.alarms.acknowledgeRequested.connect(lambda aid, text: self.spawn(self.acknowledge(aid, text)))
        self.alarms.closeRequested.connect(lambda aid, text: self.spawn(self.close_alarm(aid, text)))
        self.wall.tourStartRequested.connect(lambda d, lid, pid, name: self.spawn(self.start_tour(name, d, lid, pid)))
        self.wall.tourControlRequested.connect(lambda action, run: self.spawn(self.control_tour(action, run)))
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.timeout.connect(lambda: self.spawn(self.refresh_wall()))
        self._position_timer = QTimer(self)
        self._position_timer.timeout.connect(lambda: self.spawn(self._read_position()))
        # The OpsClient tells of a new holder, not of every second counted down: "in use by X (12 s)" is redrawn
        # from its latest poll.
        self._taken_told: set[tuple[str, str, str]] = set()  # (serverid, cameraid, taker) already told
        self._ptz_clock = QTimer(self)
        self._ptz_clock.timeout.connect(lambda: self._show_ptz_control(self.ops.state))
        self._ptz_clock.start(1000)
        # A held move (pad, keyboard, joystick) goes again every few seconds, so the manager's control does not
        # lapse under the operator's hand and another console does not take the dome mid-move.
        self._held = HeldMove(lambda key, m: self.spawn(self.ptz_move(key, round(m.pan), round(m.tilt), round(m.zoom))))
        self._held_timer = QTimer(self)
        self._held_timer.timeout.connect(lambda: self._held.tick(self.dome))
        self._held_timer.start(500)
        self._keys()
        self.statusBar().showMessage("Connecting to the managers…")
        self.feed.start()
        self.spawn(self.load())
        self.spawn(self.ops.start())

    # -- plumbing --------------------------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        d = QDockWidget(title, self)
        d.setObjectName(title)
        d.setWidget(widget)
        self.addDockWidget(area, d)
        return d

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("console task failed: %r", exc)
            self.statusBar().showMessage(f"Error: {exc}", 10000)

    def _refresh_timer_start(self) -> None:
        self._refresh_timer.start(0)

    async def shutdown(self) -> None:
        self.feed.stop()
        await self.feed.wait_stopped()
        await self.ops.close()
        if shiboken6.isValid(self.alarms):  # a closed window's widgets may be gone already (tests delete them)
            self.alarms.stop_sound()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    def _menus(self) -> None:
        file = self.menuBar().addMenu("&File")
        settings = QAction("&Settings…", self)
        settings.triggered.connect(self.open_settings)
        export = QAction("&Export command log as CSV…", self)
        export.triggered.connect(self.export_log)
        quit_ = QAction("&Quit", self)
        quit_.setShortcut(QKeySequence.StandardKey.Quit)
        quit_.triggered.connect(self.close)
        for a in (settings, export, quit_):
            file.addAction(a)
        tours = self.menuBar().addMenu("&Tours")
        edit = QAction("&Edit tours…", self)
        edit.triggered.connect(self.edit_tours)
        tours.addAction(edit)
        self.tours_menu = tours
        if self.demo is not None:
            from .demo_menu import add_demo_menu

            add_demo_menu(self, self.demo)

    def _keys(self) -> None:
        """Window shortcuts; the CCTV keyboard (digits, Enter, F-keys, arrows, +/-) and the joystick are
        app.ui.controls (Help › Keyboard and joystick lists them)."""
        from .controls import WindowControls

        QShortcut(QKeySequence("Ctrl+F"), self, self.cameras.filter.setFocus)
        for n in range(1, 10):  # Alt: plain digits are camera numbers
            QShortcut(QKeySequence(f"Alt+{n}"), self, lambda n=n: self._pick_panel(n))
        QShortcut(QKeySequence("Return"), self, self._send_to_selected_panel)  # digits first: a camera number
        self.controls = WindowControls(self)

    # -- loading and refreshing ------------------------------------------------------------------------

    async def load(self) -> None:
        """Read the site once the system answers; retry quietly until it does."""
        while True:
            try:
                reads = [
                    await self.client.read(c)
                    for c in ("getDivaList", "getDeviceList", "getLayoutList", "getMultiLayoutList", "getActionList")
                ]
                self.site = parse_site(*reads)
                break
            except Exception as exc:
                self.statusBar().showMessage(f"Waiting for the system: {exc}")
                await asyncio.sleep(1.0)
        self.cameras.show_site(self.site)
        self.action_panel.show_actions(self.site.actions)
        await self.refresh_wall()

    async def refresh_wall(self) -> None:
        try:
            self.viewers = parse_wall(await self.client.read("getLayoutStatus"))
        except Exception as exc:
            self.statusBar().showMessage(f"Wall not refreshed: {exc}", 5000)
            return
        for v in self.viewers:
            if v.playback_known:
                self.wall.set_playback(v.divaid, v.playback)
        self.wall.show_wall(self.site, self.viewers)
        self.wallShown.emit()

    # -- the operator's actions ------------------------------------------------------------------------

    async def act(self, command: str, **params: object) -> Outcome:
        o = await self.client.act(command, **params)
        msg = f"{command}: {o.message}"
        self.statusBar().showMessage(msg, 8000)
        if o.in_doubt or (o.result is None and o.failure):
            QMessageBox.warning(self, "Action not confirmed", f"{command} (uid {o.uid}):\n\n{o.message}")
        return o

    async def playback_steps(self, divaid: str, steps: list[tuple[str, dict[str, object]]]) -> None:
        """A playback button's actions for one viewer station, in order, each with its uid; stops at the first
        that does not succeed. The panels follow the station's playback time (getHistoricalImage)."""
        reported = any(v.playback_known for v in self.viewers if v.divaid == divaid)
        for command, params in steps:
            o = await self.act(command, **params)
            if not o.ok:
                break
            if not reported:  # a server that does not report playback: the console keeps its own account
                self.wall.set_playback(divaid, after_action(self.wall.playback.get(divaid), command, o.params))
        await self.refresh_wall()

    async def act_on_wall(self, command: str, **params: object) -> Outcome:
        """An action that changes the wall: redraw it from the server's state, not only when its event arrives."""
        o = await self.act(command, **params)
        await self.refresh_wall()
        return o

    def drop_camera(self, divaid: str, monitor: int, layoutid: str, panelid: str, key: str) -> None:
        cam = self.site.cameras.get(key)
        if cam is None:
            return
        slot = (divaid, monitor, layoutid, panelid)
        self.wall.pending.add(slot)
        self.wall.show_wall(self.site, self.viewers)

        async def run() -> None:
            try:
                await self.act(
                    "selectCamera",
                    cameraview=f"serverid:{cam.serverid};cameraid:{cam.deviceid}",
                    layoutid=layoutid,
                    panelid=panelid,
                    divaid=divaid,
                )
            finally:
                self.wall.pending.discard(slot)
                await self.refresh_wall()

        self.spawn(run())

    def _panel_selected(self, divaid: str, monitor: int, layoutid: str, panelid: str, key: str) -> None:
        self.selected_panel = (divaid, monitor, layoutid, panelid)
        for (d, m), w in self.wall.monitors.items():
            for pid, pw in w.area.panels.items():
                pw.set_prop("selected", (d, m, w.layoutid, pid) == self.selected_panel)
        cam = self.site.cameras.get(key)
        if cam is not None and cam.ptz:
            self.choose_camera(key)

    def _pick_panel(self, n: int) -> None:
        mon = self.selected_panel[:2] if self.selected_panel else next(iter(self.wall.monitors), None)
        w = self.wall.monitors.get(mon) if mon else None
        if w is None:
            return
        pids = list(w.area.panels)
        if 0 < n <= len(pids):
            self._panel_selected(w.divaid, w.index, w.layoutid, pids[n - 1], w.area.panels[pids[n - 1]].camera_key)

    def _send_to_selected_panel(self) -> None:
        item = self.cameras.tree.currentItem()
        key = item.data(0, Qt.ItemDataRole.UserRole) if item else None
        if self.selected_panel and key:
            self.drop_camera(*self.selected_panel, str(key))

    def choose_camera(self, key: str) -> None:
        cam = self.site.cameras.get(key)
        if cam is None or not cam.ptz:
            return
        if self._held.active and self._held.dome != key:
            # A move still held on the dome we leave: stop it, or it keeps moving with nobody at its controls.
            self.spawn(self.ptz_move(self._held.dome, 0, 0, 0))
            self._held.clear()
        self.dome = key
        self.ptz.view.show_camera(key, f"⟲ {cam.name}", cam)

        async def run() -> None:
            try:
                presets = parse_presets(
                    await self.client.read("getOptions", serverid=cam.serverid, cameraid=cam.deviceid)
                )
            except Exception as exc:
                presets = {}
                self.statusBar().showMessage(f"Presets of {cam.name} not read: {exc}", 5000)
            self.ptz.show_dome(cam.name, presets)
            self._show_ptz_control(self.ops.state)  # who holds this dome, at once
            self._position_timer.start(500)
            await self._read_position()

        self.spawn(run())

    async def _read_position(self) -> None:
        cam = self.site.cameras.get(self.dome)
        if cam is None:
            return
        with contextlib.suppress(Exception):
            r = await self.client.read("getPosition", serverid=cam.serverid, cameraid=cam.deviceid)
            self.ptz.show_position(r.text("pan"), r.text("tilt"), r.text("zoom"))

    def _ptz_move(self, pan: int, tilt: int, zoom: int) -> None:
        """Every move of the pad, the keyboard and the joystick: sent to the selected dome, and a non-zero one kept
        alive (sent again every few seconds) until a stop or another dome."""
        cam = self.site.cameras.get(self.dome)
        if cam is None:
            self._held.clear()
            return
        self.spawn(self.ptz_move(self.dome, pan, tilt, zoom))
        self._held.sent(self.dome, Move(pan, tilt, zoom))

    async def ptz_move(self, key: str, pan: int, tilt: int, zoom: int) -> Outcome:
        """A move of the dome (the client adds this console's name and PTZ priority); a refusal because another
        console steers it shows on the pad in the manager's words."""
        cam = self.site.cameras[key]
        o = await self.act(
            "setRelativePosition", serverid=cam.serverid, deviceid=cam.deviceid, pan=pan, tilt=tilt, zoom=zoom
        )
        if key == self.dome and o.result is not None and o.result.errorcode == ResultCode.PTZ_IN_USE:
            self.ptz.show_refusal(o.result.message())
        elif key == self.dome and o.ok:
            self.ptz.show_refusal("")
        return o

    async def _preset(self, command: str, n: int) -> None:
        cam = self.site.cameras.get(self.dome)
        if cam is None:
            return
        await self.act(command, serverid=cam.serverid, cameraid=cam.deviceid, preset=n)
        await self._read_position()
        if command == "setPreset":
            self.choose_camera(self.dome)

    # -- what the system says --------------------------------------------------------------------------

    def _on_view(self, view: SystemView) -> None:
        self.strip.show_view(view)
        self.statusBar().showMessage(view.summary())

    def _log_change(self, c: Change) -> None:
        self.system_log.insertItem(0, f"{c.at}  {c.text}")

    def _on_change(self, c: Change) -> None:
        self._log_change(c)
        if "is active" in c.text and "server" in c.part:
            self._refresh_timer.start(150)

    def _on_event(self, e: EventRecord) -> None:
        self.events.add(e)
        if e.eventtype in WALL_EVENTS:
            self._refresh_timer.start(150)

    # -- the shared workflows: alarms, tours, PTZ control -------------------------------------------------

    def _on_ops(self, state: OpsState) -> None:
        old = {t.run: t.step for t in self.ops_state.tours}
        self.ops_state = state
        self.alarms.show_state(state, self.site)
        self.strip.show_alarms(state.unacknowledged, state.unacknowledged_high, state.error)
        self.wall.show_tours(state.tours)
        if any(old.get(t.run, -1) != t.step for t in state.tours if t.step >= 0):
            self._refresh_timer.start(150)  # a tour step switched a panel: redraw without waiting for its event
        self._show_ptz_control(state)

    def _show_ptz_control(self, state: OpsState) -> None:
        held = {
            f"{c.serverid}/{c.cameraid}": f"⟲ in use by {c.console} ({c.remaining} s)"
            for c in state.ptz.values()
            if c.console != self.ops.owner
        }
        self.wall.show_ptz(held)
        for ctl in state.ptz.values():  # a console of higher priority took a dome from us: say so, once
            taken = (ctl.serverid, ctl.cameraid, ctl.console)
            if ctl.tookfrom == self.ops.owner and ctl.console != self.ops.owner and taken not in self._taken_told:
                self._taken_told.add(taken)
                cam = self.site.cameras.get(f"{ctl.serverid}/{ctl.cameraid}")
                name = cam.name if cam else ctl.cameraid
                text = f"{ctl.console} (priority {ctl.priority}) took {name} from this console"
                self.statusBar().showMessage(text, 15000)
                self.command_log.note(now_text(), "⟲ PTZ", text)
                if cam is not None and cam.key == self.dome:
                    self.ptz.show_refusal(text)
        self._taken_told &= {(x.serverid, x.cameraid, x.console) for x in state.ptz.values()}
        cam = self.site.cameras.get(self.dome)
        if cam is not None:
            c = self.ops.holder(cam.serverid, cam.deviceid)
            if c is None:
                self.ptz.show_holder("", 0, 0, self.ops.ptz_priority)
            else:
                self.ptz.show_holder(c.console, c.remaining, c.priority, self.ops.ptz_priority)

    def _on_ops_lines(self, lines: list[str]) -> None:
        at = now_text()
        for line in lines:
            kind = line.split(" ", 1)[0]
            self.command_log.note(at, {"alarm": "⚑ alarm", "tour": "⟳ tour", "camera": "⟲ PTZ"}.get(kind, kind), line)

    async def acknowledge(self, alarm_id: str, comment: str) -> Outcome:
        o = await self.ops.acknowledge(alarm_id, comment)
        self.alarms.show_outcome(o.ok, o.message if not o.ok else f"acknowledged by {self.station}")
        self.statusBar().showMessage(f"acknowledgeAlarm: {o.message}", 8000)
        return o

    async def close_alarm(self, alarm_id: str, comment: str) -> Outcome:
        o = await self.ops.close_alarm(alarm_id, comment)
        self.alarms.show_outcome(o.ok, o.message if not o.ok else f"closed by {self.station}")
        self.statusBar().showMessage(f"closeAlarm: {o.message}", 8000)
        return o

    def _tour_definitions(self) -> list[TourDefinition]:
        """The tours of the settings; one that cannot be used is left out with a line in the log (settings
        loaded from a file were checked already)."""
        out = []
        for d in self.settings.tours:
            try:
                t = tour_from_dict(d)
                t.validate()
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                log.error("tour %r in the settings not usable: %s", d, exc)
                continue
            out.append(t)
        return out

    async def start_tour(self, name: str, divaid: str, layoutid: str, panelid: str) -> Outcome | None:
        d = next((t for t in self.tours if t.name == name), None)
        if d is None:
            return None
        try:
            o = await self.ops.start_tour(d, divaid, layoutid, panelid)
        except ValueError as exc:
            self.statusBar().showMessage(f"Tour {name} not started: {exc}", 8000)
            return None
        self.statusBar().showMessage(f"startTour {name}: {o.message}", 8000)
        return o

    async def control_tour(self, action: str, run: str) -> Outcome:
        fn = {"pause": self.ops.pause_tour, "resume": self.ops.resume_tour, "stop": self.ops.stop_tour}[action]
        o = await fn(run)
        self.statusBar().showMessage(f"{action} tour: {o.message}", 8000)
        return o

    def edit_tours(self) -> None:
        from .tours import edit_tours

        try:
            tours = edit_tours(self, self.settings, list(self.site.cameras.values()), self.settings_file)
        except (SettingsError, OSError) as exc:
            QMessageBox.warning(self, "Tours not saved", str(exc))
            return
        if tours is not None:
            self.set_tours(tours)

    def set_tours(self, tours: list[TourDefinition]) -> None:
        self.tours = list(tours)
        self.wall.tour_names = [t.name for t in self.tours]

    # -- file menu -------------------------------------------------------------------------------------

    def export_log(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export command log", "command-log.csv", "CSV (*.csv)")
        if path:
            n = self.command_log.export_csv(Path(path))
            self.statusBar().showMessage(f"{n} actions written to {path}", 6000)

    def open_settings(self) -> None:
        from .settings_dialog import SettingsDialog

        dialog = SettingsDialog(self, list(self.site.cameras.values()))
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.settings.tours = dialog.tours  # tours apply at once, the rest at the next start
            self.set_tours(self._tour_definitions())

    def closeEvent(self, e: Any) -> None:
        self.controls.close()
        self.feed.stop()
        self.alarms.stop_sound()
        self._ptz_clock.stop()
        self._held_timer.stop()
        self._position_timer.stop()
        self._refresh_timer.stop()
        for t in list(self._tasks):
            t.cancel()
        super().closeEvent(e)


def _alarm_sound() -> Any:
    """The alarm sound (app.ui.sound.AlarmSound) when it is there; without it the alarm list still works."""
    try:
        from .sound import AlarmSound
    except ImportError:
        return None
    try:
        return AlarmSound()
    except Exception as exc:  # no audio device: the list says so, the alarms still show
        log.warning("alarm sound not available: %s", exc)
        return None
