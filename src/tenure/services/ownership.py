"""Owning a device: the claim checks and the release shared by the device's unbind,
the portal's removal and lost mode."""

from __future__ import annotations

from tenure.domain.errors import DeviceHeld, NotFound
from tenure.domain.model import Claim, ClaimKind
from tenure.domain.provisioning import is_device_id
from tenure.domain.wording import Phrase

from . import notices
from .authn import AccountSession
from .ports import Tx


def require_not_lost(tx: Tx, device_id: str, account_id: str) -> None:
    """Refuse (`409 device-held`) while this account's `lost` claim on the device is held.

    docs/protocol.md Part 2: the owner claim cannot be released — unbind, removal,
    transfer — while the same account's `lost` claim is held: giving the device up
    would leave a lost lock nobody may lift, or — worse — let whoever holds a stolen,
    lost-reported device shed the owner claim first. Every way of releasing or moving
    the owner claim calls this, in the transaction that releases it."""
    if any(c.kind is ClaimKind.LOST and c.holder == account_id
           for c in tx.claims.active(device_id)):
        raise DeviceHeld("This device is in lost mode; lift lost mode first, then remove "
                         "or transfer it.")


def release_owner(tx: Tx, owner: Claim, session: AccountSession, now: int, how: str) -> None:
    """Release the owner claim: the same effect from the device and from the portal
    (refused while the account's `lost` claim is held, see require_not_lost). `how`: a
    catalog message (audited in English, mailed in the owner's language)."""
    require_not_lost(tx, owner.device_id, session.account_id)
    tx.claims.release(owner.claim_id, now, by=f"account:{session.account_id}")
    tx.audit.record(f"device:{owner.device_id}", "claim.owner.released",
                    actor=f"account:{session.account_id}", at=now, how=how,
                    claim=owner.claim_id)
    stored = tx.devices.get(owner.device_id)
    model = stored.device.model if stored else "device"
    notices.device_released(tx, session.email, owner.device_id, model, now, Phrase.of(how))


def owned_claim(tx: Tx, session: AccountSession, device_id: str) -> Claim:
    claims = tx.claims.active(device_id) if is_device_id(device_id) else ()
    owner = next((c for c in claims
                  if c.kind is ClaimKind.OWNER and c.holder == session.account_id), None)
    if owner is None:
        raise NotFound(f"No device {device_id!r} is bound to your account.")
    return owner
