"""The execution journal: one JSON line per executed action, written before the answer leaves.

It is the truth every redundancy test counts against. Each line goes out in a single O_APPEND write, so
both servers of a pair may share one file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path


class Journal:
    def __init__(self, path: str | Path | None, server: str) -> None:
        self.path = Path(path) if path else None
        self.server = server
        self._fd: int | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, uid: str | None, command: str, params: dict[str, str], epoch: int = 0) -> None:
        if self._fd is None:
            return
        at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        line = json.dumps(
            {"uid": uid, "command": command, "params": params, "server": self.server, "epoch": epoch, "at": at},
            ensure_ascii=False,
            sort_keys=True,
        )
        os.write(self._fd, (line + "\n").encode("utf-8"))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_journal(path: str | Path) -> list[dict[str, object]]:
    """All entries of a journal file (a missing file is an empty journal)."""
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
