"""Running one signed device request as one transaction.

The nonce of an authenticated request is used up even when the use case refuses it
(409, 401...) or fails on a bug (500): otherwise a refused request could be replayed
later, once the state that refused it has changed. (A nonce kept in Redis is used up
before the use case runs, so there is nothing to redo.)

Several requests can also run together (`handle_many`): each in a savepoint of one
transaction, committed once (group commit, decision 0018).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from tenure.domain.errors import BadNonce, Unavailable

from .device_auth import DeviceRequest, admit, verify
from .nonces import NonceService
from .ports import Tx, UnitOfWork

DeviceAction = Callable[[Tx, DeviceRequest], str]
# What one device request is: body, path, use case, client address.
DeviceCall = tuple[bytes, str, DeviceAction, str | None]
log = structlog.get_logger("tenure.device")


class DeviceGateway:
    def __init__(self, uow: UnitOfWork, nonces: NonceService) -> None:
        self.uow = uow
        self.nonces = nonces

    def handle(self, body: bytes, path: str, action: DeviceAction,
               source_ip: str | None = None, wait: float | None = None) -> str:
        """`wait`: bound on the wait for the database (None: the configured one; 0: not
        at all — the caller on the event loop then retries off the loop)."""
        verified_nonce: list[str] = []
        try:
            return self.uow.run(self._work((body, path, action, source_ip), verified_nonce),
                                wait=wait)
        except (BadNonce, Unavailable):
            # Unavailable: nothing ran, and using the nonce up would wait on the same lock.
            raise
        except Exception:
            # Refused (TenureError) or crashed: the rolled-back transaction took the
            # nonce's use with it; record it again on its own.
            if verified_nonce and self.nonces.transactional:
                self._use_up([verified_nonce[0]])
            raise

    def handle_many(self, calls: Sequence[DeviceCall], wait: float | None = None
                    ) -> list[str | Exception]:
        """Each call's record, or the exception it failed with, in order; all of them
        committed by one COMMIT. A failed call's writes are rolled back (its savepoint)
        and its nonce used up, as `handle` does; the others' are kept. Raises if the
        transaction as a whole fails (nothing committed, every call may be retried)."""
        seen: list[list[str]] = [[] for _ in calls]
        results = self.uow.batch([self._work(call, nonce) for call, nonce
                                  in zip(calls, seen, strict=True)],
                                 wait=wait)
        refused = [nonce[0] for nonce, result in zip(seen, results, strict=True)
                   if isinstance(result, Exception)
                   and not isinstance(result, BadNonce | Unavailable) and nonce]
        if refused and self.nonces.transactional:
            self._use_up(refused)
        return results

    def _work(self, call: DeviceCall, verified_nonce: list[str]) -> Callable[[Tx], str]:
        body, path, action, source_ip = call
        consumed = [False]

        def work(tx: Tx) -> str:
            verified = verify(tx, body, self.nonces)
            verified_nonce[:] = [verified.header["nonce"]]
            # A nonce kept outside the database is used once, not again on a retry.
            consume = self.nonces.transactional or not consumed[0]
            request = admit(tx, self.nonces, verified, path, source_ip, consume)
            consumed[0] = True
            return action(tx, request)

        return work

    def _use_up(self, nonces: list[str]) -> None:
        def use(nonce: str) -> Callable[[Tx], None]:
            return lambda tx: self.nonces.use(tx, nonce)

        try:
            # A nonce used already (BadNonce) is returned, not raised: nothing to do.
            self.uow.batch([use(nonce) for nonce in nonces])
        except Exception:  # noqa: BLE001 - the original failure is the one to report
            log.exception("nonce_use_up_failed")
