"""The managers' position in the active server's events (app/manager/follower.py): across takeovers, restarts and
servers that give an event id again, every event is forwarded once and none is skipped."""

from __future__ import annotations

import time
from xml.etree.ElementTree import Element, SubElement

from app.manager.follower import REPLAY_LIMIT, REPLAY_MARGIN, EventFollower

A, B = "http://server-a", "http://server-b"
T0 = 1_800_000_000.0


def utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def answer(*events: tuple[int, float, str], last: int | None = None) -> Element:
    """A getEvents answer: (eventid, time, value) each, a Motion on camera 101."""
    root = Element("events", count=str(len(events)))
    for eid, at, value in events:
        e = SubElement(root, "event")
        for k, v in {
            "eventid": str(eid),
            "eventtype": "Motion",
            "eventtime": utc(at),
            "eventvalue": value,
            "serverid": "1",
            "deviceid": "101",
        }.items():
            SubElement(e, k).text = v
    root.set("lasteventid", str(last if last is not None else max((e[0] for e in events), default=0)))
    return root


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def values(events: list[dict[str, str]]) -> list[str]:
    return [e["eventvalue"] for e in events]


def test_the_first_answer_replays_the_events_of_the_last_minutes_only() -> None:
    clock = Clock()
    f = EventFollower(clock)
    first = f.request(A, 1000)
    assert first == {"command": "getEvents", "startid": "1", "limit": str(-REPLAY_LIMIT)}
    old = (5, T0 - REPLAY_MARGIN - 60, "long before the start")
    recent = (6, T0 - 10, "while this manager restarted")
    assert values(f.take(A, answer(old, recent))) == ["while this manager restarted"]
    assert f.request(A, 1000) == {"command": "getEvents", "startid": "6", "limit": "500", "wait": "1000"}
    clock.now += 1
    assert values(f.take(A, answer((7, T0 + 1, "next"), last=7))) == ["next"]


def test_a_takeover_whose_server_gives_ids_again_loses_no_event_and_doubles_none() -> None:
    """The dead server had passed on events 1-8 only; the new one numbers its own events 9, 10 again."""
    clock = Clock()
    f = EventFollower(clock)
    f.request(A, 1000)
    on_a = [(i, T0 - 30 + i, f"a{i}") for i in range(1, 11)]
    assert values(f.take(A, answer(*on_a))) == [f"a{i}" for i in range(1, 11)]
    clock.now += 5
    assert f.request(B, 1000)["startid"] == "1"  # a server not followed before: read its last events again
    on_b = [*on_a[:8], (9, T0 + 3, "b9"), (10, T0 + 4, "b10")]
    assert values(f.take(B, answer(*on_b))) == ["b9", "b10"]
    assert f.request(B, 1000)["startid"] == "10"
    # Failback to A, which took B's events while it was standby: nothing again, the new one only.
    clock.now += 5
    f.request(A, 1000)
    assert values(f.take(A, answer(*on_b, (11, T0 + 9, "a11")))) == ["a11"]


def test_a_server_whose_ids_go_backwards_is_read_again() -> None:
    clock = Clock()
    f = EventFollower(clock)
    f.request(A, 1000)
    f.take(A, answer((40, T0 - 1, "before the restart")))
    clock.now += 2
    assert f.request(A, 1000)["startid"] == "40"
    assert f.take(A, answer(last=2)) == []  # restarted with an empty log: its ids began again
    assert f.request(A, 1000)["startid"] == "1"
    got = f.take(A, answer((1, T0 + 1, "after the restart"), (2, T0 + 2, "and before this poll")))
    assert values(got) == ["after the restart", "and before this poll"]


def test_an_answer_of_a_server_no_longer_followed_is_ignored() -> None:
    f = EventFollower(Clock())
    f.request(A, 1000)
    f.take(A, answer((1, T0, "x")))
    f.request(B, 1000)
    assert f.take(A, answer((2, T0, "late answer of A"))) == []
    assert f.request(B, 1000)["startid"] == "1"


def test_events_without_a_readable_time_are_not_replayed_but_followed() -> None:
    f = EventFollower(Clock())
    f.request(A, 1000)
    bad = answer((3, T0, "x"))
    bad.find("event/eventtime").text = "yesterday"  # type: ignore[union-attr]
    assert f.take(A, bad) == []
    follow = answer((4, T0, "y"))
    follow.find("event/eventtime").text = ""  # type: ignore[union-attr]
    assert values(f.take(A, follow)) == ["y"]
