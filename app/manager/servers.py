"""The manager's view of the Sense server pair (F/G): who is active, and forwarding to it.

Both servers' /info are checked every poll. The active server is a reachable one that says it is active with
the highest epoch this manager has ever seen; a server that comes back active with a lower epoch is stale and
gets nothing. A real Sense server without our <state> tag is judged by getHardwareStatus instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from ..config import DEFAULTS
from ..http_service import BodyTooLarge, read_body, upstream_session
from ..security import EPOCH_HEADER
from ..sense import ResultCode, SenseError, XmlError, parse_result, parse_xml
from ..sense.login import Login
from ..tasks import cancel_and_wait

log = logging.getLogger(__name__)
MAX_ANSWER_BYTES = 8 * 1024 * 1024  # a server's answer to a forwarded command (a site's getDeviceList is ~0.5 MiB)
MAX_INFO_BYTES = 64 * 1024  # /info, a login answer, getHardwareStatus, getUidStatus: a few hundred bytes


class NotSent(SenseError):
    """The action certainly did not reach a server that could execute it."""


class MaybeSent(SenseError):
    """The action may have been executed: a server took it and then failed to answer."""


@dataclass
class ServerView:
    name: str  # "primary" | "secondary": its place in the configured pair
    url: str
    reachable: bool = False
    state: str = "unknown"
    epoch: int = 0
    since: str = ""
    reason: str = ""
    logged_in: bool = False
    tls_warned: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} server"


class ServerFollower:
    def __init__(
        self,
        urls: list[str],
        poll: float,
        timeout: float,
        on_change: Callable[[str], None],
        tls: ssl.SSLContext | None = None,
        login: Login | None = None,
        read_total: float = 30.0,
    ) -> None:
        names = ["primary", "secondary"]
        self.views = [ServerView(names[i] if i < 2 else f"server {i + 1}", u.rstrip("/")) for i, u in enumerate(urls)]
        self.poll = poll
        self.timeout = timeout
        self.read_total = read_total
        self.max_epoch = 0
        self._on_change = on_change
        self._active: ServerView | None = None
        self._changed = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._tls = tls
        self._login = login

    async def start(self) -> None:
        # No kept-alive connections: a dead server then refuses the connection ("not sent"), where a pooled
        # connection would fail after the request was written ("maybe sent") and make an action in doubt. Measured
        # on the lab (chaos seed 1, twice each): with connections kept alive for 1 s, 1-3 actions ran late and 0-2
        # on a superseded server after a stalled server went on; without, none. Probably: a request on a kept-alive
        # connection is read the moment a stalled server runs again, before it has checked its peer; a new
        # connection waits in the accept queue. The cost: about half a millisecond of CPU per action at each end.
        self._session = upstream_session(
            connector=aiohttp.TCPConnector(limit=64, force_close=True, ssl=self._tls or True)
        )
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="server-follower")

    async def close(self) -> None:
        await cancel_and_wait([self._task])
        if self._session:
            await self._session.close()

    @property
    def active(self) -> ServerView | None:
        return self._active

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            try:
                await self.refresh()
            except Exception:  # the follower must outlive any one bad answer
                log.exception("server poll failed")

    async def refresh(self) -> None:
        await asyncio.gather(*(self._check(v) for v in self.views))
        self.max_epoch = max([self.max_epoch, *(v.epoch for v in self.views if v.reachable)])
        candidates = [v for v in self.views if v.reachable and v.state == "active" and v.epoch >= self.max_epoch]
        new = candidates[0] if len(candidates) == 1 else None
        if new is not self._active:
            old, self._active = self._active, new
            if new is None:
                reason = "no active server" + (f" ({old.label} {self._why(old)})" if old else "")
            else:
                reason = f"{new.label} is active (epoch {new.epoch})" + (
                    f"; {new.reason}" if new.reason and new.reason != "starting" else ""
                )
            self._changed.set()
            self._changed = asyncio.Event()
            self._on_change(reason)

    @staticmethod
    def _why(v: ServerView) -> str:
        return "unreachable" if not v.reachable else v.state

    async def _check(self, v: ServerView) -> None:
        assert self._session is not None
        try:
            limit = aiohttp.ClientTimeout(total=min(self.timeout, DEFAULTS.info_timeout))
            async with self._session.get(v.url + "/info", timeout=limit) as r:
                root = parse_xml(await read_body(r, MAX_INFO_BYTES, f"{v.label} /info"))
            state = root.findtext("state")
            v.epoch = int(root.findtext("epoch") or 0)
            v.since = root.findtext("since") or ""
            v.reason = root.findtext("reason") or ""
            if state is None:
                state = await self._hardware_state(v)
            v.state, v.reachable = state, True
        except (aiohttp.ClientError, TimeoutError, SenseError, ValueError, OSError) as exc:
            if isinstance(exc, BodyTooLarge):
                if v.reachable or v.reason != str(exc):  # once per outage, not every poll
                    log.error("%s at %s counts as unreachable: %s", v.label, v.url, exc)
                v.reachable, v.state, v.logged_in, v.reason = False, "unreachable", False, str(exc)
                return
            if v.reachable:
                log.warning("%s at %s is unreachable", v.label, v.url)
            elif isinstance(exc, aiohttp.ClientSSLError) and not v.tls_warned:
                v.tls_warned = True
                log.error("%s at %s: TLS failed (%s); check ca_bundle in the manager config", v.label, v.url, exc)
            v.reachable, v.state, v.logged_in = False, "unreachable", False
            return
        if self._login is not None and not v.logged_in:
            await self._log_in(v, self._login)

    async def _log_in(self, v: ServerView, login: Login) -> None:
        """Log in on the server's /webservice with the configured user (SENSE_API.md: AuthenticateUserDigest).
        The password and the digest never reach a log; a refusal is logged once per outage with what to check."""
        assert self._session is not None
        try:
            async with self._session.post(
                v.url + "/webservice",
                data=login.message(),
                headers={"Content-Type": "text/xml"},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as r:
                res = (
                    parse_result(await read_body(r, MAX_INFO_BYTES, f"{v.label}'s login answer"))
                    if r.status == 200
                    else None
                )
        except (aiohttp.ClientError, TimeoutError, OSError, SenseError, ValueError) as exc:
            log.warning("%s at %s: login as %r failed: %s", v.label, v.url, login.user, type(exc).__name__)
            return
        v.logged_in = True  # tried: not again until the server was unreachable
        if res is None:
            log.warning("%s at %s has no /webservice (HTTP %s); going on without a login", v.label, v.url, r.status)
        elif res.ok:
            log.info("%s at %s: logged in as %r", v.label, v.url, login.user)
        else:
            log.error(
                "%s at %s refused the login as %r (%s); check server_user and server_password in the manager config",
                v.label,
                v.url,
                login.user,
                res.message(),
            )

    async def _hardware_state(self, v: ServerView) -> str:
        """A real Sense pair: the secondary is active exactly while it reports 'failover server is active'."""
        assert self._session is not None
        async with self._session.get(
            v.url + "/command?command=getHardwareStatus", timeout=aiohttp.ClientTimeout(total=self.timeout)
        ) as r:
            res = parse_result(await read_body(r, MAX_INFO_BYTES, f"{v.label}'s getHardwareStatus"))
        failover = "failover server is active" in res.text("hardwarestatus/description").lower()
        return "active" if failover == (v.name == "secondary") else "standby"

    async def wait_change(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)

    def _timeout(self, read: bool) -> aiohttp.ClientTimeout:
        """An action's answer is small and must come within the upstream timeout (the console waits for it); a read
        may be a large answer on a slow link: it only has to keep arriving (each piece within the timeout)."""
        if read:
            return aiohttp.ClientTimeout(total=self.read_total, sock_connect=self.timeout, sock_read=self.timeout)
        return aiohttp.ClientTimeout(total=self.timeout)

    async def execute(self, query: str, deadline: float, read: bool = False) -> bytes:
        """Send one command to the active server; hold it (until `deadline`, loop time) through a takeover.

        Raises NotSent when no server took it, MaybeSent when one may have executed it without answering.
        A standby's refusal or a refused connection mean "not executed": the command waits for the new
        active server and goes there.
        """
        body, _ = await self.fetch(query, deadline, read)
        return body

    async def fetch(self, query: str, deadline: float, read: bool = True) -> tuple[bytes, str]:
        """`execute`, with the answer's content type: a picture (image/*) comes back untouched, never parsed."""
        assert self._session is not None
        loop = asyncio.get_running_loop()
        while True:
            target = self._active
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise NotSent.of(
                    ResultCode.NO_ACTIVE_SERVER,
                    "no active Sense server answered in time; the command was not executed, "
                    "send it again (same uid) or check both servers",
                )
            if target is None:
                await self.wait_change(min(remaining, self.poll))
                await self.refresh()
                continue
            try:
                # A fencing token (security.py) on actions, where the server told us its epoch.
                headers = {EPOCH_HEADER: str(target.epoch)} if not read and target.epoch > 0 else None
                async with self._session.get(
                    f"{target.url}/command?{query}", headers=headers, timeout=self._timeout(read)
                ) as r:
                    body = await read_body(r, MAX_ANSWER_BYTES, target.label)
                    ctype = r.headers.get("Content-Type", "")
            except BodyTooLarge as exc:
                # The command reached the server and it answered: an action in it may have been executed.
                raise MaybeSent.of(ResultCode.UPSTREAM_FAILED, str(exc)) from None
            except aiohttp.ClientConnectorError:
                target.reachable = False
                await self.refresh()
                continue
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                await self.refresh()  # the next attempt goes where the servers now say
                raise MaybeSent.of(
                    ResultCode.UPSTREAM_FAILED,
                    f"{target.label} took the command but gave no answer ({type(exc).__name__})",
                ) from None
            if read and ctype.lower().startswith("image/"):
                return body, ctype
            try:
                res = parse_result(body)
            except XmlError as exc:
                raise MaybeSent.of(
                    ResultCode.UPSTREAM_FAILED,
                    f"{target.label} answered something that is not Sense XML: {exc.description}",
                ) from None
            if res.errorcode in (ResultCode.STANDBY_SERVER, ResultCode.STALE_SERVER):
                target.state = "standby"
                await self.refresh()
                if self._active is target:
                    await self.wait_change(self.poll)
                continue
            return body, ctype or "text/xml"

    async def uid_executed(self, uid: str, deadline: float) -> bool | None:
        """Ask the active server whether the action with this uid was executed (our getUidStatus extension).
        Waits (until `deadline`) for a live active server: after a takeover only the new one can tell.
        None when nobody can tell: no active server in time, or a real Sense server, which answers -1."""
        assert self._session is not None
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            target = self._active
            if target is None:
                await self.wait_change(min(self.poll, max(0.0, deadline - loop.time())))
                await self.refresh()
                continue
            try:
                async with self._session.get(
                    f"{target.url}/command",
                    params={"command": "getUidStatus", "uid": uid},
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as r:
                    res = parse_result(await read_body(r, MAX_INFO_BYTES, f"{target.label}'s getUidStatus"))
            except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                target.reachable = False
                await self.refresh()
                if self._active is target:
                    await self.wait_change(self.poll)
                continue
            except (aiohttp.ClientError, TimeoutError, OSError, SenseError, BodyTooLarge):
                return None
            if res.errorcode in (ResultCode.STANDBY_SERVER, ResultCode.STALE_SERVER):
                await self.refresh()
                continue
            if not res.ok:
                return None
            return res.text("uidstatus/executed") == "true"
        return None
