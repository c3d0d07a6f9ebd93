"""`sensetwin client`: the redundant client without a window, driven by JSON lines on stdin.

In:  {"op": "act", "command": "selectCamera", "params": {...}}   {"op": "read", ...}   {"op": "view"}   {"op": "quit"}
     The shared workflows (docs/workflows-protocol.md), each with an optional "tag" echoed in its outcome:
     {"op": "ack" | "close", "alarm": ID, "comment": TEXT}
     {"op": "start_tour", "name", "cameras": "101,102:3", "dwell", "divaid", "layoutid", "panelid"}
     {"op": "pause_tour" | "resume_tour" | "stop_tour", "run": RUN}   {"op": "ops"} (the state now)
Out: {"outcome": {...}} when an action has its answer, {"late": {...}} when the other manager's answer
     arrives, {"change": {"part", "text", "at"}} for every change of the system view, {"view": {...}},
     {"read": {"ok", "errorcode"}}, {"ready": {"peer_port": N}} once started, {"error": "..."} for a line it
     cannot use; {"ops_change": {"text"}} for every change of the shared state, {"ops_error": TEXT} when the
     reason the last poll kept old data changes, {"ops": {...}} for {"op": "ops"}.
Used by the end-to-end tests and the fault-injection suite, and handy for scripting a control room.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from typing import Any

from .ops import OpsClient, OpsState, TourDefinition
from .outcome import Outcome
from .redundant import ActionError, ClientSettings, RedundantClient
from .view import Change

OPS_ACTIONS = ("ack", "close", "start_tour", "pause_tour", "resume_tour", "stop_tour")


def _out(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


async def run(settings: ClientSettings) -> int:
    client = RedundantClient(settings)
    ops = OpsClient(
        client, settings.station, settings.pair.name if settings.pair else settings.station, settings.ptz_priority
    )
    last_error = ""

    def on_ops(state: OpsState, lines: list[str]) -> None:
        nonlocal last_error
        for line in lines:
            _out({"ops_change": {"text": line}})
        if state.error != last_error:
            last_error = state.error
            _out({"ops_error": state.error})

    ops.subscribe(on_ops)

    def on_change(view: object, changes: list[Change]) -> None:
        for c in changes:
            _out({"change": dataclasses.asdict(c)})

    client.subscribe(on_change)
    late_sent: set[str] = set()

    def on_outcome(o: Outcome) -> None:
        if o.finished and o.result is not None and o.uid + o.origin not in late_sent:
            late_sent.add(o.uid + o.origin)
            _out({"late": o.as_dict()})

    client.subscribe_outcomes(on_outcome)
    # subscribed before starting: the changes of the first answers are printed too
    await client.start()
    await ops.start()
    _out({"ready": {"peer_port": client.pair.port if client.pair else 0, "station": settings.station}})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks: set[asyncio.Task[None]] = set()

    async def act(msg: dict[str, Any]) -> None:
        o = await client.act(str(msg["command"]), **dict(msg.get("params", {})))
        _out({"outcome": {**o.as_dict(), "tag": msg.get("tag")}})

    async def read(msg: dict[str, Any]) -> None:
        try:
            r = await client.read(str(msg["command"]), **dict(msg.get("params", {})))
            _out({"read": {"ok": r.ok, "errorcode": r.errorcode, "tag": msg.get("tag")}})
        except (ActionError, ValueError) as exc:
            _out({"read": {"ok": False, "error": str(exc), "tag": msg.get("tag")}})

    async def ops_act(msg: dict[str, Any]) -> None:
        op, tag = msg["op"], msg.get("tag")
        try:
            if op in ("ack", "close"):
                alarm, comment = str(msg.get("alarm", "")), str(msg.get("comment", ""))
                fn = ops.acknowledge if op == "ack" else ops.close_alarm
                o = await fn(alarm, comment)
            elif op == "start_tour":
                d = TourDefinition(
                    str(msg.get("name", "")),
                    TourDefinition.parse_cameras(str(msg.get("cameras", ""))),
                    float(msg.get("dwell", 10)),
                )
                o = await ops.start_tour(
                    d, str(msg.get("divaid", "")), str(msg.get("layoutid", "")), str(msg.get("panelid", ""))
                )
            else:
                tour_ops = {"pause_tour": ops.pause_tour, "resume_tour": ops.resume_tour, "stop_tour": ops.stop_tour}
                o = await tour_ops[op](str(msg.get("run", "")))
        except (ValueError, TypeError) as exc:
            _out({"error": str(exc), "tag": tag})
            return
        _out({"outcome": {**o.as_dict(), "tag": tag}})

    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            try:
                msg = json.loads(line)
                op = msg.get("op")
            except (ValueError, AttributeError):
                _out({"error": f"not a JSON object: {line[:80]!r}"})
                continue
            if op == "quit":
                break
            if op == "view":
                _out({"view": dataclasses.asdict(client.view), "summary": client.view.summary()})
            elif op == "ops":
                _out({"ops": ops_dict(ops.state)})
            elif op in OPS_ACTIONS:
                t = asyncio.create_task(ops_act(msg))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            elif op == "read" and isinstance(msg.get("command"), str):
                t = asyncio.create_task(read(msg))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            elif op == "act" and isinstance(msg.get("command"), str):
                t = asyncio.create_task(act(msg))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            else:
                _out({"error": f"unknown op {op!r}"})
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        await ops.close()
        await client.close()
    return 0


def ops_dict(state: OpsState) -> dict[str, Any]:
    """The state as JSON can carry it: the PTZ controls as a list."""
    d = dataclasses.asdict(state)
    d["ptz"] = [dataclasses.asdict(c) for c in state.ptz.values()]
    return d
