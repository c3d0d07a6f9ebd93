"""OpsClient and its model without a network: parsing, sorting, change lines, tour definitions, and a poller that
outlives whatever the managers answer (a fake client stands in for RedundantClient)."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Coroutine
from typing import Any, cast

import pytest

from app.client import ActionError, ClientSettings, RedundantClient
from app.client.ops import OpsClient, TourDefinition
from app.client.ops_diff import diff_alarms, diff_ptz, diff_tours
from app.client.ops_model import MAX_ALARMS, Alarm, Reaction
from app.client.ops_parse import parse_alarms, parse_ptz, parse_tours, sort_alarms
from app.client.outcome import Outcome
from app.client.view import SystemView
from app.sense import Result, parse_result

AID = "3f2a9c1b00112233"


def alarm_xml(
    aid: str = AID,
    state: str = "new",
    priority: str = "high",
    time: str = "2024-05-01 10:00:00",
    reaction: bool = True,
    **extra: str,
) -> str:
    fields = {
        "id": aid,
        "type": "Motion",
        "priority": priority,
        "title": "Motion at the gate",
        "serverid": "1",
        "cameraid": "101",
        "time": time,
        "state": state,
        "count": "1",
        "flood": "false",
        **extra,
    }
    body = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    if reaction:
        body += (
            f'<reactions><reaction uid="alarm-{aid}-r0" command="selectCamera" '
            'query="cameraview=cameraid%3A101&amp;divaid=1&amp;layoutid=2&amp;panelid=3"/></reactions>'
        )
    return f"<alarm>{body}</alarm>"


def alarms_answer(*alarms: str, attrs: str = "") -> Result:
    return parse_result(
        f'<result errorcode="0"><alarms count="{len(alarms)}" {attrs}>{"".join(alarms)}</alarms></result>'
    )


def tour_xml(
    run: str = "ws1-abcd-t1", owner: str = "ws1", step: int = -1, due: float = 0.0, state: str = "running"
) -> str:
    return (
        f"<tour><run>{run}</run><name>Gate round</name><owner>{owner}</owner><divaid>1</divaid><layoutid>2</layoutid>"
        f"<panelid>3</panelid><state>{state}</state><step>{step}</step>"
        '<steps count="2"><step number="0" cameraid="101" serverid="1"/>'
        '<step number="1" cameraid="102" serverid="1" preset="3"/></steps>'
        f"<dwell>5</dwell><due>{due}</due></tour>"
    )


def tours_answer(*tours: str) -> Result:
    return parse_result(f'<result errorcode="0"><tours count="{len(tours)}">{"".join(tours)}</tours></result>')


def ptz_answer(*entries: tuple[str, str, str, int, str]) -> Result:
    body = "".join(
        f"<ptzcontrol><serverid>{s}</serverid><cameraid>{c}</cameraid><console>{n}</console>"
        f"<priority>{p}</priority><remaining>12</remaining><tookfrom>{t}</tookfrom></ptzcontrol>"
        for s, c, n, p, t in entries
    )
    return parse_result(f'<result errorcode="0"><ptzcontrols>{body}</ptzcontrols></result>')


OK = parse_result('<result errorcode="0"><description>Ok</description></result>')


class FakeClient:
    """What OpsClient uses of RedundantClient: read, act, act_uid, view, ptz_params."""

    def __init__(self) -> None:
        self.view = SystemView()
        self.ptz_params: Callable[[], dict[str, str]] | None = None
        self.answers: dict[str, Callable[[], Result]] = {
            "getAlarms": lambda: alarms_answer(),
            "getTours": lambda: tours_answer(),
            "getPtzControl": lambda: ptz_answer(),
        }
        self.acts: list[tuple[str, str, dict[str, str]]] = []
        self.reads: list[tuple[str, dict[str, str]]] = []
        self.answer_act: Callable[[str, str], Result | None] = lambda uid, command: OK

    async def read(self, command: str, /, **params: object) -> Result:
        self.reads.append((command, {k: str(v) for k, v in params.items() if v is not None}))
        return self.answers[command]()

    def since(self, command: str) -> list[str | None]:
        """The since= each read of COMMAND carried (None: a full read)."""
        return [p.get("since") for c, p in self.reads if c == command]

    async def _send(self, uid: str, command: str, params: dict[str, object]) -> Outcome:
        clean = {k: str(v) for k, v in params.items() if v is not None}
        self.acts.append((uid, command, clean))
        o = Outcome(uid, command, clean, "00:00:00", origin="ops")
        o.result, o.finished = self.answer_act(uid, command), True
        return o

    async def act(self, command: str, /, **params: object) -> Outcome:
        return await self._send(f"ws1-x-{len(self.acts) + 1}", command, params)

    async def act_uid(self, uid: str, command: str, /, **params: object) -> Outcome:
        return await self._send(uid, command, params)


def make_ops(fake: FakeClient, station: str = "ws1", owner: str = "ws1") -> OpsClient:
    return OpsClient(cast(RedundantClient, fake), station, owner)


def synchronously(fn: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """A test written as a coroutine, run on a loop of its own (the project's tests use asyncio.run)."""

    @functools.wraps(fn)
    def run() -> None:
        asyncio.run(fn())

    return run


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# -- parsing and sorting ---------------------------------------------------------------------------------


def test_alarms_sort_new_before_acknowledged_before_closed_then_high_first_then_newest() -> None:
    alarms, unacked, high, notes = parse_alarms(
        alarms_answer(
            alarm_xml("a1", "closed", "high", "2024-05-01 12:00:00"),
            alarm_xml("a2", "acknowledged", "high", "2024-05-01 11:00:00"),
            alarm_xml("a3", "new", "low", "2024-05-01 12:00:00"),
            alarm_xml("a4", "new", "high", "2024-05-01 09:00:00"),
            alarm_xml("a5", "new", "high", "2024-05-01 10:00:00"),
            alarm_xml("a6", "new", "medium", "2024-05-01 08:00:00"),
            attrs='unacknowledged="4" unacknowledgedhigh="2"',
        )
    )
    assert [a.id for a in alarms] == ["a5", "a4", "a6", "a3", "a2", "a1"]
    assert (unacked, high, notes) == (4, 2, [])


def test_an_alarm_reads_every_field_and_its_reaction_query() -> None:
    (a,), *_ = parse_alarms(alarms_answer(alarm_xml(ackedby="ws2", comment="a cat", count="3", flood="true")))
    assert (a.id, a.type, a.priority, a.serverid, a.cameraid, a.ackedby, a.comment, a.count, a.flood) == (
        AID,
        "Motion",
        "high",
        "1",
        "101",
        "ws2",
        "a cat",
        3,
        True,
    )
    (r,) = a.reactions
    assert (r.uid, r.command) == (f"alarm-{AID}-r0", "selectCamera")
    assert r.params == {"cameraview": "cameraid:101", "divaid": "1", "layoutid": "2", "panelid": "3"}


def test_counts_are_computed_when_the_answer_does_not_give_them() -> None:
    _, unacked, high, _ = parse_alarms(alarms_answer(alarm_xml("a1"), alarm_xml("a2", priority="low")))
    assert (unacked, high) == (2, 1)


def test_tours_and_ptz_controls_parse() -> None:
    (t,), notes = parse_tours(tours_answer(tour_xml(step=4, due=-0.5)))
    assert (t.run, t.owner, t.state, t.step, t.dwell, t.due, notes) == (
        "ws1-abcd-t1",
        "ws1",
        "running",
        4,
        5.0,
        -0.5,
        [],
    )
    assert [(s.number, s.cameraid, s.preset) for s in t.steps] == [(0, "101", None), (1, "102", 3)]
    ptz, _ = parse_ptz(ptz_answer(("1", "104", "ws2", 7, "ws1")))
    c = ptz[("1", "104")]
    assert (c.console, c.priority, c.remaining, c.tookfrom) == ("ws2", 7, 12, "ws1")


def test_an_alarm_without_an_id_is_left_out_and_said_so() -> None:
    alarms, _, _, notes = parse_alarms(alarms_answer(alarm_xml("a1"), alarm_xml("bad id!"), "<alarm/>"))
    assert [a.id for a in alarms] == ["a1"]
    assert notes == ["getAlarms: 2 alarm(s) without a usable id were ignored"]


# -- change lines ----------------------------------------------------------------------------------------


def test_diff_says_raised_acknowledged_closed_and_flood_growth() -> None:
    old = [Alarm("a1aaaaaaaaaaaaaa", state="new"), Alarm("b2", state="acknowledged"), Alarm("c3", count=11)]
    new = [
        Alarm("a1aaaaaaaaaaaaaa", state="acknowledged", ackedby="ws2", comment="checked"),
        Alarm("b2", state="closed", closedby="ws1"),
        Alarm("c3", count=14),
        Alarm("d4", title="Door forced", priority="high", cameraid="105"),
    ]
    lines = diff_alarms(old, new)
    assert "alarm a1aaaaaa… acknowledged by ws2: checked" in lines
    assert "alarm b2 closed by ws1" in lines
    assert "alarm c3: 14 events (+3)" in lines
    assert "alarm d4 raised: Door forced (high) on camera 105" in lines
    assert diff_alarms(new, new) == []


def test_diff_of_tours_and_ptz() -> None:
    (t0,), _ = parse_tours(tours_answer(tour_xml(step=0)))
    (t1,), _ = parse_tours(tours_answer(tour_xml(step=1, state="paused")))
    assert diff_tours([], [t0]) == ["tour Gate round (ws1-abcd-t1) started by ws1: 2 camera(s), 5 s each"]
    assert diff_tours([t0], [t1]) == [
        "tour Gate round (ws1-abcd-t1) paused",
        "tour Gate round (ws1-abcd-t1) step 1: camera 102 preset 3",
    ]
    a, _ = parse_ptz(ptz_answer(("1", "104", "ws1", 5, "")))
    b, _ = parse_ptz(ptz_answer(("1", "104", "ws3", 8, "ws1")))
    assert diff_ptz(a, b) == ["camera 1/104 steered by ws3 (priority 8) from ws1"]
    assert diff_ptz(b, {}) == ["camera 1/104 is free (was ws3)"]


def test_a_growing_flood_group_sorts_by_its_last_event() -> None:
    flood = Alarm("f1", time="2024-05-01 08:00:00", lasttime="2024-05-01 12:00:00", flood=True, count=30)
    single = Alarm("s1", time="2024-05-01 11:00:00", lasttime="2024-05-01 11:00:00")
    assert [a.id for a in sort_alarms([single, flood])] == ["f1", "s1"]


def test_sorting_is_stable_for_equal_keys() -> None:
    same = [Alarm("x1", time="t"), Alarm("x2", time="t")]
    assert [a.id for a in sort_alarms(same)] == ["x2", "x1"]  # equal times: by id, so every console shows one order


# -- tour definitions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "words"),
    [
        (TourDefinition("Gate", [], 10), "no cameras"),
        (TourDefinition("Gate", [("101", None)], 1.5), "dwell must be 2 to 3600"),
        (TourDefinition("Gate", [("101", None)], 3601), "dwell must be 2 to 3600"),
        (TourDefinition("Gate", [("101", None)], float("nan")), "dwell"),
        (TourDefinition("Gate", [("cam1", None)], 10), "'cam1' is not a camera id"),
        (TourDefinition("Gate", [("101", None), ("", None)], 10), "camera 2 of the tour"),
        (TourDefinition("Gate", [("101", 0)], 10), "preset 0 is not 1 to 64"),
        (TourDefinition("  ", [("101", None)], 10), "needs a name"),
    ],
)
def test_a_bad_tour_definition_says_what_to_fix(definition: TourDefinition, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        definition.validate()


def test_a_good_definition_gives_the_cameras_parameter() -> None:
    d = TourDefinition("Gate", TourDefinition.parse_cameras("101, 102:3,103"), 2)
    d.validate()
    assert d.cameras_param() == "101,102:3,103"
    with pytest.raises(ValueError, match="preset after ':'"):
        TourDefinition.parse_cameras("101:x")


def test_run_ids_fit_forty_characters_and_the_protocols_pattern() -> None:
    ops = make_ops(FakeClient(), station="a very long station name, with commas and more" * 3)
    runs = [ops.new_run() for _ in range(12)]
    assert len(set(runs)) == 12
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,40}", r) for r in runs), runs


# -- the poller ------------------------------------------------------------------------------------------


@synchronously
async def test_the_poller_keeps_the_last_good_data_when_answers_turn_to_garbage() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    heard: list[list[str]] = []
    ops.subscribe(lambda s, lines: heard.append(lines))
    fake.answers["getAlarms"] = lambda: alarms_answer(alarm_xml(reaction=False))
    fake.answers["getTours"] = lambda: tours_answer(tour_xml(owner="other"))
    await ops.poll()
    assert [a.id for a in ops.state.alarms] == [AID] and ops.state.error == "" and ops.state.updated > 0

    def broken() -> Result:
        raise ActionError("getAlarms failed on every manager — primary manager: answer is not well-formed XML")

    garbage: list[Callable[[], Result]] = [
        broken,
        lambda: parse_result('<result errorcode="0"><something/></result>'),
        lambda: parse_result('<result errorcode="-1"><description>Not implemented</description></result>'),
        lambda: parse_result(
            '<result errorcode="0"><alarms count="x" unacknowledged="many"><alarm/></alarms></result>'
        ),
    ]
    for answer in garbage:
        fake.answers["getAlarms"] = answer
        fake.answers["getTours"] = lambda: cast(Result, 42)  # not even a Result
        fake.answers["getPtzControl"] = broken
        await ops.poll()
        assert [a.id for a in ops.state.alarms] in ([AID], []), ops.state.error
        assert ops.state.error
        assert [t.run for t in ops.state.tours] == ["ws1-abcd-t1"]
    assert heard[-1] == [] or all(isinstance(x, str) for x in heard[-1])


@synchronously
async def test_garbage_keeps_the_alarms_and_says_why() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    fake.answers["getAlarms"] = lambda: alarms_answer(alarm_xml(reaction=False))
    await ops.poll()
    fake.answers["getAlarms"] = lambda: parse_result('<result errorcode="0"><other/></result>')
    await ops.poll()
    assert [a.id for a in ops.state.alarms] == [AID]
    assert "getAlarms answered without <alarms>" in ops.state.error
    fake.answers["getAlarms"] = lambda: alarms_answer(alarm_xml(reaction=False))
    await ops.poll()
    assert ops.state.error == ""


@synchronously
async def test_thousands_of_alarms_are_bounded_and_said_so() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    many = alarms_answer(*(alarm_xml(f"{i:016x}", reaction=False, title="x" * 2000) for i in range(3000)))
    fake.answers["getAlarms"] = lambda: many
    await ops.poll()
    assert len(ops.state.alarms) == MAX_ALARMS
    assert all(len(a.title) <= 500 for a in ops.state.alarms)
    assert "3000 alarms" in ops.state.error


@synchronously
async def test_the_poll_loop_survives_a_listener_and_an_answer_that_raise() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    ops.interval = 0.01
    polls = 0

    def flaky() -> Result:
        nonlocal polls
        polls += 1
        if polls % 2:
            raise RuntimeError("anything at all")
        return alarms_answer(alarm_xml(f"{polls:016x}", reaction=False))

    fake.answers["getAlarms"] = flaky

    def bad_listener(state: Any, lines: list[str]) -> None:
        raise RuntimeError("a broken listener")

    ops.subscribe(bad_listener)
    await ops.start()
    try:
        for _ in range(200):
            if polls >= 6:
                break
            await asyncio.sleep(0.01)
    finally:
        await ops.close()
    assert polls >= 6


@synchronously
async def test_first_poll_says_how_many_alarms_are_open_then_what_changes() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    heard: list[str] = []
    ops.subscribe(lambda s, lines: heard.extend(lines))
    fake.answers["getAlarms"] = lambda: alarms_answer(alarm_xml(reaction=False))
    await ops.poll()
    assert heard == ["1 open alarm(s)"]
    fake.answers["getAlarms"] = lambda: alarms_answer(
        alarm_xml(reaction=False, state="acknowledged", ackedby="ws2", comment="checked")
    )
    await ops.poll()
    assert heard[-1] == "alarm 3f2a9c1b… acknowledged by ws2: checked"


# -- reactions -------------------------------------------------------------------------------------------


@synchronously
async def test_each_reaction_of_a_new_alarm_is_sent_once_with_its_own_uid() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    await ops.poll()  # the baseline: no alarm yet
    fake.answers["getAlarms"] = lambda: alarms_answer(alarm_xml(), alarm_xml("b" * 16, state="acknowledged"))
    for _ in range(4):
        await ops.poll()
        await settle()
    assert fake.acts == [
        (
            f"alarm-{AID}-r0",
            "selectCamera",
            {"cameraview": "cameraid:101", "divaid": "1", "layoutid": "2", "panelid": "3"},
        )
    ]


@synchronously
async def test_a_reaction_no_manager_answered_is_sent_again_with_the_same_uid() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    fake.answer_act = lambda uid, command: None  # not sent: no manager reached
    await ops.poll()
    fake.answers["getAlarms"] = lambda: alarms_answer(alarm_xml())
    for _ in range(6):
        await ops.poll()
        await settle()
    assert [uid for uid, _, _ in fake.acts] == [f"alarm-{AID}-r0"] * 3


@synchronously
async def test_a_restarted_console_does_not_replay_the_reactions_of_alarms_already_there() -> None:
    """The alarms listed at the first usable poll were new before this console started: another console applied
    their reactions then. Sending them again would move the wall back to an old camera."""
    fake = FakeClient()
    ops = make_ops(fake)
    fake.answers["getAlarms"] = lambda: parse_result(
        '<result errorcode="-1"><description>manager starting</description></result>'
    )
    await ops.poll()  # no usable answer yet: not the baseline
    old = alarm_xml("a" * 16)
    fake.answers["getAlarms"] = lambda: alarms_answer(old)
    for _ in range(3):
        await ops.poll()
        await settle()
    assert fake.acts == []
    fake.answers["getAlarms"] = lambda: alarms_answer(alarm_xml("b" * 16), old)  # raised after we started
    for _ in range(3):
        await ops.poll()
        await settle()
    assert [uid for uid, _, _ in fake.acts] == [f"alarm-{'b' * 16}-r0"]


def test_the_reactions_remembered_stay_bounded_and_keep_those_of_listed_alarms() -> None:
    from app.client import ops as ops_module

    ops = make_ops(FakeClient())
    ops._alarms_known = True
    listed = Alarm("a" * 16, reactions=[Reaction(f"alarm-{'a' * 16}-r0", "selectCamera")])
    ops._reactions[listed.reactions[0].uid] = ops_module.REACTION_TRIES  # settled first: the oldest entry
    for i in range(ops_module.MAX_REACTIONS + 5):
        ops._reactions[f"gone-{i}"] = ops_module.REACTION_TRIES
    ops._apply_reactions([listed])
    assert len(ops._reactions) == ops_module.MAX_REACTIONS
    assert listed.reactions[0].uid in ops._reactions


# -- revisions: since=REV and unchanged answers --------------------------------------------------------------


def unchanged(tag: str, rev: str) -> Result:
    return parse_result(f'<result errorcode="0"><{tag} unchanged="true" revision="{rev}" count="0"/></result>')


@synchronously
async def test_alarms_are_read_since_the_last_revision_and_an_unchanged_answer_keeps_them() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    heard: list[list[str]] = []
    ops.subscribe(lambda s, lines: heard.append(lines))
    full = alarms_answer(alarm_xml(), attrs='revision="41" unacknowledged="1" unacknowledgedhigh="1"')
    fake.answers["getAlarms"] = lambda: full if fake.since("getAlarms")[-1] is None else unchanged("alarms", "41")
    await ops.poll()
    kept = ops.state.alarms
    assert [a.id for a in kept] == [AID] and ops.state.error == ""
    for _ in range(3):
        await ops.poll()
        await settle()
    assert fake.since("getAlarms") == [None, "41", "41", "41"]
    assert ops.state.alarms is kept and (ops.state.unacknowledged, ops.state.unacknowledged_high) == (1, 1)
    assert ops.state.error == "" and len(heard) == 1  # nothing changed: no line, no listener call
    assert fake.acts == []  # the baseline's reaction is not replayed by an unchanged answer either
    # Something changed: a full list again, with the new revision, sent on the next read; a new alarm's reaction.
    fake.answers["getAlarms"] = lambda: alarms_answer(
        alarm_xml("b" * 16), alarm_xml(state="acknowledged", ackedby="ws2"), attrs='revision="42"'
    )
    await ops.poll()
    await settle()
    assert {a.id: a.state for a in ops.state.alarms} == {"b" * 16: "new", AID: "acknowledged"}
    assert "alarm 3f2a9c1b… acknowledged by ws2" in heard[-1]
    assert [uid for uid, _, _ in fake.acts] == [f"alarm-{'b' * 16}-r0"]
    await ops.poll()
    assert fake.since("getAlarms")[-1] == "42"


@synchronously
async def test_an_older_manager_ignores_since_and_its_full_lists_keep_working() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    lists = iter([alarms_answer(alarm_xml(reaction=False)), alarms_answer(), alarms_answer(alarm_xml("c" * 16))])
    fake.answers["getAlarms"] = lambda: next(lists)
    for _ in range(3):
        await ops.poll()
    assert [a.id for a in ops.state.alarms] == ["c" * 16] and ops.state.error == ""
    assert fake.since("getAlarms") == fake.since("getTours") == fake.since("getPtzControl") == [None] * 3
    # The executing manager gives revisions, then its partner (an older version) answers: full reads again.
    answers = iter([alarms_answer(attrs='revision="9"'), alarms_answer(alarm_xml("d" * 16, reaction=False))])
    fake.answers["getAlarms"] = lambda: next(answers, alarms_answer(alarm_xml("d" * 16, reaction=False)))
    for _ in range(3):
        await ops.poll()
    assert fake.since("getAlarms")[3:] == [None, "9", None]
    assert [a.id for a in ops.state.alarms] == ["d" * 16]


@synchronously
async def test_an_unchanged_answer_to_a_full_read_keeps_the_data_and_says_so() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    fake.answers["getAlarms"] = lambda: alarms_answer(alarm_xml(reaction=False))
    await ops.poll()
    fake.answers["getAlarms"] = lambda: unchanged("alarms", "5")
    await ops.poll()
    assert [a.id for a in ops.state.alarms] == [AID]
    assert "unchanged to a read without since" in ops.state.error


@synchronously
async def test_tours_and_ptz_with_a_revision_are_read_since_it_and_count_their_seconds_down() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    now = [100.0]
    ops.clock = lambda: now[0]
    tours_full = parse_result(
        f'<result errorcode="0"><tours count="1" revision="7">{tour_xml(step=2, due=1.2)}</tours></result>'
    )
    ptz_full = parse_result(
        '<result errorcode="0"><ptzcontrols revision="7"><ptzcontrol><serverid>1</serverid><cameraid>104</cameraid>'
        "<console>ws2</console><priority>5</priority><remaining>12</remaining></ptzcontrol></ptzcontrols></result>"
    )
    fake.answers["getTours"] = lambda: tours_full if fake.since("getTours")[-1] is None else unchanged("tours", "7")
    fake.answers["getPtzControl"] = lambda: (
        ptz_full if fake.since("getPtzControl")[-1] is None else unchanged("ptzcontrols", "7")
    )
    await ops.poll()
    await settle()
    assert fake.acts == []  # due in 1.2 s
    now[0] += 0.5
    await ops.poll()
    await settle()
    assert ops.state.tours[0].due == pytest.approx(0.7) and ops.state.ptz[("1", "104")].remaining == 12
    assert fake.acts == []
    now[0] += 0.8  # due now, though no answer said so: the manager's 1.2 s are gone
    await ops.poll()
    await settle()
    assert [uid for uid, _, _ in fake.acts] == ["ws1-abcd-t1-3"]
    assert ops.state.ptz[("1", "104")].remaining == 11 and ops.state.ptz[("1", "104")].console == "ws2"
    assert fake.since("getTours") == fake.since("getPtzControl") == [None, "7", "7"]
    assert ops.state.error == ""


# -- tours -----------------------------------------------------------------------------------------------


@synchronously
async def test_a_due_tour_of_ours_gets_its_next_step_with_the_run_step_uid() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    fake.answers["getTours"] = lambda: tours_answer(
        tour_xml(step=4, due=-0.1),
        tour_xml(run="other-t1", owner="someone else", due=-1),
        tour_xml(run="ws1-paused", state="paused", due=-1),
        tour_xml(run="ws1-later", due=3),
    )
    await ops.poll()
    await settle()
    assert fake.acts == [("ws1-abcd-t1-5", "tourStep", {"run": "ws1-abcd-t1", "step": "5"})]


@synchronously
async def test_never_two_steps_in_flight_for_one_run() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    gate = asyncio.Event()
    original = fake.act_uid

    async def slow(uid: str, command: str, /, **params: object) -> Outcome:
        await gate.wait()
        return await original(uid, command, **params)

    fake.act_uid = slow  # type: ignore[method-assign]
    fake.answers["getTours"] = lambda: tours_answer(tour_xml(step=0, due=-1))
    for _ in range(3):
        await ops.poll()
        await settle()
    gate.set()
    await settle()
    assert [uid for uid, _, _ in fake.acts] == ["ws1-abcd-t1-1"]


@synchronously
async def test_the_secondary_of_a_pair_whose_primary_is_there_does_not_drive() -> None:
    fake = FakeClient()
    p = fake.view.peer
    p.configured, p.role, p.reachable = True, "secondary", True
    ops = make_ops(fake, station="deskB", owner="wall1")
    fake.answers["getTours"] = lambda: tours_answer(tour_xml(owner="wall1", due=-1))
    await ops.poll()
    await settle()
    assert fake.acts == []
    p.reachable = False  # the primary is gone: this console has control and goes on from the recorded step
    await ops.poll()
    await settle()
    assert [uid for uid, _, _ in fake.acts] == ["ws1-abcd-t1-0"]


@synchronously
async def test_a_step_refused_as_out_of_order_polls_again_at_once() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    refused = parse_result('<result errorcode="-117"><description>step 7 is next</description></result>')
    fake.answer_act = lambda uid, command: refused
    fake.answers["getTours"] = lambda: tours_answer(tour_xml(step=2, due=-1))
    await ops.poll()
    await settle()
    assert ops._wake.is_set()


@synchronously
async def test_a_step_whose_uid_expired_goes_again_under_a_new_uid_and_one_not_answered_under_the_same() -> None:
    """An expired (or in doubt) answer spends the uid: the step would wait for ever on it. No answer at all may
    still execute: the same uid again."""
    fake = FakeClient()
    ops = make_ops(fake)
    expired = parse_result('<result errorcode="-114"><description>not executed in time</description></result>')
    answers = iter([expired, None, expired])
    fake.answer_act = lambda uid, command: next(answers, None)
    fake.answers["getTours"] = lambda: tours_answer(tour_xml(step=2, due=-1))
    for _ in range(4):
        await ops.poll()
        await settle()
    assert [uid for uid, _, _ in fake.acts] == [
        "ws1-abcd-t1-3",
        "ws1-abcd-t1-3-r1",  # the first was expired
        "ws1-abcd-t1-3-r1",  # no manager answered that one: it may run, so the same uid
        "ws1-abcd-t1-3-r2",
    ]


@synchronously
async def test_start_tour_sends_the_definition_and_a_bad_one_sends_nothing() -> None:
    fake = FakeClient()
    ops = make_ops(fake, owner="wall1")
    o = await ops.start_tour(TourDefinition("Gate", [("101", None), ("102", 3)], 4), "1", "2", "3")
    (_, command, params), *_ = fake.acts
    assert command == "startTour" and o.params["run"] == params["run"]
    assert {k: v for k, v in params.items() if k != "run"} == {
        "name": "Gate",
        "owner": "wall1",
        "divaid": "1",
        "layoutid": "2",
        "panelid": "3",
        "dwell": "4",
        "cameras": "101,102:3",
        "station": "ws1",
    }
    with pytest.raises(ValueError, match="no cameras"):
        await ops.start_tour(TourDefinition("Gate", [], 4), "1", "2", "3")
    assert len(fake.acts) == 1


@synchronously
async def test_acknowledge_and_close_carry_station_and_comment() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    await ops.acknowledge(AID, "a cat")
    await ops.close_alarm(AID)
    assert [(c, p) for _, c, p in fake.acts] == [
        ("acknowledgeAlarm", {"alarmid": AID, "station": "ws1", "comment": "a cat"}),
        ("closeAlarm", {"alarmid": AID, "station": "ws1"}),
    ]


# -- PTZ -------------------------------------------------------------------------------------------------


@synchronously
async def test_holder_is_another_console_never_ours() -> None:
    fake = FakeClient()
    ops = make_ops(fake)
    fake.answers["getPtzControl"] = lambda: ptz_answer(("1", "104", "ws2", 5, ""), ("1", "105", "ws1", 5, ""))
    await ops.poll()
    h = ops.holder("1", "104")
    assert h is not None and h.console == "ws2"
    assert ops.holder("1", "105") is None and ops.holder("1", "106") is None


@synchronously
async def test_ptz_moves_carry_console_and_priority_once_an_ops_client_is_attached() -> None:
    client = RedundantClient(ClientSettings("ws1", ["http://127.0.0.1:9"]))
    sent: list[Outcome] = []

    async def capture(o: Outcome) -> None:
        sent.append(o)

    client._dispatch = capture  # type: ignore[method-assign]
    try:
        await client.act("setRelativePosition", serverid=1, deviceid=104, pan=500)
        ops = OpsClient(client, "ws1", "ws1", ptz_priority=7)
        await client.act("setRelativePosition", serverid=1, deviceid=104, pan=500)
        await client.act("setAbsolutePosition", serverid=1, cameraid=104, pan=0)
        await client.act("gotoPreset", serverid=1, cameraid=104, preset=2)
        await ops.close()
        await client.act("setRelativePosition", serverid=1, deviceid=104, pan=0)
    finally:
        await client.close()
    assert ["console" in o.params for o in sent] == [False, True, True, False, False]
    assert sent[1].params["priority"] == "7" and sent[1].params["console"] == "ws1"


def test_the_two_consoles_of_a_pair_steer_a_dome_as_one() -> None:
    """A pair is one operator position: both name the pair as the dome's holder, so neither locks the other out."""
    from app.client.ops_model import PtzControl

    ops = make_ops(FakeClient(), station="deskB", owner="wall1")
    assert ops.ptz_params() == {"console": "wall1", "priority": "5"}
    held = PtzControl("1", "101", "wall1", 5, 12, "")
    ops.state.ptz[("1", "101")] = held
    assert ops.holder("1", "101") is None  # our pair's: free for us
    ops.state.ptz[("1", "101")] = PtzControl("1", "101", "desk9", 5, 12, "")
    assert ops.holder("1", "101") is not None


@synchronously
async def test_a_tour_nobody_steps_is_told_stalled_once_and_again_when_it_steps() -> None:
    """A run whose console (and its pair) is gone stays 'running' in the managers; the console says it stalled."""
    fake = FakeClient()
    ops = make_ops(fake, station="ws2", owner="ws2")  # not the owner: it only watches the tour of ws1
    lines: list[str] = []
    ops.subscribe(lambda _state, new: lines.extend(new))
    fake.answers["getTours"] = lambda: tours_answer(tour_xml(step=1, due=-3))  # late, within the grace
    await ops.poll()
    assert ops.state.tours[0].overdue == 0 and not [x for x in lines if "stalled" in x]
    fake.answers["getTours"] = lambda: tours_answer(tour_xml(step=1, due=-16))  # dwell 5 s, 16 s late
    await ops.poll()
    await ops.poll()
    assert ops.state.tours[0].overdue == pytest.approx(6)
    assert [x for x in lines if "stalled" in x] == [
        "tour Gate round stalled: no step for 16 s (ws1 is not stepping it)"
    ]
    fake.answers["getTours"] = lambda: tours_answer(tour_xml(step=2, due=5))
    await ops.poll()
    assert "tour Gate round steps again" in lines
    fake.answers["getTours"] = lambda: tours_answer(tour_xml(step=2, due=-60, state="paused"))
    await ops.poll()
    assert ops.state.tours[0].overdue == 0  # a paused tour is not stalled
    assert fake.acts == []


@synchronously
async def test_a_quiet_first_poll_is_told_once_so_the_console_stops_waiting() -> None:
    """No alarms, no tours, no domes held: the listeners still get the first state (the strip's ALARMS tile showed
    'waiting for the managers' until the first alarm), and nothing more while nothing changes."""
    fake = FakeClient()
    ops = make_ops(fake)
    told: list[tuple[Any, list[str]]] = []
    ops.subscribe(lambda state, lines: told.append((state, lines)))
    await ops.poll()
    assert len(told) == 1 and told[0][1] == [] and told[0][0].updated > 0 and told[0][0].error == ""
    await ops.poll()
    assert len(told) == 1
