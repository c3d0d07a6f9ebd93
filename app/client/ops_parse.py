"""The managers' getAlarms, getTours and getPtzControl answers as OpsState parts: bounded, sorted, and never
trusted (a field missing or of the wrong shape gets a default or leaves its item out, with a note)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from ..sense import Result
from ..sense.xml import Element
from .ops_model import (
    MAX_ALARMS,
    MAX_PTZ,
    MAX_STEPS,
    MAX_TEXT,
    MAX_TOURS,
    PRIORITIES,
    STATES,
    Alarm,
    PtzControl,
    Reaction,
    TourRun,
    TourStep,
)

_RUN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_REVISION = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class OpsParseError(ValueError):
    """A manager's answer is not usable as a whole; the message says which and why."""


def _text(node: Element, tag: str) -> str:
    return (node.findtext(tag) or "").strip()[:MAX_TEXT]


def _int(value: str | None, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _float(value: str | None, default: float) -> float:
    try:
        f = float(str(value).strip())
    except (TypeError, ValueError):
        return default
    return f if f == f and abs(f) != float("inf") else default


def _container(r: Result, tag: str, command: str) -> Element:
    if not r.ok:
        raise OpsParseError(f"{command} answered {r.errorcode}: {r.message()[:200]}")
    node = r.root.find(tag)
    if node is None:
        raise OpsParseError(f"{command} answered without <{tag}>")
    return node


def revision_of(r: Result, tag: str, command: str) -> tuple[str | None, bool]:
    """The list's `revision` (None when the answer has none: a manager of an older version, or one not usable)
    and whether it says `unchanged="true"`: nothing changed since the `since=REV` the read sent, no items listed."""
    node = _container(r, tag, command)
    rev = (node.get("revision") or "").strip()
    unchanged = (node.get("unchanged") or "").strip().lower() == "true"
    return (rev if _REVISION.fullmatch(rev) else None), unchanged


def sort_alarms(alarms: list[Alarm]) -> list[Alarm]:
    """New before acknowledged before closed, then high priority first, then newest first (by the last event: a
    flood group that still grows stays on top), as the managers list them."""

    def rank(values: tuple[str, ...], v: str) -> int:
        return values.index(v) if v in values else len(values)

    by_time = sorted(alarms, key=lambda a: (a.lasttime or a.time, a.id), reverse=True)
    return sorted(by_time, key=lambda a: (rank(STATES, a.state), rank(PRIORITIES, a.priority)))


def parse_alarms(r: Result) -> tuple[list[Alarm], int, int, list[str]]:
    """Alarms (sorted, at most MAX_ALARMS), unacknowledged, unacknowledged high, and notes on what was left out."""
    node = _container(r, "alarms", "getAlarms")
    notes: list[str] = []
    alarms: list[Alarm] = []
    skipped = 0
    for a in node.iterfind("alarm"):
        aid = _text(a, "id")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", aid):
            skipped += 1
            continue
        reactions = []
        for x in a.iterfind("reactions/reaction"):
            uid, command = x.get("uid", "").strip(), x.get("command", "").strip()
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", uid) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,39}", command):
                notes.append(f"alarm {aid[:8]}: a reaction without a usable uid or command was ignored")
                continue
            params = dict(parse_qsl(x.get("query", ""), keep_blank_values=True)[:32])
            reactions.append(Reaction(uid, command, params))
        alarms.append(
            Alarm(
                id=aid,
                type=_text(a, "type"),
                priority=_text(a, "priority").lower() or "low",
                title=_text(a, "title"),
                serverid=_text(a, "serverid"),
                cameraid=_text(a, "cameraid"),
                time=_text(a, "time"),
                state=_text(a, "state").lower() or "new",
                ackedby=_text(a, "ackedby"),
                ackedat=_text(a, "ackedat"),
                comment=_text(a, "comment"),
                closedby=_text(a, "closedby"),
                closedat=_text(a, "closedat"),
                count=max(1, _int(a.findtext("count"), 1)),
                lasttime=_text(a, "lasttime"),
                flood=_text(a, "flood").lower() == "true",
                reactions=reactions,
            )
        )
    if skipped:
        notes.append(f"getAlarms: {skipped} alarm(s) without a usable id were ignored")
    alarms = sort_alarms(alarms)
    if len(alarms) > MAX_ALARMS:
        notes.append(f"getAlarms listed {len(alarms)} alarms; the first {MAX_ALARMS} are shown")
        alarms = alarms[:MAX_ALARMS]
    unacked = sum(1 for a in alarms if a.state == "new")
    high = sum(1 for a in alarms if a.state == "new" and a.priority == "high")
    return alarms, _int(node.get("unacknowledged"), unacked), _int(node.get("unacknowledgedhigh"), high), notes


def parse_tours(r: Result) -> tuple[list[TourRun], list[str]]:
    node = _container(r, "tours", "getTours")
    notes: list[str] = []
    tours: list[TourRun] = []
    for t in node.iterfind("tour"):
        run = _text(t, "run")
        if not _RUN.fullmatch(run):
            notes.append(f"getTours: a tour with run {run[:40]!r} was ignored")
            continue
        steps = [
            TourStep(
                _int(s.get("number"), i),
                s.get("cameraid", "")[:40],
                s.get("serverid", "")[:40],
                _int(s.get("preset"), 0) or None,
            )
            for i, s in enumerate(t.iterfind("steps/step"))
            if i < MAX_STEPS
        ]
        tours.append(
            TourRun(
                run=run,
                name=_text(t, "name"),
                owner=_text(t, "owner"),
                divaid=_text(t, "divaid"),
                layoutid=_text(t, "layoutid"),
                panelid=_text(t, "panelid"),
                state=_text(t, "state").lower(),
                step=_int(t.findtext("step"), -1),
                steps=steps,
                dwell=_float(t.findtext("dwell"), 0.0),
                due=_float(t.findtext("due"), 0.0),
            )
        )
        if len(tours) >= MAX_TOURS:
            notes.append(f"getTours listed more than {MAX_TOURS} tours; the first {MAX_TOURS} are shown")
            break
    return tours, notes


def parse_ptz(r: Result) -> tuple[dict[tuple[str, str], PtzControl], list[str]]:
    node = _container(r, "ptzcontrols", "getPtzControl")
    notes: list[str] = []
    out: dict[tuple[str, str], PtzControl] = {}
    for p in node.iterfind("ptzcontrol"):
        sid, cid, console = _text(p, "serverid"), _text(p, "cameraid"), _text(p, "console")
        if not cid or not console:
            notes.append("getPtzControl: an entry without camera or console was ignored")
            continue
        out[(sid, cid)] = PtzControl(
            sid, cid, console, _int(p.findtext("priority"), 5), _int(p.findtext("remaining"), 0), _text(p, "tookfrom")
        )
        if len(out) >= MAX_PTZ:
            break
    return out, notes
