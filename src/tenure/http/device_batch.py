"""Group commit of device requests on the event loop (decision 0018).

Device transactions run inline on the event loop (decision 0007), one after the other;
each ended in its own COMMIT — on SQLite with `synchronous=FULL` an fsync, on
PostgreSQL a round trip. Here the requests that become ready in the same turn of the
loop are queued, and the next turn runs them all in one transaction (each in its own
savepoint) with one COMMIT. No answer is sent before that COMMIT returns: a request's
answer waits for its batch's durable commit, as DESIGN.md §6 requires.

With one request at a time this is exactly the old path plus a savepoint; under load,
the batch grows by itself with the requests that arrived while the last commit ran.

On SQLite the loop never waits for the write lock: if a long write (an import's
switch-in, the maintenance round) holds it, the batch waits for it in a thread,
bounded, while the loop keeps serving; at most WAITERS batches wait at once, the next
ones answer 503 at once.
"""

from __future__ import annotations

import asyncio

import anyio.to_thread

from tenure.domain.errors import Unavailable
from tenure.services.device_gateway import DeviceCall, DeviceGateway

MAX_BATCH = 64  # bounds the time one turn of the loop spends in the database
WAITERS = 8  # batches waiting (in threads) for a busy SQLite at once
Batch = list[tuple[DeviceCall, "asyncio.Future[str]"]]


class DeviceBatch:
    def __init__(self, gateway: DeviceGateway, wait: float | None) -> None:
        self.gateway = gateway
        self.wait = wait  # 0 on SQLite: never wait for the write lock on the loop
        self.queue: Batch = []
        self.scheduled = False
        self.waiting = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def handle(self, call: DeviceCall) -> str:
        """The call's record once its batch is committed; its exception if it failed;
        the batch's exception (nothing committed) if the transaction failed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        self.queue.append((call, future))
        if not self.scheduled:
            self.scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
        self.scheduled = bool(self.queue)
        if self.queue:
            asyncio.get_running_loop().call_soon(self._flush)
        # A client gone before its turn: its request is not run (as a cancelled task's
        # would not be). One gone after it ran was committed all the same.
        batch = [(call, future) for call, future in batch if not future.done()]
        if not batch:
            return
        try:
            results: list[str | Exception] = self.gateway.handle_many(
                [call for call, _ in batch], wait=self.wait)
        except Unavailable as exc:
            if self.wait != 0:
                results = [exc] * len(batch)
            else:  # the write lock is taken: wait for it off the loop
                task = asyncio.get_running_loop().create_task(self._off_loop(batch))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
                return
        except Exception as exc:  # noqa: BLE001 - the transaction failed: for every call
            results = [exc] * len(batch)
        _settle(batch, results)

    async def _off_loop(self, batch: Batch) -> None:
        if self.waiting >= WAITERS:
            busy = Unavailable("The database is busy with a long write; retry shortly.",
                               retry_after=1)
            _settle(batch, [busy] * len(batch))
            return
        self.waiting += 1
        try:
            results: list[str | Exception] = await anyio.to_thread.run_sync(
                self.gateway.handle_many, [call for call, _ in batch])
        except Exception as exc:  # noqa: BLE001 - the transaction failed: for every call
            results = [exc] * len(batch)
        finally:
            self.waiting -= 1
        _settle(batch, results)


def _settle(batch: Batch, results: list[str | Exception]) -> None:
    for (_, future), result in zip(batch, results, strict=True):
        if future.done():
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)
