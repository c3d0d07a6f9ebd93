"""A headless console (`sensetwin client`) as a real process, driven over its stdin/stdout JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app.demo.topology import _die_with_parent

ROOT = Path(__file__).resolve().parents[1]


class ConsoleProcess:
    """`prefix` runs the console through another command, e.g. `ip netns exec NS` (the lab). Every line read
    carries `_t` (monotonic) and `_wall` (time.time(), comparable with the servers' journal timestamps)."""

    def __init__(
        self,
        args: list[str],
        log: Path,
        env: dict[str, str] | None = None,
        prefix: Sequence[str] = (),
        cwd: Path = ROOT,
    ) -> None:
        self.lines: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "app", "client", *args],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**os.environ, **env} if env else None,
            preexec_fn=_die_with_parent,  # no orphaned consoles if a test run is killed
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                item = json.loads(raw)
            except ValueError:
                continue
            with self._lock:
                self.lines.append({**item, "_t": time.monotonic(), "_wall": time.time()})

    def send(self, **msg: Any) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise RuntimeError(f"console process ended with status {self.proc.wait()}") from None

    def act(self, command: str, tag: str = "", **params: Any) -> None:
        self.send(op="act", command=command, params={k: str(v) for k, v in params.items()}, tag=tag)

    def find(self, pred: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self._lock:
            return [x for x in self.lines if pred(x)]

    def outcomes(self) -> list[dict[str, Any]]:
        return [x["outcome"] for x in self.find(lambda x: "outcome" in x)]

    def changes(self) -> list[tuple[float, str]]:
        return [(x["_t"], x["change"]["text"]) for x in self.find(lambda x: "change" in x)]

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(op="quit")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for s in (self.proc.stdin, self.proc.stdout):
            if s:
                s.close()
        self._log.close()
