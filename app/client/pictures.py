"""Pictures through the managers: getLiveImage and getHistoricalImage answers as bytes and content type, bounded in
size and time, from the manager that executes now and else from the other; a failure in words for the panel.

No decoding here (the console decodes in a worker thread); only a look at the first bytes, so an XML body
labelled image/jpeg is called what it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..sense import ResultCode, SenseError, parse_result
from .outcome import NOT_FINAL

PICTURE_COMMANDS = ("getLiveImage", "getHistoricalImage")

# The panel's words for what the server said (SENSE_API_NOTES §1.6; -3 and -11 per getHistoricalImage TP-46).
_REASONS: dict[int, str] = {
    ResultCode.NO_DEVICE: "unknown camera",
    ResultCode.ERROR_HISTORICAL_IMAGE: "no recording at that time",
    ResultCode.INVALID_TIMESTAMP: "invalid time",
    ResultCode.ERROR_LIVE_IMAGE: "live image error",
    ResultCode.NO_IMAGE: "no image",
    ResultCode.NO_SERVER: "unknown recording server",
    ResultCode.GENERAL_ERROR: "server error",
    ResultCode.DEVICE_NOT_ACTIVE: "device not active",
    ResultCode.DEVICE_CONNECTION_LOST: "device connection lost",
    ResultCode.NOT_IMPLEMENTED: "not offered by this server",
}

_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF8", b"BM")


@dataclass(frozen=True)
class Picture:
    body: bytes
    content_type: str
    manager: str  # the manager that answered ("primary", "secondary")
    latency_ms: float


class PictureError(Exception):
    """No picture: `reason` is the panel's short words ("device not active"), `detail` what each manager said,
    `code` the Sense result code when the server answered one; `final` when the server said so (asking again
    elsewhere would not help), not when a link or a manager failed."""

    def __init__(self, reason: str, detail: str = "", code: int | None = None, final: bool = False) -> None:
        super().__init__(f"{reason} ({detail})" if detail else reason)
        self.reason = reason
        self.detail = detail or reason
        self.code = code
        self.final = final


def reason_of(code: int, description: str = "") -> str:
    return _REASONS.get(code) or (description or f"result code {code}").lower()


def looks_like_xml(body: bytes) -> bool:
    return body[:64].lstrip()[:1] == b"<"


def check_answer(body: bytes, content_type: str) -> None:
    """Raise PictureError unless this answer is a picture. A Sense error (XML) is final unless it is one of the
    manager's own "could not do it" codes; a body that is not what its content type says is not."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype.startswith("image/"):
        if body.startswith(_MAGIC):
            return
        if looks_like_xml(body):
            raise PictureError("corrupt answer: XML labelled as a picture", f"{ctype} body starts with '<'")
        if not body:
            raise PictureError("empty picture", f"{ctype} with no body")
        raise PictureError("corrupt picture", f"{ctype} body does not start like a picture")
    try:
        r = parse_result(body)
    except SenseError as exc:
        raise PictureError("not a picture", f"{ctype or 'no content type'}: {exc.description}") from None
    if r.errorcode in NOT_FINAL:
        raise PictureError(reason_of(r.errorcode, r.message()), r.message(), r.errorcode)
    if r.errorcode < 0:
        raise PictureError(reason_of(r.errorcode, r.description), r.message(), r.errorcode, final=True)
    raise PictureError("no picture in the answer", f"{ctype or 'no content type'} with result code {r.errorcode}")


class ManagerOrder:
    """Which manager to ask for a picture first: the executing one, unless it failed a picture a moment ago (a
    paused manager would otherwise cost every panel a timeout until the watch sees it)."""

    def __init__(self, avoid_for: float) -> None:
        self.avoid_for = avoid_for
        self._failed_at: dict[str, float] = {}

    def order(self, names: list[str], executing: str | None) -> list[str]:
        now = time.monotonic()
        recent = {n for n, t in self._failed_at.items() if now - t < self.avoid_for}
        return sorted(names, key=lambda n: (n in recent, n != executing))

    def failed(self, name: str) -> None:
        self._failed_at[name] = time.monotonic()

    def answered(self, name: str) -> None:
        self._failed_at.pop(name, None)
