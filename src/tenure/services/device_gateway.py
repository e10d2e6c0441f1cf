"""Running one signed device request as one transaction.

The nonce of an authenticated request is used up even when the use case refuses it
(409, 401...) or fails on a bug (500): otherwise a refused request could be replayed
later, once the state that refused it has changed. (A nonce kept in Redis is used up
before the use case runs, so there is nothing to redo.)
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from tenure.domain.errors import BadNonce, Unavailable

from .device_auth import DeviceRequest, admit, verify
from .nonces import NonceService
from .ports import Tx, UnitOfWork

DeviceAction = Callable[[Tx, DeviceRequest], str]
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
        consumed = [False]

        def work(tx: Tx) -> str:
            verified = verify(tx, body)
            verified_nonce[:] = [verified.header["nonce"]]
            # A nonce kept outside the database is used once, not again on a retry.
            consume = self.nonces.transactional or not consumed[0]
            request = admit(tx, self.nonces, verified, path, source_ip, consume)
            consumed[0] = True
            return action(tx, request)

        try:
            return self.uow.run(work, wait=wait)
        except (BadNonce, Unavailable):
            # Unavailable: nothing ran, and using the nonce up would wait on the same lock.
            raise
        except Exception:
            # Refused (TenureError) or crashed: the rolled-back transaction took the
            # nonce's use with it; record it again on its own.
            if verified_nonce and self.nonces.transactional:
                self._use_up(verified_nonce[0])
            raise

    def _use_up(self, nonce: str) -> None:
        try:
            with self.uow() as tx:
                self.nonces.use(tx, nonce)
        except BadNonce:
            pass
        except Exception:  # noqa: BLE001 - the original failure is the one to report
            log.exception("nonce_use_up_failed")
