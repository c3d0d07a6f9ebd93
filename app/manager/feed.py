"""The status feed (E): every handled message as a numbered record, for the peer manager to follow.

A follower long-polls with the last seq it saw and loses nothing across a short break; a follower that fell
out of the bounded buffer is told so (`gap`), never silently skipped ahead.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class FeedRecord:
    seq: int
    kind: str  # "started" | "done" | "dropped" (certainly not executed: forget it) | "mode"
    uid: str
    command: str
    params: str
    errorcode: int | None
    answer: str | None
    origin: str
    at: float


class StatusFeed:
    def __init__(self, capacity: int) -> None:
        self.instance = secrets.token_hex(8)  # a restarted manager starts a new sequence
        self._records: deque[FeedRecord] = deque(maxlen=capacity)
        self._seq = 0
        self._changed = asyncio.Event()
        self._acked = 0  # the highest seq the peer manager has confirmed reading
        self._ack_changed = asyncio.Event()
        self._follower_seen = float("-inf")  # loop time of the peer manager's latest poll (start or end)

    def touch(self) -> None:
        """The peer manager is polling us now (called at the start and at the end of each of its polls)."""
        self._follower_seen = asyncio.get_running_loop().time()

    def follower_alive(self, within: float) -> bool:
        return asyncio.get_running_loop().time() - self._follower_seen < within

    @property
    def last_seq(self) -> int:
        return self._seq

    def publish(
        self,
        kind: str,
        uid: str,
        command: str,
        params: str,
        origin: str,
        errorcode: int | None = None,
        answer: bytes | None = None,
    ) -> FeedRecord:
        self._seq += 1
        rec = FeedRecord(
            self._seq,
            kind,
            uid,
            command,
            params,
            errorcode,
            answer.decode("utf-8", "replace") if answer is not None else None,
            origin,
            time.time(),
        )
        self._records.append(rec)
        self._changed.set()
        self._changed = asyncio.Event()
        return rec

    def ack(self, seq: int) -> None:
        """The follower polled with after=seq: it holds every record up to seq."""
        if seq > self._acked:
            self._acked = min(seq, self._seq)
            self._ack_changed.set()
            self._ack_changed = asyncio.Event()

    async def wait_acked(self, seq: int, seconds: float) -> bool:
        """Wait until the follower holds record `seq`; False if it did not within `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self._acked < seq:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._ack_changed.wait(), remaining)
            except TimeoutError:
                return False
        return True

    def since(self, after: int) -> tuple[list[FeedRecord], bool]:
        """Records with seq > after, and whether some were already dropped from the buffer (a gap)."""
        first = self._records[0].seq if self._records else self._seq + 1
        gap = after + 1 < first and after < self._seq
        return [r for r in self._records if r.seq > after], gap

    async def wait_since(self, after: int, seconds: float) -> tuple[list[FeedRecord], bool]:
        records, gap = self.since(after)
        if records or gap or seconds <= 0:
            return records, gap
        waiter = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), seconds)
        return self.since(after)


def record_to_json(r: FeedRecord) -> dict[str, Any]:
    return asdict(r)


def record_from_json(d: dict[str, Any]) -> FeedRecord:
    """A record from the peer; raises ValueError/KeyError/TypeError on anything malformed."""
    rec = FeedRecord(
        seq=int(d["seq"]),
        kind=str(d["kind"]),
        uid=str(d["uid"]),
        command=str(d["command"]),
        params=str(d["params"]),
        errorcode=None if d.get("errorcode") is None else int(d["errorcode"]),
        answer=None if d.get("answer") is None else str(d["answer"]),
        origin=str(d["origin"]),
        at=float(d["at"]),
    )
    if rec.kind not in ("started", "done", "dropped", "mode"):
        raise ValueError(f"unknown record kind {rec.kind!r}")
    return rec
