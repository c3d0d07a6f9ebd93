"""Who may act: access tokens checked in constant time, a per-console action rate, TLS contexts, and secrets that
never print themselves. Shared by the manager (checks), the console (sends) and the paired-console link."""

from __future__ import annotations

import hmac
import ipaddress
import os
import ssl
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TOKEN_HEADER = "X-SenseTwin-Token"
# Our extension on actions a manager forwards: the epoch of the server it chose as active (a fencing token). A
# server whose epoch changed since refuses the command (-107) instead of running it late; a real Sense server
# ignores the header.
EPOCH_HEADER = "X-SenseTwin-Epoch"
MIN_TOKEN_LENGTH = 16
MAX_TOKEN_LENGTH = 256


class Secret(str):
    """A string that shows as '***' in repr(), logs and tracebacks; str(secret) or secret.value gives it back."""

    def __repr__(self) -> str:
        return "'***'" if self else "''"

    @property
    def value(self) -> str:
        return str.__str__(self)


def check_token_text(name: str, token: str) -> None:
    """A token an installer typed: long enough to resist guessing, printable, no spaces."""
    if not MIN_TOKEN_LENGTH <= len(token) <= MAX_TOKEN_LENGTH or not token.isascii() or not token.isprintable():
        raise ValueError(
            f"token {name!r} must be {MIN_TOKEN_LENGTH} to {MAX_TOKEN_LENGTH} printable ASCII characters; "
            "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if " " in token:
        raise ValueError(f"token {name!r} must not contain spaces")
    if "CHANGE-ME" in token:
        raise ValueError(f"token {name!r} is still the example value; replace every CHANGE-ME token")


class TokenCheck:
    """The tokens a service accepts, by name (a site token, or one per station, or old and new during rotation).

    `identify` compares the presented token with every configured one with hmac.compare_digest and never stops
    early, so the time it takes does not tell which token nor how much of one matched. Only names are ever logged.
    """

    def __init__(self, tokens: Mapping[str, str]) -> None:
        for name, token in tokens.items():
            check_token_text(name, token)
        self._tokens = [(name, token.encode("ascii")) for name, token in tokens.items()]

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self._tokens]

    def identify(self, presented: str | None) -> str | None:
        """The name of the token presented, or None when it is missing or matches none."""
        if presented is None:
            return None
        raw = presented.encode("utf-8", "replace")[:MAX_TOKEN_LENGTH]
        found = None
        for name, token in self._tokens:
            if hmac.compare_digest(raw, token) and found is None:
                found = name
        return found


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimit:
    """A token bucket per key: `rate` actions a second on average, `burst` at once. rate 0 means no limit."""

    def __init__(self, rate: float, burst: int, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = max(burst, 1)
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        if self.rate <= 0:
            return True
        t = time.monotonic() if now is None else now
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets.clear()  # a flood of made-up keys must not grow memory; forgetting refills buckets
            b = self._buckets[key] = _Bucket(float(self.burst), t)
        b.tokens = min(float(self.burst), b.tokens + (t - b.at) * self.rate)
        b.at = t
        if b.tokens < 1:
            return False
        b.tokens -= 1
        return True


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_tls(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The TLS context a service serves https with, or None for plain http. Errors name the file and the fix."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ValueError("tls_cert and tls_key go together: give both files, or neither for plain http")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise ValueError(f"TLS file {exc.filename} does not exist") from None
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"cannot use TLS certificate {cert} with key {key}: {exc}") from None
    return ctx


def client_tls(ca_bundle: Path | None) -> ssl.SSLContext:
    """The context for https requests: the system's trusted CAs, or only those of `ca_bundle` when given."""
    try:
        ctx = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    except FileNotFoundError:
        raise ValueError(f"CA bundle {ca_bundle} does not exist") from None
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"cannot read CA bundle {ca_bundle}: {exc}") from None
    return ctx


def etcd_tls(ca_bundle: Path | None, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    """The context for https etcd members: their CA (or the system's), and this manager's client certificate."""
    ctx = client_tls(ca_bundle)
    if cert is not None:
        try:
            ctx.load_cert_chain(str(cert), str(key) if key else None)
        except FileNotFoundError:
            raise ValueError(f"etcd client certificate {cert} or its key {key} does not exist") from None
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"cannot use etcd client certificate {cert}: {exc}") from None
    return ctx


def readable_by_others(path: Path) -> bool:
    return os.name == "posix" and bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def refuse_if_readable_by_others(path: Path, what: str = "it holds secrets") -> None:
    if readable_by_others(path):
        raise ValueError(f"{path} can be read by other users and {what}. Fix it with: chmod 600 {path}")
