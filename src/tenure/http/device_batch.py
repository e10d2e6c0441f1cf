"""Group commit of device requests on the event loop (decision 0018).

Device transactions run inline on the event loop (decision 0007), one after the other;
each ended in its own COMMIT — on SQLite with `synchronous=FULL` an fsync, on
PostgreSQL a round trip. Here the requests that become ready in the same turn of the
loop are queued, and the next turn runs them all in one transaction (each in its own
savepoint) with one COMMIT. No answer is sent before that COMMIT returns: a request's
answer waits for its batch's durable commit, as DESIGN.md §6 requires.

With one request at a time this is exactly the old path plus a savepoint; under load,
the batch grows by itself with the requests that arrived while the last commit ran.

On SQLite the loop never blocks on the write lock: if a long write (an import's
switch-in, the maintenance round) holds it, the batch goes to a lane that tries again
every few milliseconds, sleeping on the loop in between, so the loop keeps serving and
the thread that holds the lock gets the GIL. Until the lane has drained, the batches
after it join its backlog instead of trying the lock themselves. Two earlier versions
measured worse: each batch waiting in a thread of its own (a crowd of threads contending
for one lock answered 503s under ordinary load), and one lane waiting in a thread on
SQLite's busy handler, whose sleeps grow to 25-100 ms, longer than the lock is held
(the check-in p99 at a fixed rate, decision 0018). The backlog is bounded (BACKLOG
calls); beyond it, and when the lock stays taken past the database wait, the answer is
503 with Retry-After.
"""

from __future__ import annotations

import asyncio

from tenure.domain.errors import Unavailable
from tenure.services.device_gateway import DeviceCall, DeviceGateway

MAX_BATCH = 64  # bounds the time one turn of the loop spends in the database
BACKLOG = 8 * MAX_BATCH  # calls waiting off the loop for a busy SQLite; more get 503
Batch = list[tuple[DeviceCall, "asyncio.Future[str]"]]


class DeviceBatch:
    def __init__(self, gateway: DeviceGateway, wait: float | None,
                 lock_wait: float) -> None:
        self.gateway = gateway
        self.wait = wait  # 0 on SQLite: never wait for the write lock on the loop
        self.lock_wait = lock_wait  # seconds the lane tries for (TENURE_DATABASE_WAIT_SECONDS)
        self.queue: Batch = []
        self.scheduled = False
        self.backlog: Batch = []  # calls waiting for the off-loop lane
        self.lane: asyncio.Task[None] | None = None  # the lane, while it drains

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
        batch = _live(batch)
        if not batch:
            return
        if self.lane is not None:  # the lane is draining: queue behind it, in order
            self._join(batch)
            return
        try:
            results: list[str | Exception] = self.gateway.handle_many(
                [call for call, _ in batch], wait=self.wait)
        except Unavailable as exc:
            if self.wait != 0:
                results = [exc] * len(batch)
            else:  # the write lock is taken: wait for it off the loop
                self._join(batch)
                self.lane = asyncio.get_running_loop().create_task(self._drain())
                return
        except Exception as exc:  # noqa: BLE001 - the transaction failed: for every call
            results = [exc] * len(batch)
        _settle(batch, results)

    def _join(self, batch: Batch) -> None:
        room = max(BACKLOG - len(self.backlog), 0)
        self.backlog.extend(batch[:room])
        if batch[room:]:
            busy = Unavailable("The database is busy with a long write; retry shortly.",
                               retry_after=1)
            _settle(batch[room:], [busy] * len(batch[room:]))

    async def _drain(self) -> None:
        """Run the backlog, MAX_BATCH calls a transaction, each once the lock is free;
        then the lane ends and the loop's inline path takes over again."""
        try:
            while self.backlog:
                batch, self.backlog = self.backlog[:MAX_BATCH], self.backlog[MAX_BATCH:]
                batch = _live(batch)
                if batch:
                    _settle(batch, await self._when_free([call for call, _ in batch]))
                await asyncio.sleep(0)  # the loop serves between batches
        finally:  # cancelled (the server stops): nobody is left waiting for ever
            self.lane = None
            left, self.backlog = self.backlog, []
            _settle(left, [Unavailable("The server is stopping; retry shortly.",
                                       retry_after=1)] * len(left))

    async def _when_free(self, calls: list[DeviceCall]) -> list[str | Exception]:
        """The calls run in one transaction as soon as the write lock is free: tried at
        once, then after 0.5, 1, 2, 4, 5, 5 ... ms, for at most `lock_wait` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_wait
        pause = 0.0005
        while True:
            try:
                return self.gateway.handle_many(calls, wait=0)
            except Unavailable as exc:
                if loop.time() >= deadline:
                    return [exc] * len(calls)
            except Exception as exc:  # noqa: BLE001 - the transaction failed: for every call
                return [exc] * len(calls)
            await asyncio.sleep(pause)
            pause = min(2 * pause, 0.005)


def _live(batch: Batch) -> Batch:
    return [(call, future) for call, future in batch if not future.done()]


def _settle(batch: Batch, results: list[str | Exception]) -> None:
    for (_, future), result in zip(batch, results, strict=True):
        if future.done():
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)
