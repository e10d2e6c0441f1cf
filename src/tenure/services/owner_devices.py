"""An owner's view of their devices, and removing one (the portal's unbind)."""

from __future__ import annotations

from typing import Any

from tenure.clock import Clock
from tenure.domain.masking import mask_email
from tenure.domain.model import Claim
from tenure.domain.unlock import BLOCKING, UnlockInput, UnlockRules, eligible_from, quota_left
from tenure.domain.wording import N_

from .authn import OwnerActions, require_session
from .last_seen import LastSeen
from .ownership import owned_claim, release_owner
from .ports import CommandRow, OwnedDevice, TransferRow, Tx, UnitOfWork

# The owner's list shows every pending command and the others of the last 30 days.
COMMANDS_SHOWN_SECONDS = 30 * 86400


def _latest(*times: int | None) -> int | None:
    return max((t for t in times if t is not None), default=None)


class OwnerDevices:
    def __init__(self, uow: UnitOfWork, clock: Clock, rules: UnlockRules,
                 owner_actions: OwnerActions, last_seen: LastSeen | None = None) -> None:
        self.uow = uow
        self.clock = clock
        self.rules = rules
        self.rule = owner_actions
        self.last_seen = last_seen

    def overview(self, token: str | None) -> list[dict[str, Any]]:
        """Five reads whatever the number of devices: the devices, their claims, the
        account's recent unlock grants, the commands it sent them and the transfers it
        started (pending ones, so the owner can cancel them)."""
        with self.uow(readonly=True) as tx:
            now = self.clock.now()
            session = require_session(tx, token, now)
            owned = tx.devices.owned_by(session.account_id)
            ids = [d.device_id for d in owned]
            claims = tx.claims.active_for_devices(ids)
            grants = (tx.unlocks.grants_of(session.account_id, now - self.rules.quota_seconds)
                      if owned else ())
            commands = (tx.commands.issued_by_account(session.account_id, ids,
                                                      now - COMMANDS_SHOWN_SECONDS)
                        if owned else {})
            transfers: dict[str, list[TransferRow]] = {}
            for row in (tx.transfers.pending_from(session.account_id, now) if owned else ()):
                transfers.setdefault(row.device_id, []).append(row)
        return [self._view(session.account_id, d, claims[d.device_id], grants,
                           commands.get(d.device_id, []), transfers.get(d.device_id, []), now)
                for d in owned]

    def _view(self, account_id: str, owned: OwnedDevice, claims: list[Claim],
              grants: tuple[tuple[str, int], ...], commands: list[CommandRow],
              transfers: list[TransferRow], now: int) -> dict[str, Any]:
        pending = self.last_seen.pending(owned.device_id) if self.last_seen else None
        return {
            "device_id": owned.device_id,
            "model": owned.model,
            "claims": [{"kind": c.kind.value, "since": c.created_at,
                        **({"message": c.message} if c.message else {}),
                        **({"contact": c.contact} if c.contact else {}),
                        **({"territory": c.territory} if c.territory else {})}
                       for c in claims],
            "last_checkin": _latest(owned.last_checkin_at, pending),
            "commands": [{"command_id": c.command_id, "type": c.kind, "state": c.state,
                          "created_at": c.created_at, "acknowledged_at": c.acked_at}
                         for c in commands],
            "unlock": self._unlock_view(account_id, owned, claims, grants, now),
            "transfers": [{"transfer_id": r.transfer_id, "to": mask_email(r.to_email),
                           "expires_at": r.expires_at} for r in transfers],
        }

    def _unlock_view(self, account_id: str, owned: OwnedDevice, claims: list[Claim],
                     grants: tuple[tuple[str, int], ...], now: int) -> dict[str, Any]:
        """When a bootloader unlock becomes possible, how much quota is left, what blocks it."""
        given = UnlockInput(account_id, tuple(claims), grants, owned.device_id, now, self.rules)
        left, frees_at = quota_left(given)
        return {
            "eligible_from": eligible_from(owned.owned_since, self.rules),
            "quota_left": left,
            "quota_frees_at": frees_at if left == 0 else None,
            "blocked_by": [c.kind.value for c in claims if c.kind in BLOCKING],
            "bootloader": owned.bootloader or "unknown",
        }

    def remove(self, token: str | None, device_id: str) -> None:
        def work(tx: Tx) -> None:
            now = self.clock.now()
            session = require_session(tx, token, now)
            self.rule.require_weakening(session, now)
            release_owner(tx, owned_claim(tx, session, device_id), session, now,
                          how=N_("in the portal"))

        self.uow.run(work)
