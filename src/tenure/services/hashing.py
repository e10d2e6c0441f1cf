"""Password hashing with a bounded share of the CPU.

argon2id is deliberately slow: tens of milliseconds of CPU and 64 MiB per hash, on four
threads of its own (its lanes). Unbounded, a flood of sign-ups or sign-ins runs dozens
of hashes at once and starves everything else the process does — above all the device
path, whose latency budget is milliseconds. So hashes run in a small dedicated pool:
at most `workers` at a time, `queue` more waiting their turn, anything beyond refused
at once with `503 overloaded` and `Retry-After`, which a client can act on. On Linux
the pool's threads also run at a lower scheduling priority (`nice`), which the lanes
argon2 starts inherit: when the CPU is contended, device requests go first.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tenure.crypto import passwords
from tenure.domain.errors import Overloaded, TenureError

T = TypeVar("T")


def default_workers() -> int:
    """One per core but one (the event loop and the device path keep a core)."""
    return max(1, (os.cpu_count() or 1) - 1)


def _lower_priority(nice: int) -> None:
    """Lower this thread's priority (Linux scheduling is per thread; elsewhere
    PRIO_PROCESS would mean the whole process, so nothing is done)."""
    if nice > 0 and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):  # not permitted: the pool still bounds the work
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class PasswordHashing:
    def __init__(self, workers: int = 0, queue: int = 16, nice: int = 10,
                 cost: str = "standard") -> None:
        self.argon2 = passwords.Argon2(cost)  # `test`: the test suites' cheap cost
        self.workers = workers if workers > 0 else default_workers()
        self.capacity = self.workers + max(0, queue)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="tenure-argon2",
                                        initializer=_lower_priority, initargs=(nice,))
        self._lock = threading.Lock()
        self._admitted = 0

    def run(self, work: Callable[[], T]) -> T:
        """Run `work` in the pool and wait for it (callers are worker threads, never the
        event loop); refuse at once when the pool and its queue are full."""
        with self._lock:
            if self._admitted >= self.capacity:
                raise self._busy()
            self._admitted += 1
        try:
            return self._pool.submit(work).result()
        finally:
            with self._lock:
                self._admitted -= 1

    @staticmethod
    def _busy() -> TenureError:
        return Overloaded("The server is busy checking passwords; retry in a moment.",
                          retry_after=1)

    def hash(self, password: str) -> str:
        return self.run(lambda: self.argon2.hash(password))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        return self.run(lambda: self.argon2.verify(stored_hash, password))

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.argon2.needs_rehash(stored_hash)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
