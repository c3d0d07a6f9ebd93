"""The `/webservice` login of a Sense server: an `<AuthenticateUserDigest>` message (SENSE_API.md).

The published reference shows the message (username, nonce, timestamp, a 40-hex digest) but not what is hashed.
**(choice)** digest = SHA-1 hex of username + ":" + nonce + ":" + timestamp + ":" + password; the simulator checks
the same. Against a real server this may need changing here, in one place. The password never leaves this module
except inside the digest.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .xml import el, parse_xml, to_bytes

NONCE = "sensetwin-manager"  # "the nonce identifies the client type"
MAX_SKEW = timedelta(minutes=5)


def digest(user: str, nonce: str, timestamp: str, password: str) -> str:
    return hashlib.sha1(f"{user}:{nonce}:{timestamp}:{password}".encode()).hexdigest()


@dataclass(frozen=True)
class Login:
    user: str
    password: str

    def __repr__(self) -> str:
        return f"Login(user={self.user!r}, password='***')"

    def message(self, now: datetime | None = None) -> bytes:
        ts = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S")
        return to_bytes(
            el(
                "AuthenticateUserDigest",
                None,
                el("username", self.user),
                el("nonce", NONCE),
                el("timestamp", ts),
                el("digest", digest(self.user, NONCE, ts, self.password)),
            )
        )


def check_login(body: bytes, user: str, password: str, now: datetime | None = None) -> str | None:
    """None if `body` is a valid login for user/password; otherwise why not, in words (never the password)."""
    root = parse_xml(body, max_bytes=16384)
    if root.tag != "authenticateuserdigest":
        return "expected an <AuthenticateUserDigest> message"
    sent_user, nonce = root.findtext("username") or "", root.findtext("nonce") or ""
    ts, sent = root.findtext("timestamp") or "", (root.findtext("digest") or "").lower()
    try:
        at = datetime.strptime(ts, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return "timestamp must be UTC yyyy-mm-dd hh:mm:ss"
    if abs((now or datetime.now(UTC)) - at) > MAX_SKEW:
        return "timestamp is more than 5 minutes off: check the clock"
    good = hmac.compare_digest(sent.encode(), digest(user, nonce, ts, password).encode())
    if sent_user != user or not good:
        return "unknown user or wrong password"
    return None
