"""The alarm sound through SDL audio on its disk driver: bytes reach the device while an alarm is active and not
silenced, none while silenced or stopped; without an audio device it never raises."""

from __future__ import annotations

import array
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.ui import sdl
from app.ui.sound import RATE, AlarmSound, alarm_tone


@pytest.fixture
def disk_audio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    try:
        sdl.load()
    except sdl.SdlUnavailable as exc:
        pytest.skip(str(exc))
    out = tmp_path / "alarm.raw"
    # SDL reads these when its audio subsystem starts, i.e. in AlarmSound(); the disk driver writes in real time.
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(out))
    yield out


def size(p: Path) -> int:
    return p.stat().st_size if p.exists() else 0


def queued(sound: AlarmSound) -> int:
    s = sdl.load()
    return int(s.SDL_GetQueuedAudioSize(sound._device))


def test_the_tone_is_one_second_of_two_beeps_and_a_pause() -> None:
    pcm = array.array("h")
    pcm.frombytes(alarm_tone())
    assert len(pcm) == RATE
    assert max(pcm) > 10_000  # audible
    assert all(v == 0 for v in pcm[int(RATE * 0.45) :])  # then quiet
    assert abs(pcm[0]) < 200  # faded in: no click


def test_an_active_alarm_sounds_until_stopped(qtbot: QtBot, disk_audio: Path) -> None:
    sound = AlarmSound()
    try:
        assert sound.available, sound.error
        assert not sound.active
        sound.start()
        assert sound.active and sound.sounding
        qtbot.waitUntil(lambda: size(disk_audio) > RATE, timeout=5000)  # more than half a second written
        written = sound.queued_bytes
        qtbot.waitUntil(lambda: sound.queued_bytes > written, timeout=5000)  # and it repeats
        sound.stop()
        assert not sound.active and queued(sound) == 0
    finally:
        sound.close()


def test_silenced_it_is_quiet_then_sounds_again_while_still_active(qtbot: QtBot, disk_audio: Path) -> None:
    sound = AlarmSound()
    try:
        sound.start()
        qtbot.waitUntil(lambda: size(disk_audio) > 0, timeout=5000)
        with qtbot.waitSignal(sound.changed):
            sound.silence(1.0)
        assert sound.silenced and not sound.sounding
        assert sound.silenced_until is not None
        assert queued(sound) == 0
        handed = sound.queued_bytes
        qtbot.wait(600)  # within the silence
        assert sound.queued_bytes == handed and queued(sound) == 0
        qtbot.waitUntil(lambda: sound.queued_bytes > handed, timeout=3000)  # the silence ended, still active
        assert sound.sounding and sound.silenced_until is None
    finally:
        sound.close()


def test_an_alarm_raised_while_silenced_waits_for_the_silence_to_end(qtbot: QtBot, disk_audio: Path) -> None:
    sound = AlarmSound()
    try:
        sound.silence(0.5)
        sound.start()
        assert sound.active and not sound.sounding and sound.queued_bytes == 0
        qtbot.waitUntil(lambda: sound.queued_bytes > 0, timeout=3000)
    finally:
        sound.close()


def test_stop_ends_the_silence_too(qtbot: QtBot, disk_audio: Path) -> None:
    sound = AlarmSound()
    try:
        sound.start()
        sound.silence(30)
        sound.stop()
        assert sound.silenced_until is None
        sound.start()
        assert sound.sounding and sound.queued_bytes > 0
    finally:
        sound.close()


def test_without_an_audio_device_it_never_raises(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        sdl.load()
    except sdl.SdlUnavailable as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv("SDL_AUDIODRIVER", "no-such-driver")
    sound = AlarmSound()
    assert not sound.available
    assert sound.error and "\n" not in sound.error
    sound.start()
    sound.silence(1)
    sound.stop()
    sound.start()
    assert sound.active and not sound.sounding
    sound.close()


def test_without_sdl_at_all_it_never_raises(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> object:
        raise sdl.SdlUnavailable("SDL2 could not be loaded (no library); install PySDL2 and pysdl2-dll")

    monkeypatch.setattr(sdl, "load", broken)
    sound = AlarmSound()
    assert not sound.available and "SDL2 could not be loaded" in sound.error
    sound.start()
    assert sound.active
    sound.close()
