"""The one exception type that carries a Sense result code."""

from __future__ import annotations

from .codes import ResultCode


class SenseError(Exception):
    """A request failed with a Sense result code and a description that says what to do."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{code} {description}")
        self.code = int(code)
        self.description = description

    @classmethod
    def of(cls, code: ResultCode, description: str = "") -> SenseError:
        return cls(code, description or code.label)
