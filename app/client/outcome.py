"""What became of one action: its uid, each manager's answer and latency, and the result shown to the operator."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..sense import Result, ResultCode, describe

# Answers that say "this manager could not do it", not what became of the action: try the other manager.
NOT_FINAL = {
    ResultCode.NO_ACTIVE_SERVER,
    ResultCode.UPSTREAM_FAILED,
    ResultCode.NOT_AUTHORIZED,
    ResultCode.RATE_LIMITED,
    ResultCode.STANDBY_SERVER,
    ResultCode.UID_REQUIRED,
    ResultCode.COORDINATION_UNAVAILABLE,
}


@dataclass
class ManagerAnswer:
    manager: str  # "primary" | "secondary"
    state: str = "pending"  # pending | answered | failed
    errorcode: int | None = None
    description: str = ""
    latency_ms: float | None = None
    error: str = ""  # how the request failed, when it did
    maybe_sent: bool = False

    def text(self) -> str:
        if self.state == "pending":
            return "waiting"
        if self.state == "failed":
            return self.error
        code = self.errorcode if self.errorcode is not None else 0
        return f"{describe(code) if code else 'Ok'} ({code})" + (f": {self.description}" if code < 0 else "")


@dataclass
class Outcome:
    uid: str
    command: str
    params: dict[str, str]
    started: str
    origin: str = "operator"  # operator | peer (mirrored from the paired console) | ops (a reaction, a tour step)
    answers: dict[str, ManagerAnswer] = field(default_factory=dict)
    result: Result | None = None
    first: str | None = None  # the manager whose answer counts
    finished: bool = False
    failure: str = ""  # when no manager gave a usable answer: each one and why

    @property
    def unconfirmed(self) -> bool:
        """No manager gave a usable answer, and one may have taken the action (no answer in time, a dropped
        connection): it may have been executed. That is in doubt, never "failed" (an operator re-clicks a failure)."""
        return self.result is None and self.finished and any(a.maybe_sent for a in self.answers.values())

    @property
    def errorcode(self) -> int | None:
        if self.result is not None:
            return self.result.errorcode
        return ResultCode.IN_DOUBT if self.unconfirmed else None

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok

    @property
    def in_doubt(self) -> bool:
        return self.errorcode == ResultCode.IN_DOUBT

    @property
    def message(self) -> str:
        """What the operator reads."""
        if self.unconfirmed:
            return (
                "IN DOUBT — no manager confirmed it in time, so it may have been executed: check on the wall, "
                f"repeat by hand if needed. {self.failure}"
            )
        if self.result is None:
            return self.failure or "waiting for an answer"
        if self.result.ok:
            return "Ok"
        if self.in_doubt:
            return f"IN DOUBT — check on the wall, repeat by hand if needed. {self.result.description}"
        return f"{describe(self.result.errorcode)}: {self.result.message()}"

    def as_dict(self) -> dict[str, object]:
        return {
            "uid": self.uid,
            "command": self.command,
            "params": self.params,
            "origin": self.origin,
            "ok": self.ok,
            "errorcode": self.errorcode,
            "message": self.message,
            "first": self.first,
            "answers": {
                k: {
                    "state": a.state,
                    "errorcode": a.errorcode,
                    "latency_ms": a.latency_ms,
                    "error": a.error,
                    "description": a.description,
                }
                for k, a in self.answers.items()
            },
        }
