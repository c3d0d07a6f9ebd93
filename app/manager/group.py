"""Group commit: requests that arrive while one batch is on its way to etcd go together in the next one, so a busy
manager makes one etcd request for many and a quiet one waits for nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from ..tasks import cancel_and_wait
from .etcd import EtcdError

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """`await submit(item)` gives its result. `batch(items)` writes several in one transaction: their results, or
    None when a compare failed and nothing was written (then each goes alone through `one(item)`). An EtcdError of
    a batch is every item's; of `one`, that item's."""

    def __init__(
        self,
        name: str,
        batch: Callable[[list[T]], Awaitable[list[R] | None]],
        one: Callable[[T], Awaitable[R]],
        limit: int,
        can_batch: Callable[[list[T]], bool] = lambda items: True,
    ) -> None:
        self.name = name
        self._batch, self._one, self._limit, self._can_batch = batch, one, limit, can_batch
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, fut))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush(), name=self.name)
        return await fut

    async def close(self) -> None:
        await cancel_and_wait([self._task])

    async def _flush(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
            items = [item for item, _ in group]
            if len(group) > 1 and self._can_batch(items):
                try:
                    results = await self._batch(items)
                except EtcdError as exc:
                    for _, fut in group:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                if results is not None:
                    for (_, fut), result in zip(group, results, strict=True):
                        if not fut.done():
                            fut.set_result(result)
                    continue
            for item, fut in group:  # one at a time: a compare failed, or a single request
                try:
                    result = await self._one(item)
                except EtcdError as exc:
                    if not fut.done():
                        fut.set_exception(exc)
                    continue
                if not fut.done():
                    fut.set_result(result)
