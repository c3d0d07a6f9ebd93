"""Uids for operator actions: unique across consoles, restarts and clocks going back; URL-safe; at most 64
characters; the station name readable in them.

`STATION-BOOT-COUNTER`: BOOT is 48 random bits drawn at start (no clock involved), COUNTER counts up.
"""

from __future__ import annotations

import itertools
import re
import secrets

MAX_LENGTH = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def station_slug(station: str) -> str:
    slug = _UNSAFE.sub("-", station.strip()).strip("-")
    return (slug or "console")[:32]


class UidSource:
    def __init__(self, station: str) -> None:
        self.prefix = f"{station_slug(station)}-{secrets.token_hex(6)}"
        self._counter = itertools.count(1)

    def next(self) -> str:
        uid = f"{self.prefix}-{next(self._counter):x}"
        assert len(uid) <= MAX_LENGTH
        return uid
