"""An owner's view of their devices, and removing one (the portal's unbind)."""

from __future__ import annotations

from typing import Any

from tenure.clock import Clock
from tenure.domain.model import ClaimKind
from tenure.store.uow import Tx, UnitOfWork

from .authn import require_session
from .binding import owned_claim, release_owner


def list_devices(uow: UnitOfWork, clock: Clock, token: str | None) -> list[dict[str, Any]]:
    with uow(readonly=True) as tx:
        session = require_session(tx, token, clock.now())
        ids = tx.claims.active_device_ids_held_by(session.account_id, ClaimKind.OWNER)
        claims = tx.claims.active_for_devices(ids)
        out = []
        for device_id in ids:
            stored = tx.devices.get(device_id)
            if stored is None:
                continue
            out.append({
                "device_id": device_id,
                "model": stored.device.model,
                "claims": [{"kind": c.kind.value, "since": c.created_at,
                            **({"message": c.message} if c.message else {})}
                           for c in claims[device_id]],
                "last_checkin": stored.last_checkin_at,
            })
        return out


def remove_device(uow: UnitOfWork, clock: Clock, token: str | None, device_id: str,
                  reauth_seconds: int) -> None:
    def work(tx: Tx) -> None:
        now = clock.now()
        session = require_session(tx, token, now)
        session.require_fresh(now, reauth_seconds)
        release_owner(tx, owned_claim(tx, session, device_id), session, now, how="in the portal")

    uow.run(work)
