"""Delivering tenants' webhook events (docs/webhooks.md): at least once, in order per
(tenant, device), retried with back-off for 3 days, then marked failed for the operator.

`tenure serve` runs `WebhookDispatcher.dispatch` every second beside the maintenance
round (http/app.py). Each round reads the due *heads* — the first open event of each
(tenant, device) — and works through them, one worker thread per tenant (at most
`workers`), so that a slow receiver delays only its own tenant. An event is leased
before it is posted (the lease outlives the sender's overall deadline many times over)
and marked delivered after a 2xx; a server killed in between leaves the lease to expire,
and the event is posted again: at least once. Only a head is ever leased, so event n+1
of a device is never posted before n was delivered (or given up on).

Each event is signed when it is posted, with the key ring's integrator key (the one
that signs public status statements: ES256 where the ring has one), `typ`
`tenure-event+jwt`; receivers check `typ` and `aud` (their tenant id).
"""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor

import structlog

from tenure import protocol
from tenure.clock import Clock
from tenure.crypto.jws import sign_compact
from tenure.crypto.keyring import KeyRing

from .ports import UnitOfWork, WebhookEvent, WebhookSender

LEASE_SECONDS = 60  # ≫ the sender's overall deadline (15 s)
FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 3600
CONTENT_TYPE = "application/jose"
MAX_TENANTS_PER_ROUND = 200
log = structlog.get_logger("tenure.webhooks")  # ids and reasons only: never URLs or bodies


def retry_delay(failures: int, rng: random.Random) -> int:
    """Seconds before the next attempt after `failures` failed ones: doubling from 10 s,
    capped at an hour, with "equal jitter" (half fixed, half random) so that the events
    of a receiver that was down do not all come back in the same second."""
    ceiling = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** min(max(failures, 1) - 1, 20))
    return max(1, int(ceiling / 2 + rng.uniform(0, ceiling / 2)))


class WebhookDispatcher:
    def __init__(self, uow: UnitOfWork, clock: Clock, keyring: KeyRing, sender: WebhookSender,
                 rng: random.Random | None = None, workers: int = 4) -> None:
        self.uow = uow
        self.clock = clock
        self.keyring = keyring
        self.sender = sender
        self.rng = rng or random.SystemRandom()
        self.workers = workers

    def dispatch(self, limit: int = 500) -> int:
        """One round: deliver what is due, at most `limit` posts. Returns events delivered.
        Each tenant with something due gets its share of the round, read on its own, so
        that a tenant whose receiver is down (its backlog all due) starves no other."""
        with self.uow(readonly=True) as tx:
            tenants = tx.webhooks.due_tenants(self.clock.now(), MAX_TENANTS_PER_ROUND)
        if not tenants:
            return 0
        share = max(1, limit // len(tenants))
        if len(tenants) == 1 or self.workers <= 1:
            return sum(self._tenant_round(tenant_id, share) for tenant_id in tenants)
        with ThreadPoolExecutor(min(self.workers, len(tenants)),
                                thread_name_prefix="webhooks") as pool:
            return sum(pool.map(lambda tenant_id: self._tenant_round(tenant_id, share),
                                tenants))

    def _tenant_round(self, tenant_id: str, budget: int) -> int:
        """Deliver a tenant's heads, each followed by its device's next events while its
        receiver answers 2xx. The first failure ends the tenant's round: its receiver is
        likely down, and the next round (a second later) finds only what is due."""
        with self.uow(readonly=True) as tx:
            heads = tx.webhooks.heads(self.clock.now(), budget, tenant_id)
        delivered = 0
        for first in heads:
            event: WebhookEvent | None = first
            while event is not None and budget > 0:
                budget -= 1
                outcome = self.deliver(event)
                if outcome is None:  # another dispatcher has it, or it moved on
                    break
                if not outcome:
                    return delivered
                delivered += 1
                with self.uow(readonly=True) as tx:
                    event = tx.webhooks.head(event.tenant_id, event.device_id,
                                             self.clock.now())
        return delivered

    def deliver(self, event: WebhookEvent) -> bool | None:
        """Lease, sign, post and record one event: True delivered, False failed (retried
        later or given up), None when it could not be leased."""
        with self.uow() as tx:
            if not tx.webhooks.lease(event, self.clock.now(), LEASE_SECONDS):
                return None
        if event.tenant_disabled:
            error: str | None = "not sent: the tenant is disabled"
        elif not event.webhook_url:
            error = "not sent: the tenant has no webhook URL"
        else:
            error = self.sender.post(event.webhook_url, self.sign(event).encode("ascii"),
                                     CONTENT_TYPE)
        now = self.clock.now()
        with self.uow() as tx:
            if error is None:
                tx.webhooks.delivered(event.event_id, now)
                return True
            attempts = event.attempts + 1
            if now >= event.give_up_at or error.startswith("not sent"):
                tx.webhooks.failed(event.event_id, attempts, now, error)
                retry = None
            else:
                retry = min(now + retry_delay(attempts, self.rng), event.give_up_at)
                tx.webhooks.retry_at(event.event_id, attempts, retry, error)
        log.warning("webhook_failed" if retry is None else "webhook_retry",
                    event_id=event.event_id, tenant=event.tenant_id, attempts=attempts,
                    retry_at=retry, error=error)
        return False

    def sign(self, event: WebhookEvent) -> str:
        """The compact JWS of the event's claims (`id`, `aud`, `event`, `device_id`, `at`
        and the event's own fields), signed now with the integrator key."""
        key = self.keyring.integrator_key
        return sign_compact({"kid": key.kid, "typ": protocol.EVENT_TYP},
                            json.loads(event.payload), key.key)
