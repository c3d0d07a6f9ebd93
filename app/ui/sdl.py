"""The one place the console loads SDL2 (PySDL2 + the pysdl2-dll wheel), for the joystick and the alarm sound.

SDL is optional at run time: when it cannot be loaded, `load()` raises `SdlUnavailable` with a one-line reason and
the console runs without a joystick and with a visual alarm only.
"""

from __future__ import annotations

import warnings
from types import ModuleType


class SdlUnavailable(RuntimeError):
    """SDL2 could not be loaded or a subsystem could not be started; the message says which and why."""


_sdl: ModuleType | None = None


def load() -> ModuleType:
    """The `sdl2` module, imported once; SdlUnavailable with the reason when it cannot be."""
    global _sdl
    if _sdl is not None:
        return _sdl
    try:
        with warnings.catch_warnings():
            # pysdl2 warns which SDL2 binary it picked ("Using SDL2 binaries from pysdl2-dll"): that is the plan.
            warnings.simplefilter("ignore")
            import sdl2
    except Exception as exc:  # ImportError, or RuntimeError when no SDL2 library is found
        raise SdlUnavailable(f"SDL2 could not be loaded ({exc}); install PySDL2 and pysdl2-dll") from exc
    module: ModuleType = sdl2
    _sdl = module
    return module


def init_subsystem(flags: int, what: str) -> ModuleType:
    """Start SDL subsystems (reference-counted by SDL, so joystick and sound can each start and quit theirs)."""
    sdl2 = load()
    if sdl2.SDL_InitSubSystem(flags) != 0:
        raise SdlUnavailable(f"{what} unavailable: SDL says {error_text(sdl2)}")
    return sdl2


def error_text(sdl2: ModuleType) -> str:
    raw = sdl2.SDL_GetError()
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text or "no reason given"
