"""What changed between two polls of the shared state, in the lines an operator reads."""

from __future__ import annotations

from .ops_model import MAX_LINES, Alarm, PtzControl, TourRun


def _by(who: str, comment: str) -> str:
    return (f" by {who}" if who else "") + (f": {comment}" if comment else "")


def diff_alarms(old: list[Alarm], new: list[Alarm], first: bool = False) -> list[str]:
    """Lines for alarms raised, acknowledged, closed or grown (a flood) since the last poll. On the first poll
    only a summary: the operator did not miss these alarms being raised."""
    if first:
        open_ = [a for a in new if a.open]
        return [f"{len(open_)} open alarm(s)"] if open_ else []
    before = {a.id: a for a in old}
    lines = []
    for a in reversed(new):  # oldest first: they read in the order they happened
        b = before.get(a.id)
        where = f" on camera {a.cameraid}" if a.cameraid else ""
        if b is None:
            if a.state == "closed":
                continue
            lines.append(f"alarm {a.short} raised: {a.title or a.type} ({a.priority}){where}")
            if a.state == "acknowledged":
                lines.append(f"alarm {a.short} acknowledged{_by(a.ackedby, a.comment)}")
            continue
        if a.state != b.state:
            if a.state == "acknowledged":
                lines.append(f"alarm {a.short} acknowledged{_by(a.ackedby, a.comment)}")
            elif a.state == "closed":
                lines.append(f"alarm {a.short} closed{_by(a.closedby, a.comment)}")
            else:
                lines.append(f"alarm {a.short} is {a.state}")
        if a.count > b.count:
            lines.append(f"alarm {a.short}: {a.count} events (+{a.count - b.count})")
    return lines


def diff_tours(old: list[TourRun], new: list[TourRun]) -> list[str]:
    before = {t.run: t for t in old}
    lines = []
    for t in new:
        b = before.get(t.run)
        label = f"tour {t.name or t.run} ({t.run})"
        if b is None:
            if t.state != "stopped":
                lines.append(f"{label} started by {t.owner}: {len(t.steps)} camera(s), {t.dwell:g} s each")
            continue
        if t.state != b.state:
            lines.append(f"{label} {t.state}")
        if t.step != b.step and t.step >= 0 and t.steps:
            s = t.steps[t.step % len(t.steps)]
            lines.append(f"{label} step {t.step}: camera {s.cameraid}" + (f" preset {s.preset}" if s.preset else ""))
    return lines


def diff_ptz(old: dict[tuple[str, str], PtzControl], new: dict[tuple[str, str], PtzControl]) -> list[str]:
    lines = []
    for key, c in new.items():
        b = old.get(key)
        if b is None or b.console != c.console:
            took = f" from {c.tookfrom}" if c.tookfrom else ""
            lines.append(f"camera {c.serverid}/{c.cameraid} steered by {c.console} (priority {c.priority}){took}")
    for key, b in old.items():
        if key not in new:
            lines.append(f"camera {b.serverid}/{b.cameraid} is free (was {b.console})")
    return lines


def bounded(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return lines
    return [*lines[:MAX_LINES], f"… and {len(lines) - MAX_LINES} more change(s)"]
