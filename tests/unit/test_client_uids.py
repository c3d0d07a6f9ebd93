from __future__ import annotations

import re

from app.client.uids import UidSource, station_slug


def test_uids_are_unique_url_safe_short_and_name_the_station() -> None:
    a, b = UidSource("Desk 1 (north)"), UidSource("Desk 1 (north)")  # the same station restarted
    uids = [a.next() for _ in range(1000)] + [b.next() for _ in range(1000)]
    assert len(set(uids)) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", u) for u in uids)
    assert all(u.startswith("Desk-1-north-") for u in uids)


def test_a_long_or_odd_station_name_still_fits() -> None:
    u = UidSource("Ä" * 10 + "x" * 200 + "&?/").next()
    assert len(u) <= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", u)
    assert station_slug("   ") == "console"
