"""Mail to account owners, written to the outbox in the transaction of the change."""

from __future__ import annotations

import time

from .ports import Tx


def when(at: int) -> str:
    """How mail and device messages write a time."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


def device_bound(tx: Tx, email: str, device_id: str, model: str, now: int) -> None:
    tx.outbox.enqueue(email, f"Your {model} is now linked to your account", (
        f"The device {device_id} ({model}) was linked to your account on {when(now)}.\n"
        "After a factory reset it will ask for this account's password.\n"
        "If this was not you, sign in and review your devices.\n"), now)


def device_released(tx: Tx, email: str, device_id: str, model: str, now: int, how: str) -> None:
    tx.outbox.enqueue(email, f"Your {model} was removed from your account", (
        f"The device {device_id} ({model}) was removed from your account on {when(now)} "
        f"({how}).\nIts activation lock is off: anyone can set it up after a reset.\n"
        "If this was not you, change your password now.\n"), now)


def password_changed(tx: Tx, email: str, now: int, cooldown_hours: float) -> None:
    tx.outbox.enqueue(email, "Your password was changed", (
        f"The password of your account was changed on {when(now)}.\n"
        f"For your protection, the new password cannot lift the activation lock of your "
        f"devices for {cooldown_hours:g} hours.\n"
        "If this was not you, reset your password again and contact support.\n"), now)


def password_reset_link(tx: Tx, email: str, token: str, now: int, ttl_minutes: int,
                        public_url: str = "") -> None:
    """The token stands alone on its indented line (scripts find it there); the link
    opens the owner portal's page that asks for the new password."""
    api = "POST /v1/password-resets/confirm {\"token\", \"new_password\"}"
    how = (f"Choose a new password on this page:\n{public_url.rstrip('/')}"
           f"/reset/confirm?token={token}\n(or confirm with {api}).\n"
           if public_url else f"Confirm with {api}.\n")
    tx.outbox.enqueue(email, "Reset your password", (
        "Someone asked to reset the password of your account.\n"
        f"Your reset token (valid {ttl_minutes} minutes, usable once):\n\n    {token}\n\n"
        f"{how}"
        "If this was not you, ignore this message: nothing changes.\n"), now)


def sign_in_throttled(tx: Tx, email: str, failures: int, until: int, now: int) -> None:
    tx.outbox.enqueue(email, "Failed sign-in attempts on your account", (
        f"There were {failures} failed sign-in attempts on your account; sign-in is paused "
        f"until {when(until)}. Your account is not locked for good.\n"
        "If this was not you, consider changing your password.\n"), now)


def totp_enabled(tx: Tx, email: str, now: int) -> None:
    tx.outbox.enqueue(email, "Two-step sign-in is on for your account", (
        f"A second factor (an authenticator app) was turned on for your account at "
        f"{when(now)}. Signing in now needs a code from it, or one of your recovery codes.\n"
        "If this was not you, reset your password at once and contact support.\n"), now)


def lost_mode(tx: Tx, email: str, device_id: str, what: str, now: int) -> None:
    """`what`: "on", "changed" or "off" — the holder of a lost claim hears of every change."""
    subject = {"on": "Your device is in lost mode",
               "changed": "The lost-mode message of your device changed",
               "off": "Lost mode of your device was lifted"}[what]
    tx.outbox.enqueue(email, subject, (
        f"{subject} (device {device_id}, {when(now)}).\n"
        "If this was not you, sign in, review your devices and change your password.\n"), now)


_TENANT_KINDS = {"organization": "an organization", "creditor": "a financing company",
                 "retailer": "a retailer"}


def tenant_claim_added(tx: Tx, email: str, device_id: str, tenant_name: str, kind: str,
                       now: int) -> None:
    """The bound owner hears whenever a tenant's claim on their device is added."""
    tx.outbox.enqueue(email, f"{tenant_name} now holds a claim on your device", (
        f"{tenant_name} ({_TENANT_KINDS.get(kind, kind)}) took a claim on the device "
        f"{device_id} on {when(now)}.\n"
        "It may lock the device's set-up after a factory reset until its code is entered.\n"
        "If you did not expect this, contact support.\n"), now)


def tenant_claim_released(tx: Tx, email: str, device_id: str, tenant_name: str, now: int,
                          how: str) -> None:
    """... and whenever one is released (`how`: by the tenant, the tenant was disabled)."""
    tx.outbox.enqueue(email, f"{tenant_name} released its claim on your device", (
        f"The claim of {tenant_name} on the device {device_id} was released on {when(now)} "
        f"({how}).\n"), now)


def consent_given(tx: Tx, email: str, device_id: str, tenant_name: str, now: int) -> None:
    tx.outbox.enqueue(email, f"You allowed {tenant_name} to claim your device", (
        f"On {when(now)} your account allowed {tenant_name} to take a claim on the device "
        f"{device_id}. You will be told when it does.\n"
        "If this was not you, change your password now and contact support.\n"), now)


def owner_command(tx: Tx, email: str, device_id: str, kind: str, now: int) -> None:
    """A ring or a wipe was sent to the device: the owner hears of it, in case it was not them."""
    subject, effect = {
        "ring": ("Your device will ring", "It rings at its next check-in."),
        "wipe": ("Your device will be wiped",
                 "At its next check-in it erases its user data. Its locks stay: a device "
                 "in lost mode still shows your message and contact."),
    }[kind]
    tx.outbox.enqueue(email, subject, (
        f"{subject} (device {device_id}, asked {when(now)}). {effect}\n"
        "If this was not you, sign in, review your devices and change your password.\n"),
        now)


def wipes_cancelled(tx: Tx, email: str, device_ids: list[str], now: int) -> None:
    tx.outbox.enqueue(email, "Pending wipes of your devices were cancelled", (
        f"Your password was reset on {when(now)}, so the wipe commands still waiting for "
        f"these devices were cancelled: {', '.join(sorted(device_ids))}.\n"
        "Send them again once you are signed in, if you still want them.\n"), now)
