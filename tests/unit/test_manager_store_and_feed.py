from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from app.manager.dedup import DedupStore, EntryState
from app.manager.feed import StatusFeed, record_from_json, record_to_json


def test_first_claim_wins_and_later_ones_see_it(tmp_path: Path) -> None:
    s = DedupStore(tmp_path / "d.sqlite3", window=60, capacity=100)
    assert s.claim("u1", "selectCamera", "a=1", "primary") is None
    other = s.claim("u1", "selectCamera", "a=1", "secondary")
    assert other is not None and other.origin == "primary" and other.state is EntryState.STARTED
    s.finish("u1", 0, b"<result errorcode='0'/>")
    e = s.get("u1")
    assert e is not None and e.state is EntryState.DONE and e.answer == b"<result errorcode='0'/>"


def test_store_survives_a_restart(tmp_path: Path) -> None:
    s = DedupStore(tmp_path / "d.sqlite3", window=60, capacity=100)
    s.claim("u1", "selectCamera", "a=1", "primary")
    s.finish("u1", 0, b"ok")
    s.close()
    again = DedupStore(tmp_path / "d.sqlite3", window=60, capacity=100)
    assert len(again) == 1 and again.get("u1").answer == b"ok"  # type: ignore[union-attr]


def test_window_expires_uids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = DedupStore(None, window=60, capacity=100)
    s.claim("old", "x", "", "primary")
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert s.get("old") is None
    assert s.claim("old", "x", "", "primary") is None  # a uid past the window may be used again


def test_capacity_drops_the_oldest(tmp_path: Path) -> None:
    s = DedupStore(None, window=600, capacity=10)
    for i in range(25):
        s.claim(f"u{i}", "x", "", "primary")
    assert len(s) <= 10
    assert s.get("u24") is not None and s.get("u0") is None


def test_learning_from_the_peer_never_turns_done_back_into_started() -> None:
    s = DedupStore(None, window=600, capacity=10)
    s.learn("u", "x", "", EntryState.DONE, "secondary", 0, b"ok")
    s.learn("u", "x", "", EntryState.STARTED, "secondary", None, None)
    assert s.get("u").state is EntryState.DONE  # type: ignore[union-attr]
    s.learn("v", "x", "", EntryState.STARTED, "primary", None, None)
    s.learn("v", "x", "", EntryState.DONE, "primary", 0, b"ok")
    assert s.get("v").state is EntryState.DONE  # type: ignore[union-attr]


def test_a_follower_too_far_behind_is_told_so() -> None:
    async def run() -> None:
        f = StatusFeed(capacity=10)
        for i in range(30):
            f.publish("done", f"u{i}", "x", "", "primary", 0, b"ok")
        records, gap = f.since(0)
        assert gap and records[0].seq == 21
        records, gap = f.since(25)
        assert not gap and [r.seq for r in records] == [26, 27, 28, 29, 30]
        records, gap = await f.wait_since(30, 0.05)
        assert records == [] and not gap

    asyncio.run(run())


def test_wait_for_ack_returns_when_the_follower_has_read_the_record() -> None:
    async def run() -> None:
        f = StatusFeed(capacity=10)
        rec = f.publish("started", "u", "x", "", "primary")
        asyncio.get_running_loop().call_later(0.01, f.ack, rec.seq)
        assert await f.wait_acked(rec.seq, 2.0)
        nxt = f.publish("started", "v", "x", "", "primary")
        assert not await f.wait_acked(nxt.seq, 0.05)

    asyncio.run(run())


@pytest.mark.parametrize(
    "bad",
    [{"seq": "x"}, {}, {"seq": 1, "kind": "explode", "uid": "", "command": "", "params": "", "origin": "", "at": 0}],
)
def test_malformed_feed_records_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        record_from_json(bad)


def test_feed_records_round_trip() -> None:
    async def run() -> None:
        f = StatusFeed(capacity=10)
        r = f.publish("done", "u", "selectCamera", "a=1", "primary", -14, b"<result errorcode='-14'/>")
        assert record_from_json(record_to_json(r)) == r

    asyncio.run(run())


def test_withdrawing_an_unsent_claim_never_erases_the_peers_record() -> None:
    """Our claim waited for an ack while the peer executed the uid and we learned its answer: taking our claim back
    must leave the peer's "done" in place, or the uid would look new and be sent again."""
    s = DedupStore(None, window=600, capacity=100)
    assert s.claim("x", "executeAction", "", "primary") is None
    s.learn("x", "executeAction", "", EntryState.DONE, "secondary", 0, b"ok")
    s.withdraw("x", "primary")
    e = s.get("x")
    assert e is not None and e.state is EntryState.DONE and e.origin == "secondary"
    assert s.claim("y", "executeAction", "", "primary") is None
    s.withdraw("y", "primary")
    assert s.get("y") is None
