"""The dedup store: every uid a manager has seen in the window, with the first answer, in SQLite.

It survives a restart (the file lives in the state dir), is bounded by a window and a capacity, and keeps
nothing in memory but SQLite's own page cache, so a million uids cost disk, not RAM.
"""

from __future__ import annotations

import enum
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path


class EntryState(enum.Enum):
    STARTED = "started"  # recorded before the action was forwarded
    DONE = "done"  # answered; `answer` is what every later copy gets


@dataclass(frozen=True)
class Entry:
    uid: str
    command: str
    params: str
    state: EntryState
    origin: str
    errorcode: int | None
    answer: bytes | None
    at: float


_SCHEMA = """
CREATE TABLE IF NOT EXISTS uids (
    uid TEXT PRIMARY KEY, command TEXT NOT NULL, params TEXT NOT NULL, state TEXT NOT NULL,
    origin TEXT NOT NULL, errorcode INTEGER, answer BLOB, at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uids_at ON uids(at);
"""


class DedupStore:
    def __init__(self, path: Path | None, window: float, capacity: int) -> None:
        self.window = window
        self.capacity = capacity
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", isolation_level=None)
        # WAL with synchronous=NORMAL: a write is in the OS before the call returns, so a kill -9 of the
        # manager loses nothing; only a power cut can lose the last moments.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._count = int(self._db.execute("SELECT COUNT(*) FROM uids").fetchone()[0])
        self._since_trim = 0

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        return self._count

    def get(self, uid: str) -> Entry | None:
        row = self._db.execute(
            "SELECT uid, command, params, state, origin, errorcode, answer, at FROM uids WHERE uid = ? AND at >= ?",
            (uid, time.time() - self.window),
        ).fetchone()
        if row is None:
            return None
        return Entry(row[0], row[1], row[2], EntryState(row[3]), row[4], row[5], row[6], row[7])

    def claim(self, uid: str, command: str, params: str, origin: str) -> Entry | None:
        """Record a uid as started, atomically. None: this caller won and must forward; else the entry that won."""
        now = time.time()
        self._db.execute("DELETE FROM uids WHERE uid = ? AND at < ?", (uid, now - self.window))
        cur = self._db.execute(
            "INSERT OR IGNORE INTO uids (uid, command, params, state, origin, at) VALUES (?, ?, ?, 'started', ?, ?)",
            (uid, command, params, origin, now),
        )
        if cur.rowcount == 1:
            self._added(1)
            return None
        return self.get(uid)

    def finish(self, uid: str, errorcode: int, answer: bytes) -> None:
        self._db.execute(
            "UPDATE uids SET state = 'done', errorcode = ?, answer = ? WHERE uid = ?", (errorcode, answer, uid)
        )

    def learn(
        self,
        uid: str,
        command: str,
        params: str,
        state: EntryState,
        origin: str,
        errorcode: int | None,
        answer: bytes | None,
    ) -> None:
        """Take what the peer manager reports. A finished entry is never turned back into a started one."""
        cur = self._db.execute(
            "INSERT INTO uids (uid, command, params, state, origin, errorcode, answer, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(uid) DO UPDATE SET state = excluded.state, "
            "errorcode = excluded.errorcode, answer = excluded.answer, origin = excluded.origin "
            "WHERE uids.state = 'started' AND excluded.state = 'done'",
            (uid, command, params, state.value, origin, errorcode, answer, time.time()),
        )
        if cur.rowcount == 1 and state is EntryState.STARTED:
            self._added(1)

    def withdraw(self, uid: str, origin: str) -> None:
        """Drop our own claim that was never sent, and nothing else: by now the row may hold the peer's record."""
        cur = self._db.execute("DELETE FROM uids WHERE uid = ? AND state = 'started' AND origin = ?", (uid, origin))
        self._count -= cur.rowcount

    def forget(self, uid: str) -> None:
        """The action was certainly not executed (no server took it): a later copy may try again."""
        cur = self._db.execute("DELETE FROM uids WHERE uid = ?", (uid,))
        self._count -= cur.rowcount

    def _added(self, n: int) -> None:
        self._count += n
        self._since_trim += n
        if self._since_trim >= 1000 or self._count > self.capacity:
            self.trim()

    def trim(self) -> None:
        """Drop entries older than the window, then the oldest beyond the capacity."""
        self._since_trim = 0
        cur = self._db.execute("DELETE FROM uids WHERE at < ?", (time.time() - self.window,))
        self._count -= max(cur.rowcount, 0)
        excess = self._count - self.capacity
        if excess > 0:
            cur = self._db.execute(
                "DELETE FROM uids WHERE uid IN (SELECT uid FROM uids ORDER BY at LIMIT ?)", (excess,)
            )
            self._count -= max(cur.rowcount, 0)
