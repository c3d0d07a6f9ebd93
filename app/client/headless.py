"""`sensetwin client`: the redundant client without a window, driven by JSON lines on stdin.

In:  {"op": "act", "command": "selectCamera", "params": {...}}   {"op": "read", ...}   {"op": "view"}   {"op": "quit"}
Out: {"outcome": {...}} when an action has its answer, {"late": {...}} when the other manager's answer
     arrives, {"change": {"part", "text", "at"}} for every change of the system view, {"view": {...}},
     {"read": {"ok", "errorcode"}}, {"ready": {"peer_port": N}} once started, {"error": "..."} for a line it
     cannot use.
Used by the end-to-end tests and the fault-injection suite, and handy for scripting a control room.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from typing import Any

from .outcome import Outcome
from .redundant import ActionError, ClientSettings, RedundantClient
from .view import Change


def _out(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


async def run(settings: ClientSettings) -> int:
    client = RedundantClient(settings)
    await client.start()

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
        await client.close()
    return 0
