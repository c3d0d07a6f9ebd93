"""The managers' coordination through etcd: the truth about every uid, and which manager processes are alive.

Keys under the site's prefix P (default "/sensetwin/"):
  P site           {"project": "sensetwin", "site": NAME}: written once by the first primary; a manager refuses a
                   cluster or prefix without it (secondary) or with another site name (both).
  P live/ROLE      {"instance", "mode", "since", "reason"} on this process's liveness lease (a few seconds' TTL).
  P uid/UID        {"state": "claimed" | "done" | "expired", "by", "instance", "command", "params", "code",
                   "answer"} on a lease per time bucket, so a uid is remembered for the dedup window.

A manager sends an action only after its claim transaction won: `create_revision(P uid/UID) == 0` and its own
liveness key still the one it registered. Exactly one claim can ever win a uid. `done` and `expired` are written
under a compare on the claim's revision.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..sense.events import utc_now
from ..tasks import cancel_and_wait
from .etcd import (
    EtcdClient,
    EtcdError,
    EtcdRefused,
    EtcdUnavailable,
    EtcdUnknown,
    KeyValue,
    TxnResult,
    WatchCompacted,
    b64,
    cmp_create,
    cmp_mod,
    op_get,
    op_put,
)
from .group import GroupCommit

log = logging.getLogger(__name__)
PROJECT = "sensetwin"
SETTLE_BATCH = 64  # done/expired writes in one transaction at most (etcd's default max-txn-ops is 128)
CLAIM_BATCH = 64  # claims in one transaction at most: as many compares + ours, as many puts


class CoordinationError(Exception):
    """The coordination cannot be used as configured; the text says what to do (a start-up refusal)."""


@dataclass(slots=True)
class UidRecord:
    uid: str
    state: str  # claimed | done | expired
    by: str  # the claiming manager's role
    instance: str  # ... and process
    command: str
    params: str
    code: int | None
    answer: bytes | None
    mod_revision: int
    lease: int
    reexecuted: bool = False

    @property
    def final(self) -> bool:
        return self.state in ("done", "expired")

    @classmethod
    def of(cls, uid: str, kv: KeyValue) -> UidRecord:
        """The record in `kv`. A value that does not decode is a claim by an unknown process (so in doubt), never
        a free uid: something wrote that key."""
        v = kv.json()
        try:
            answer = v.get("answer")
            state = str(v.get("state", "claimed"))
            rec = cls(
                uid,
                state if state in ("claimed", "done", "expired") else "claimed",
                str(v.get("by", "")),
                str(v.get("instance", "")),
                str(v.get("command", "")),
                str(v.get("params", "")),
                v["code"] if isinstance(v.get("code"), int) and not isinstance(v.get("code"), bool) else None,
                base64.b64decode(answer, validate=True) if isinstance(answer, str) else None,
                kv.mod_revision,
                kv.lease,
            )
        except (ValueError, TypeError, binascii.Error):
            return cls(uid, "claimed", "", "", "", "", None, None, kv.mod_revision, kv.lease)
        if rec.final and rec.answer is None:
            rec.state = "claimed"  # a done without its answer cannot be given to anyone: treat as unfinished
        return rec

    def value(self) -> str:
        v: dict[str, Any] = {
            "state": self.state,
            "by": self.by,
            "instance": self.instance,
            "command": self.command,
            "params": self.params,
        }
        if self.code is not None:
            v["code"] = self.code
        if self.answer is not None:
            v["answer"] = base64.b64encode(self.answer).decode("ascii")
        return json.dumps(v, separators=(",", ":"))


@dataclass
class LiveManager:
    role: str
    instance: str
    mode: str
    since: str
    reason: str


@dataclass
class ClaimResult:
    won: bool
    record: UidRecord | None  # ours when won, else what holds the uid (None: etcd did not say)


@dataclass
class Health:
    """What this manager knows of the cluster, for getManagerStatus, `check` and the console strip."""

    ok: bool = False  # the last request reached a member with quorum
    since: str = ""
    error: str = "not started"
    members: list[dict[str, Any]] = field(default_factory=list)  # name, url, reachable, leader


class Coordination:
    """Claims, done and expiry of uids; this process's liveness; the peer's liveness and mode, through etcd.

    `on_change()` is called after every watch event that changed a uid or a manager's liveness, so the manager can
    look at what waits."""

    def __init__(
        self,
        client: EtcdClient,
        prefix: str,
        site: str,
        role: str,
        ttl: int,
        window: float,
        capacity: int,
        state_dir: Path,
        on_change: Callable[[], None],
        create_site: bool,
    ) -> None:
        self.client = client
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.site = site
        self.role = role
        self.ttl = ttl
        self.window = window
        self.capacity = capacity
        self.instance = uuid.uuid4().hex[:12]
        self.state_dir = state_dir
        self._on_change = on_change
        self._create_site = create_site
        self.records: collections.OrderedDict[str, UidRecord] = collections.OrderedDict()
        self.live: dict[str, LiveManager] = {}  # role -> the live process of that role
        self.live_lease = 0
        self.live_revision = 0  # create_revision of our liveness key
        self.mode = ("", "", "")  # mode, since, reason: published in our liveness key
        self.health = Health()
        self._buckets: dict[int, int] = {}  # time bucket -> lease id
        self._bucket_len = max(1.0, window / 10)
        self._changed: dict[str, asyncio.Event] = {}
        self._any = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._watch_from = 0
        self._registered = asyncio.Event()
        self._claims: GroupCommit[tuple[UidRecord], ClaimResult] = GroupCommit(
            "etcd-claim", self._claim_batch, self._claim_one, CLAIM_BATCH, _distinct
        )
        self._settles: GroupCommit[tuple[UidRecord, UidRecord], UidRecord] = GroupCommit(
            "etcd-settle", self._settle_batch, self._settle_one, SETTLE_BATCH, _distinct
        )

    # -- keys ------------------------------------------------------------------------------------------------

    def uid_key(self, uid: str) -> str:
        return f"{self.prefix}uid/{uid}"

    @property
    def live_key(self) -> str:
        return f"{self.prefix}live/{self.role}"

    @property
    def site_key(self) -> str:
        return f"{self.prefix}site"

    # -- life cycle ------------------------------------------------------------------------------------------

    async def start(self, wait_site: float = 30.0) -> None:
        """Check the site marker, register this process, and start the keepalive and the watch.
        Raises CoordinationError (a start-up refusal that says what to do)."""
        await self._check_site(wait_site)
        await self._register(first=True)
        kvs, revision = await self.client.get_prefix(self.prefix + "live/")
        for kv in kvs:
            self._learn_live(kv)
        self._watch_from = revision + 1
        self._set_health(True, "")
        self._tasks = [
            asyncio.create_task(self._keepalive(), name="etcd-keepalive"),
            asyncio.create_task(self._watch(), name="etcd-watch"),
        ]

    async def close(self) -> None:
        await cancel_and_wait(self._tasks)
        await self._claims.close()
        await self._settles.close()
        if self.live_lease:
            await self.client.revoke(self.live_lease)  # the peer sees us go at once, not after the TTL
        self._lease_file().unlink(missing_ok=True)

    async def _check_site(self, wait: float) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + wait
        announced = False
        while True:
            try:
                kv = await self.client.get(self.site_key)
                if kv is None and self._create_site:
                    everything = await self.client.call(
                        "/v3/kv/range", {"key": "AA==", "range_end": "AA==", "limit": "1", "keys_only": True}
                    )
                    if everything.get("kvs"):
                        raise CoordinationError(
                            f"the etcd cluster at {', '.join(self.client.endpoints)} holds other keys and no SenseTwin "
                            f"site under {self.prefix!r}: it looks like another application's cluster. Give the "
                            "managers a cluster of their own, or set etcd_prefix to the prefix your site uses"
                        )
                    marker = json.dumps({"project": PROJECT, "site": self.site, "created": utc_now()})
                    r = await self.client.txn(
                        [cmp_create(self.site_key, 0)], [op_put(self.site_key, marker)], [op_get(self.site_key)]
                    )
                    if r.succeeded:
                        log.warning(
                            "created SenseTwin site %r under %r in etcd cluster %s",
                            self.site,
                            self.prefix,
                            self.client.cluster_id,
                        )
                        return
                    kvs = r.range_kvs()
                    kv = kvs[0] if kvs else None
            except (EtcdUnavailable, EtcdUnknown) as exc:
                if loop.time() > end:
                    raise CoordinationError(
                        f"cannot reach the etcd cluster ({exc}); check the etcd addresses, that at least two "
                        "members run, and the firewall between this host and theirs"
                    ) from None
                if not announced:
                    log.warning("waiting for the etcd cluster: %s", exc)
                    announced = True
                await asyncio.sleep(0.5)
                continue
            except EtcdRefused as exc:
                raise CoordinationError(str(exc)) from None
            if kv is not None:
                v = kv.json()
                if v.get("project") != PROJECT:
                    raise CoordinationError(
                        f"etcd key {self.site_key!r} is not a SenseTwin site marker: another application uses this "
                        "prefix. Set etcd_prefix to one of SenseTwin's own"
                    )
                if v.get("site") != self.site:
                    raise CoordinationError(
                        f"etcd prefix {self.prefix!r} holds SenseTwin site {v.get('site')!r}, but this manager is "
                        f"configured for site {self.site!r}: check `site` and `etcd_prefix` in both managers' configs"
                    )
                return
            if loop.time() > end:
                raise CoordinationError(
                    f"no SenseTwin site under {self.prefix!r} in the etcd cluster at "
                    f"{', '.join(self.client.endpoints)}: "
                    "start the primary manager first (it creates the site), or check that both managers name the "
                    "same etcd addresses and etcd_prefix"
                )
            if not announced:
                log.warning("waiting for the primary manager to create site %r under %r", self.site, self.prefix)
                announced = True
            await asyncio.sleep(0.3)

    def _lease_file(self) -> Path:
        return self.state_dir / f"etcd-live-{self.role}.json"

    async def _register(self, first: bool = False) -> None:
        """Put our liveness key on a fresh lease. A key of our role held by another live process is waited out
        (a restart after kill -9 finds its predecessor's key until the TTL runs out)."""
        if first:
            await self._revoke_predecessor()
        loop = asyncio.get_running_loop()
        end = loop.time() + self.ttl * 2 + 1
        lease = await self.client.grant(self.ttl)
        mode, since, reason = self.mode
        value = json.dumps(
            {"instance": self.instance, "mode": mode, "since": since, "reason": reason, "pid": os.getpid()}
        )
        while True:
            r = await self.client.txn(
                [cmp_create(self.live_key, 0)], [op_put(self.live_key, value, lease)], [op_get(self.live_key)]
            )
            if r.succeeded:
                self.live_lease, self.live_revision = lease, r.revision
                self._write_lease_file(lease)
                self._registered.set()
                return
            kvs = r.range_kvs()
            other = kvs[0].json() if kvs else {}
            if other.get("instance") == self.instance:  # our own key from an attempt whose answer was lost
                self.live_lease, self.live_revision = kvs[0].lease, kvs[0].create_revision
                return
            if loop.time() > end:
                await self.client.revoke(lease)
                raise CoordinationError(
                    f"another {self.role} manager is running (instance {other.get('instance')}, "
                    f"pid {other.get('pid')}, "
                    f"since {other.get('since') or '?'}): stop it first; two managers of one role must never run"
                )
            await asyncio.sleep(0.2)

    def _write_lease_file(self, lease: int) -> None:
        with contextlib.suppress(OSError):
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self._lease_file().write_text(json.dumps({"lease": lease, "pid": os.getpid()}), encoding="utf-8")

    async def _revoke_predecessor(self) -> None:
        """A previous process of this manager on this host that died (its pid is gone) leaves its liveness key for
        up to a TTL: revoke its lease, so the peer sees its claims in doubt at once and we can register."""
        try:
            old = json.loads(self._lease_file().read_text(encoding="utf-8"))
            pid, lease = int(old["pid"]), int(old["lease"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        if pid != os.getpid() and not _pid_alive(pid):
            await self.client.revoke(lease)

    async def _keepalive(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.ttl / 4
        last_ok = loop.time()
        while True:
            await asyncio.sleep(interval)
            try:
                if not self.live_lease:
                    await self._register()
                    last_ok = loop.time()
                    continue
                try:
                    left = await self.client.keepalive(self.live_lease, timeout=interval)
                except EtcdRefused as exc:
                    if "not found" not in str(exc):
                        raise
                    left = 0
                if left <= 0:
                    log.warning("this manager's etcd liveness lease expired; registering again")
                    self._registered.clear()
                    self.live_lease = 0
                    await self._register()
                else:
                    self._registered.set()  # the lease lives, so does our liveness key on it
                last_ok = loop.time()
                self._set_health(True, "")
            except CoordinationError as exc:
                log.error("%s", exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the keepalive must outlive any one bad answer
                if not isinstance(exc, EtcdError):
                    log.exception("etcd keepalive failed")
                if loop.time() - last_ok > self.ttl / 2:
                    # One keepalive lost to a member that just died is not an outage: the next goes to another.
                    self._set_health(False, str(exc))
                if loop.time() - last_ok > self.ttl:
                    self._registered.clear()  # the lease has run out by now: claims would fail anyway

    def _set_health(self, ok: bool, error: str) -> None:
        if ok != self.health.ok:
            self.health.since = utc_now()
            if ok:
                log.warning("etcd cluster reachable again")
            else:
                log.warning("etcd cluster not usable: %s", error)
        self.health.ok, self.health.error = ok, error

    async def publish_mode(self, mode: str, since: str, reason: str) -> None:
        self.mode = (mode, since, reason)
        if not self.live_lease:
            return
        value = json.dumps(
            {"instance": self.instance, "mode": mode, "since": since, "reason": reason, "pid": os.getpid()}
        )
        with contextlib.suppress(EtcdError):
            await self.client.txn(
                [cmp_create(self.live_key, self.live_revision)], [op_put(self.live_key, value, self.live_lease)]
            )

    # -- the watch ---------------------------------------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            try:
                async for event in self.client.watch(self.prefix, self._watch_from):
                    self._watch_from = max(self._watch_from, event.revision + 1)
                    if event.kind == "progress":
                        continue
                    self._apply(event.kind, event.kv)
                    self._notify(event.kv.key)
            except WatchCompacted as exc:
                log.warning("%s; reading the current state again", exc)
                self._watch_from = exc.compact_revision
            except EtcdError as exc:
                log.info("etcd watch: %s", exc)
            except asyncio.CancelledError:
                raise
            except Exception:  # the watch must outlive any one bad event: a dead watch would blind this manager
                log.exception("etcd watch failed; starting it again")
            await asyncio.sleep(0.1)

    def _apply(self, kind: str, kv: KeyValue) -> None:
        rest = kv.key[len(self.prefix) :]
        if rest.startswith("uid/"):
            uid = rest[4:]
            if kind == "delete":
                self.records.pop(uid, None)
            else:
                self._learn(uid, kv)
        elif rest.startswith("live/"):
            role = rest[5:]
            if kind == "delete":
                gone = self.live.pop(role, None)
                if gone is not None and role != self.role:
                    log.warning("%s manager (instance %s) is gone from etcd", role, gone.instance)
            else:
                self._learn_live(kv)

    def _learn_live(self, kv: KeyValue) -> None:
        role = kv.key.rsplit("/", 1)[-1]
        v = kv.json()
        self.live[role] = LiveManager(
            role, str(v.get("instance", "")), str(v.get("mode", "")), str(v.get("since", "")), str(v.get("reason", ""))
        )

    def _remember(self, rec: UidRecord) -> None:
        old = self.records.get(rec.uid)
        if old is not None and old.mod_revision > rec.mod_revision:
            return  # an older event than what we already know (our own write came back first)
        self.records[rec.uid] = rec
        self.records.move_to_end(rec.uid)
        while len(self.records) > self.capacity:
            self.records.popitem(last=False)

    def _notify(self, key: str) -> None:
        uid = key[len(self.prefix) + 4 :] if key.startswith(self.prefix + "uid/") else None
        if uid is not None:
            ev = self._changed.pop(uid, None)
            if ev is not None:
                ev.set()
        else:
            ev_all = self._changed
            self._changed = {}
            for e in ev_all.values():
                e.set()
        self._any.set()
        self._any = asyncio.Event()
        self._on_change()

    async def wait_change(self, uid: str, seconds: float) -> None:
        """Until the uid's record or any manager's liveness changes, at most `seconds`."""
        if seconds <= 0:
            return
        ev = self._changed.setdefault(uid, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ev.wait(), seconds)

    # -- what a uid is ---------------------------------------------------------------------------------------

    def cached(self, uid: str) -> UidRecord | None:
        return self.records.get(uid)

    def alive(self, instance: str) -> bool:
        if instance == self.instance:
            return True
        return any(m.instance == instance for m in self.live.values())

    def peer(self) -> LiveManager | None:
        for role, m in self.live.items():
            if role != self.role:
                return m
        return None

    async def read(self, uid: str) -> UidRecord | None:
        kv = await self.client.get(self.uid_key(uid))
        return None if kv is None else self._learn(uid, kv)

    def _learn(self, uid: str, kv: KeyValue) -> UidRecord:
        rec = UidRecord.of(uid, kv)
        self._remember(rec)
        return rec

    def _held(self, uid: str, r: TxnResult) -> UidRecord | None:
        """What holds the uid after a transaction whose compare failed (its failure branch read the key)."""
        held = r.range_kvs()
        return self._learn(uid, held[0]) if held else None

    async def _bucket_lease(self) -> int:
        now = time.time()
        bucket = int(now // self._bucket_len)
        lease = self._buckets.get(bucket)
        if lease is None:
            lease = await self.client.grant(int(self.window + 2 * self._bucket_len))
            self._buckets = {b: v for b, v in self._buckets.items() if b >= bucket - 1}
            self._buckets[bucket] = lease
        return lease

    async def claim(self, uid: str, command: str, params: str) -> ClaimResult:
        """Win the uid or learn who holds it. Raises EtcdError when etcd cannot say (see EtcdUnknown: an unknown
        outcome is resolved by `read`, since our claim carries our instance).

        Group commit, as for `settle`: claims that arrive while one is on its way to etcd go together in one
        transaction (every uid's compare and our liveness key's); if any compare fails, each is claimed alone, so
        a busy manager makes one etcd request for many claims and a quiet one waits for nothing."""
        if not self._registered.is_set():
            raise EtcdUnavailable("this manager's liveness is not registered in etcd (the lease ran out); retrying")
        rec = UidRecord(uid, "claimed", self.role, self.instance, command, params, None, None, 0, 0)
        return await self._claims.submit((rec,))

    async def _claim_batch(self, items: list[tuple[UidRecord]]) -> list[ClaimResult] | None:
        """Claim every uid in one transaction: all won, or None when any compare failed (then none was written)."""
        recs = [rec for (rec,) in items]
        keys = [self.uid_key(rec.uid) for rec in recs]
        for _ in range(2):
            lease = await self._bucket_lease()
            try:
                r = await self.client.txn(
                    [*(cmp_create(k, 0) for k in keys), cmp_create(self.live_key, self.live_revision)],
                    [op_put(k, rec.value(), lease) for k, rec in zip(keys, recs, strict=True)],
                )
            except EtcdRefused as exc:
                if "lease not found" in str(exc):
                    self._buckets.clear()
                    continue
                raise
            if not r.succeeded:
                return None
            for rec in recs:
                rec.mod_revision, rec.lease = r.revision, lease
                self._remember(rec)
            return [ClaimResult(True, rec) for rec in recs]
        raise EtcdUnavailable("etcd refused the uid's dedup lease twice")

    async def _claim_one(self, item: tuple[UidRecord]) -> ClaimResult:
        (rec,) = item
        uid = rec.uid
        key = self.uid_key(uid)
        for _ in range(2):
            lease = await self._bucket_lease()
            try:
                r = await self.client.txn(
                    [cmp_create(key, 0), cmp_create(self.live_key, self.live_revision)],
                    [op_put(key, rec.value(), lease)],
                    [op_get(key), op_get(self.live_key)],
                )
            except EtcdRefused as exc:
                if "lease not found" in str(exc):
                    self._buckets.clear()
                    continue
                raise
            if r.succeeded:
                rec.mod_revision, rec.lease = r.revision, lease
                self._remember(rec)
                return ClaimResult(True, rec)
            other = self._held(uid, r)
            if other is not None:
                return ClaimResult(other.instance == self.instance and other.state == "claimed", other)
            # The uid is free, so our liveness key is not the one we registered: the lease ran out.
            self._registered.clear()
            self.live_lease = 0
            raise EtcdUnavailable("this manager's etcd liveness lease ran out; registering again before claiming")
        raise EtcdUnavailable("etcd refused the uid's dedup lease twice")

    async def settle(
        self, rec: UidRecord, state: str, code: int | None, answer: bytes | None, reexecuted: bool = False
    ) -> UidRecord:
        """Write `done` or `expired` over `rec` (compare on its revision); the record that holds the uid after.

        Group commit: settles that arrive while one is on its way to etcd go together in one transaction (each
        under its own compare; if any compare fails, each is written alone), so a busy manager makes fewer etcd
        requests without making a quiet one wait."""
        new = UidRecord(
            rec.uid, state, rec.by, rec.instance, rec.command, rec.params, code, answer, 0, rec.lease, reexecuted
        )
        if rec.instance != self.instance:
            new.by, new.instance = self.role, self.instance  # we settle a dead manager's claim
        return await self._settles.submit((rec, new))

    async def _settle_batch(self, items: list[tuple[UidRecord, UidRecord]]) -> list[UidRecord] | None:
        """Every `new` over its `rec` in one transaction (each under its own compare), or None when any failed."""
        keys = [self.uid_key(rec.uid) for rec, _ in items]
        r = await self.client.txn(
            [cmp_mod(k, rec.mod_revision) for k, (rec, _) in zip(keys, items, strict=True)],
            [op_put(k, new.value(), rec.lease) for k, (rec, new) in zip(keys, items, strict=True)],
        )
        if not r.succeeded:
            return None
        for _, new in items:
            new.mod_revision = r.revision
            self._remember(new)
        return [new for _, new in items]

    async def _settle_one(self, item: tuple[UidRecord, UidRecord]) -> UidRecord:
        rec, new = item
        key = self.uid_key(rec.uid)
        r = await self.client.txn(
            [cmp_mod(key, rec.mod_revision)], [op_put(key, new.value(), rec.lease)], [op_get(key)]
        )
        if r.succeeded:
            new.mod_revision = r.revision
            self._remember(new)
            return new
        # None: the uid's window ended meanwhile; what we wrote would have gone with it.
        return self._held(rec.uid, r) or new

    async def take_over(self, rec: UidRecord) -> UidRecord | None:
        """Claim a dead manager's unfinished uid (an idempotent action to execute again): ours, or None."""
        new = UidRecord(rec.uid, "claimed", self.role, self.instance, rec.command, rec.params, None, None, 0, rec.lease)
        key = self.uid_key(rec.uid)
        r = await self.client.txn(
            [cmp_mod(key, rec.mod_revision), cmp_create(self.live_key, self.live_revision)],
            [op_put(key, new.value(), rec.lease)],
            [op_get(key)],
        )
        if not r.succeeded:
            self._held(rec.uid, r)
            return None
        new.mod_revision = r.revision
        self._remember(new)
        return new

    async def expire_unclaimed(self, uid: str, command: str, params: str, code: int, answer: bytes) -> ClaimResult:
        """Nobody claimed the uid before its deadline: write it `expired`, so no manager executes it late.
        won: we wrote it; else the record that holds the uid."""
        rec = UidRecord(uid, "expired", self.role, self.instance, command, params, code, answer, 0, 0)
        key = self.uid_key(uid)
        lease = await self._bucket_lease()
        r = await self.client.txn([cmp_create(key, 0)], [op_put(key, rec.value(), lease)], [op_get(key)])
        if r.succeeded:
            rec.mod_revision, rec.lease = r.revision, lease
            self._remember(rec)
            return ClaimResult(True, rec)
        return ClaimResult(False, self._held(uid, r))

    # -- the cluster, for status -------------------------------------------------------------------------------

    async def survey(self) -> Health:
        """Each member's own answer (reachable, leader), asked directly; the cluster's health as we use it."""

        async def one(url: str) -> dict[str, Any]:
            try:
                st = await self.client.status_of(url)
                header = st.get("header")
                member = str(header.get("member_id", "")) if isinstance(header, dict) else ""
                if not member:  # another program at that address: not a member we can use
                    return {"url": url, "reachable": False, "leader": False, "error": "not etcd"}
                return {
                    "url": url,
                    "reachable": True,
                    "leader": str(st.get("leader", "")) == member,
                    "version": str(st.get("version", "")),
                }
            except Exception as exc:
                return {"url": url, "reachable": False, "leader": False, "error": type(exc).__name__}

        members = list(await asyncio.gather(*(one(u) for u in self.client.endpoints)))
        self.health.members = members
        return self.health


def _distinct(items: Sequence[tuple[UidRecord, ...]]) -> bool:
    """A batch holds each uid once (a transaction may not put one key twice)."""
    return len({item[0].uid for item in items}) == len(items)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = ["ClaimResult", "Coordination", "CoordinationError", "Health", "LiveManager", "UidRecord", "b64"]
