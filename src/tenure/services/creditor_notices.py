"""Mail to a financed device's bound owner, written to the outbox in the transaction of
the change, in the owner's language (services/notices.py): a creditor's claim added,
and each lock and unlock (its release is notices.tenant_claim_released, shared with
every tenant)."""

from __future__ import annotations

from tenure.i18n import N_

from .notices import send, when
from .ports import Tx


def claim_added(tx: Tx, email: str, device_id: str, creditor: str, now: int) -> None:
    send(tx, email, N_("%(creditor)s now finances your device"), N_(
        "%(creditor)s (a financing company) took a claim on the device %(device_id)s on "
        "%(when)s.\n"
        "The device will show you its terms; nothing can be locked before you accept "
        "them there.\nIf you did not expect this, contact support.\n"), now,
        creditor=creditor, device_id=device_id, when=when(now))


def lock_changed(tx: Tx, email: str, device_id: str, creditor: str, now: int,
                 locked: bool) -> None:
    if locked:
        send(tx, email, N_("%(creditor)s locked your device"), N_(
            "%(creditor)s locked the device %(device_id)s on %(when)s.\n"
            "It still makes emergency calls and calls the creditor, and it unlocks "
            "at its next check-in once the creditor lifts the lock.\n"), now,
            creditor=creditor, device_id=device_id, when=when(now))
    else:
        send(tx, email, N_("%(creditor)s unlocked your device"), N_(
            "%(creditor)s lifted its lock on the device %(device_id)s on %(when)s.\n"
            "The device unlocks at its next check-in.\n"), now,
            creditor=creditor, device_id=device_id, when=when(now))
