"""What the console tells the operator when no manager confirmed an action."""

from __future__ import annotations

from app.client.outcome import ManagerAnswer, Outcome
from app.sense import ResultCode


def _outcome(*answers: ManagerAnswer) -> Outcome:
    o = Outcome("desk-1-1", "executeAction", {}, "12:00:00", answers={a.manager: a for a in answers}, finished=True)
    o.failure = "; ".join(f"{a.manager} manager: {a.text()}" for a in answers)
    return o


def test_no_answer_in_time_from_any_manager_is_in_doubt_not_failed() -> None:
    """The action may be running on a server that stalled: an operator told "failed" clicks again."""
    o = _outcome(
        ManagerAnswer("primary", "failed", error="no answer within 2.0 s", maybe_sent=True),
        ManagerAnswer("secondary", "failed", error="no connection within 2.0 s", maybe_sent=False),
    )
    assert o.in_doubt and o.errorcode == ResultCode.IN_DOUBT and not o.ok
    assert o.message.startswith("IN DOUBT") and "no answer within 2.0 s" in o.message


def test_certainly_not_sent_stays_a_failure() -> None:
    o = _outcome(
        ManagerAnswer("primary", "failed", error="cannot connect", maybe_sent=False),
        ManagerAnswer("secondary", "answered", errorcode=ResultCode.COORDINATION_UNAVAILABLE, description="etcd"),
    )
    assert not o.in_doubt and o.errorcode is None and not o.message.startswith("IN DOUBT")
