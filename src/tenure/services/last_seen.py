"""Last check-in times, batched: noted in memory, written every second in one statement.

A check-in must durably record its nonce, but not the minute a device was last seen:
that write is informational, so it is coalesced per device and flushed by the
server's maintenance loop (and on shutdown). A crash loses at most the last second of
last-seen times, never a decision. Reads in this process see pending values.
"""

from __future__ import annotations

import threading

from .ports import UnitOfWork


class LastSeen:
    def __init__(self) -> None:
        self._pending: dict[str, int] = {}
        self._lock = threading.Lock()

    def note(self, device_id: str, at: int) -> None:
        with self._lock:
            self._pending[device_id] = at

    def pending(self, device_id: str) -> int | None:
        with self._lock:
            return self._pending.get(device_id)

    def flush(self, uow: UnitOfWork) -> int:
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return 0
        try:
            with uow() as tx:
                tx.devices.note_checkins(batch)
        except Exception:
            with self._lock:  # keep them for the next round, newer values winning
                for device_id, at in batch.items():
                    self._pending.setdefault(device_id, at)
            raise
        return len(batch)
