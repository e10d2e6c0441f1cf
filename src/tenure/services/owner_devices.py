"""An owner's view of their devices, and removing one (the portal's unbind)."""

from __future__ import annotations

from typing import Any

from tenure.clock import Clock
from tenure.domain.model import Claim, ClaimKind
from tenure.domain.unlock import BLOCKING, UnlockInput, UnlockRules, eligible_from, quota_left
from tenure.store.uow import Tx, UnitOfWork

from .authn import require_session
from .binding import owned_claim, release_owner
from .last_seen import LastSeen


def _unlock_view(tx: Tx, account_id: str, device_id: str, claims: list[Claim], now: int,
                 rules: UnlockRules) -> dict[str, Any]:
    """When a bootloader unlock becomes possible, how much quota is left, what blocks it."""
    owner = next(c for c in claims if c.kind is ClaimKind.OWNER)
    given = UnlockInput(account_id, tuple(claims),
                        tx.unlocks.grants_of(account_id, now - rules.quota_seconds),
                        device_id, now, rules)
    left, frees_at = quota_left(given)
    return {
        "eligible_from": eligible_from(owner.created_at, rules),
        "quota_left": left,
        "quota_frees_at": frees_at if left == 0 else None,
        "blocked_by": [c.kind.value for c in claims if c.kind in BLOCKING],
        "bootloader": tx.unlocks.bootloader(device_id) or "unknown",
    }


def _latest(*times: int | None) -> int | None:
    return max((t for t in times if t is not None), default=None)


def list_devices(uow: UnitOfWork, clock: Clock, token: str | None,
                 rules: UnlockRules, last_seen: LastSeen | None = None) -> list[dict[str, Any]]:
    with uow(readonly=True) as tx:
        now = clock.now()
        session = require_session(tx, token, now)
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
                "last_checkin": _latest(stored.last_checkin_at,
                                        last_seen.pending(device_id) if last_seen else None),
                "unlock": _unlock_view(tx, session.account_id, device_id, claims[device_id],
                                       now, rules),
            })
        return out


def remove_device(uow: UnitOfWork, clock: Clock, token: str | None, device_id: str,
                  reauth_seconds: int, cooldown_seconds: int) -> None:
    def work(tx: Tx) -> None:
        now = clock.now()
        session = require_session(tx, token, now)
        session.require_fresh(now, reauth_seconds)
        session.require_settled(now, cooldown_seconds)
        release_owner(tx, owned_claim(tx, session, device_id), session, now, how="in the portal")

    uow.run(work)
