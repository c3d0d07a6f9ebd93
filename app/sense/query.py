"""Encode and decode `/command?command=NAME&param=value&uid=...` requests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from .codes import ResultCode
from .errors import SenseError

MAX_QUERY_BYTES = 65536
MAX_PARAMS = 64


@dataclass(frozen=True)
class CommandRequest:
    """A decoded request: the command name as sent, its parameters with lower-case names, and the uid."""

    command: str
    params: dict[str, str] = field(default_factory=dict)
    uid: str | None = None

    @property
    def key(self) -> str:
        return self.command.lower()

    def canonical_params(self) -> str:
        """The parameters in a stable form, to tell a re-sent copy from a different command under one uid."""
        return urlencode(sorted(self.params.items()))


def encode(command: str, params: Mapping[str, object] | None = None, uid: str | None = None) -> str:
    """The query string of a command (without '?'). Values are sent as strings; None values are left out."""
    items: list[tuple[str, str]] = [("command", command)]
    for k, v in (params or {}).items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        items.append((k, str(v)))
    if uid is not None:
        items.append(("uid", uid))
    return urlencode(items)


def decode(query: str, *, max_bytes: int = MAX_QUERY_BYTES, max_params: int = MAX_PARAMS) -> CommandRequest:
    """Decode a raw query string. Names are case-insensitive; a name given twice, bytes that are not UTF-8,
    an over-long query or too many parameters are refused with a Sense error, never guessed at."""
    if len(query) > max_bytes:
        raise SenseError.of(
            ResultCode.BAD_REQUEST, f"the request is {len(query)} bytes long; at most {max_bytes} are accepted"
        )
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict", max_num_fields=max_params)
    except UnicodeDecodeError:
        raise SenseError.of(ResultCode.BAD_REQUEST, "the request is not valid UTF-8 after URL decoding") from None
    except ValueError:
        raise SenseError.of(ResultCode.BAD_REQUEST, f"the request has more than {max_params} parameters") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        key = name.strip().lower()
        if key in params:
            raise SenseError.of(ResultCode.BAD_REQUEST, f"parameter '{key}' is given more than once")
        if any(ord(c) < 32 for c in key):
            raise SenseError.of(ResultCode.BAD_REQUEST, "a parameter name contains control characters")
        params[key] = value
    command = params.pop("command", "").strip()
    if not command:
        raise SenseError.of(
            ResultCode.NOT_ENOUGH_PARAMETERS, "no command given: send /command?command=NAME&parameter=value"
        )
    uid = params.pop("uid", None)
    return CommandRequest(command, params, uid)
