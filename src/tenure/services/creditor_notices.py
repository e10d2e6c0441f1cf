"""Mail to a financed device's bound owner, written to the outbox in the transaction of
the change: a creditor's claim added, and each lock and unlock (its release is
notices.tenant_claim_released, shared with every tenant)."""

from __future__ import annotations

from .notices import when
from .ports import Tx


def claim_added(tx: Tx, email: str, device_id: str, creditor: str, now: int) -> None:
    tx.outbox.enqueue(email, f"{creditor} now finances your device", (
        f"{creditor} (a financing company) took a claim on the device {device_id} on "
        f"{when(now)}.\n"
        "The device will show you its terms; nothing can be locked before you accept "
        "them there.\nIf you did not expect this, contact support.\n"), now)


def lock_changed(tx: Tx, email: str, device_id: str, creditor: str, now: int,
                 locked: bool) -> None:
    if locked:
        subject = f"{creditor} locked your device"
        body = (f"{creditor} locked the device {device_id} on {when(now)}.\n"
                "It still makes emergency calls and calls the creditor, and it unlocks "
                "at its next check-in once the creditor lifts the lock.\n")
    else:
        subject = f"{creditor} unlocked your device"
        body = (f"{creditor} lifted its lock on the device {device_id} on {when(now)}.\n"
                "The device unlocks at its next check-in.\n")
    tx.outbox.enqueue(email, subject, body, now)
