"""The alarm sound: a two-tone beep repeated while an unacknowledged high alarm is active, through SDL2 audio.

SDL2 (PySDL2 + pysdl2-dll) because the console already uses it for the joystick and QtMultimedia is not part of
PySide6-Essentials: one library, bundled binaries, on Linux and Windows. Without an audio device the sound is
`available = False` with an `error`, never raises, and the UI shows its visual alarm alone.

Signals:
    changed()   active or silenced changed
"""

from __future__ import annotations

import array
import logging
import math
import time
from collections.abc import Callable
from types import ModuleType

from PySide6.QtCore import QObject, QTimer, Signal

from ..config import DEFAULTS
from . import sdl

log = logging.getLogger(__name__)

RATE = 22050  # samples a second, mono, signed 16 bit: plenty for a beep


def alarm_tone(rate: int = RATE) -> bytes:
    """One second of the pattern: 960 Hz and 770 Hz for 0.2 s each, then 0.6 s of silence (native byte order)."""
    samples = array.array("h")
    fade = int(rate * 0.005)  # 5 ms ramps: no clicks at the edges of a beep
    for freq, seconds in ((960.0, 0.2), (770.0, 0.2)):
        n = int(rate * seconds)
        for i in range(n):
            ramp = min(1.0, i / fade, (n - 1 - i) / fade)
            samples.append(int(0.45 * 32767 * ramp * math.sin(2 * math.pi * freq * i / rate)))
    samples.extend([0] * int(rate * 0.6))
    return samples.tobytes()


class AlarmSound(QObject):
    """Sounds while `active` and not silenced. `start()`, `stop()`, `silence(seconds)`; `close()` frees the device."""

    changed = Signal()

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        self.active = False
        self.silenced_until: float | None = None
        self.error = ""
        self.queued_bytes = 0  # bytes handed to SDL so far (tests and diagnostics)
        self._pattern = alarm_tone()
        self._sdl: ModuleType | None = None
        self._device = 0
        self._timer = QTimer(self)
        self._timer.setInterval(round(DEFAULTS.alarm_refill * 1000))
        self._timer.timeout.connect(self._tick)
        try:
            sdl2 = sdl.init_subsystem(sdl.load().SDL_INIT_AUDIO, "alarm sound")
        except sdl.SdlUnavailable as exc:
            self._fail(str(exc))
            return
        want = sdl2.SDL_AudioSpec(RATE, sdl2.AUDIO_S16SYS, 1, 1024)
        got = sdl2.SDL_AudioSpec(0, 0, 0, 0)
        # No callback: audio is queued with SDL_QueueAudio; no changes allowed, so SDL converts to the device.
        self._device = int(sdl2.SDL_OpenAudioDevice(None, 0, want, got, 0))
        if self._device == 0:
            self._fail(f"alarm sound unavailable: no audio device ({sdl.error_text(sdl2)})")
            sdl2.SDL_QuitSubSystem(sdl2.SDL_INIT_AUDIO)
            return
        self._sdl = sdl2

    @property
    def available(self) -> bool:
        return self._sdl is not None

    @property
    def silenced(self) -> bool:
        return self.silenced_until is not None and self.clock() < self.silenced_until

    @property
    def sounding(self) -> bool:
        return self.active and not self.silenced and self.available

    def start(self) -> None:
        """An unacknowledged high alarm: sound (unless silenced) until `stop()`."""
        if self.active:
            return
        self.active = True
        self._timer.start()
        self._tick()
        self.changed.emit()

    def stop(self) -> None:
        """Every alarm acknowledged: quiet, and the silence is over (the next alarm sounds at once)."""
        was = self.active or self.silenced_until is not None
        self.active = False
        self.silenced_until = None
        self._timer.stop()
        self._quiet()
        if was:
            self.changed.emit()

    def silence(self, seconds: float = DEFAULTS.alarm_silence) -> None:
        """Quiet for `seconds`; then it sounds again if an alarm is still active."""
        self.silenced_until = self.clock() + seconds
        self._quiet()
        if self.active:
            self._timer.start()  # to notice the end of the silence
        self.changed.emit()

    def close(self) -> None:
        self._timer.stop()
        if self._sdl is not None:
            self._sdl.SDL_CloseAudioDevice(self._device)
            self._sdl.SDL_QuitSubSystem(self._sdl.SDL_INIT_AUDIO)
            self._sdl = None

    def _tick(self) -> None:
        if self.silenced_until is not None and not self.silenced:
            self.silenced_until = None
            self.changed.emit()
        if not self.sounding:
            return
        s = self._sdl
        assert s is not None
        # Keep about one pattern ahead of the device, so the beeps never gap and a stop is heard quickly.
        if int(s.SDL_GetQueuedAudioSize(self._device)) < len(self._pattern):
            if s.SDL_QueueAudio(self._device, self._pattern, len(self._pattern)) != 0:
                self._fail(f"alarm sound failed: {sdl.error_text(s)}")
                self.close()
                return
            self.queued_bytes += len(self._pattern)
        s.SDL_PauseAudioDevice(self._device, 0)

    def _quiet(self) -> None:
        if self._sdl is not None:
            self._sdl.SDL_PauseAudioDevice(self._device, 1)
            self._sdl.SDL_ClearQueuedAudio(self._device)

    def _fail(self, text: str) -> None:
        self.error = text
        log.warning("%s; the alarm is shown, not heard", text)
