"""Mail to account owners, written to the outbox in the transaction of the change.

Every mail is written in its reader's language (docs/operator-guide.md, "Languages"):
the subject and body are catalog messages (marked with `N_`, `%(name)s` placeholders)
translated when the mail is queued — into the language of the account the address
belongs to, else the language of the request that caused the mail (a sender without
an account), else English. A value that is itself a phrase (`why` a transfer ended) is
said in the same language; names, ids, codes and times are not translated.
"""

from __future__ import annotations

import time

from tenure.domain.wording import Phrase
from tenure.i18n import DEFAULT, N_, gettext, supported

from .lock_text import say
from .ports import Tx

Value = str | Phrase


def when(at: int) -> str:
    """How mail and device messages write a time."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


def mail_language(tx: Tx, to: str, fallback: str | None = None) -> str:
    """The language of mail to `to`: its account's, else `fallback` (the language of
    the request that caused the mail), else English. One point lookup, off the device
    path: mail is written only on changes."""
    account = tx.accounts.by_email(to)
    chosen = supported(account.locale) if account is not None else None
    return chosen or supported(fallback) or DEFAULT


def send(tx: Tx, to: str, subject: str, body: str, now: int, *, language: str | None = None,
         fallback: str | None = None, **values: Value) -> None:
    """Queue a mail in its reader's language (`language` when the caller knows it,
    else `mail_language`); `subject` and `body` are catalog messages."""
    lang = language or mail_language(tx, to, fallback)
    filled = {name: say(v, lang) if isinstance(v, Phrase) else v for name, v in values.items()}
    tx.outbox.enqueue(to, gettext(lang, subject, **filled), gettext(lang, body, **filled), now)


def device_bound(tx: Tx, email: str, device_id: str, model: str, now: int) -> None:
    send(tx, email, N_("Your %(model)s is now linked to your account"), N_(
        "The device %(device_id)s (%(model)s) was linked to your account on %(when)s.\n"
        "After a factory reset it will ask for this account's password.\n"
        "If this was not you, sign in and review your devices.\n"), now,
        model=model, device_id=device_id, when=when(now))


def device_released(tx: Tx, email: str, device_id: str, model: str, now: int,
                    how: Value) -> None:
    send(tx, email, N_("Your %(model)s was removed from your account"), N_(
        "The device %(device_id)s (%(model)s) was removed from your account on %(when)s "
        "(%(how)s).\nIts activation lock is off: anyone can set it up after a reset.\n"
        "If this was not you, change your password now.\n"), now,
        model=model, device_id=device_id, when=when(now), how=how)


def password_changed(tx: Tx, email: str, now: int, cooldown_hours: float) -> None:
    send(tx, email, N_("Your password was changed"), N_(
        "The password of your account was changed on %(when)s.\n"
        "For your protection, the new password cannot lift the activation lock of your "
        "devices for %(hours)s hours.\n"
        "If this was not you, reset your password again and contact support.\n"), now,
        when=when(now), hours=f"{cooldown_hours:g}")


RESET_SUBJECT = N_("Reset your password")
RESET_BODY = N_(
    "Someone asked to reset the password of your account.\n"
    "Your reset token (valid %(minutes)s minutes, usable once):\n\n    %(token)s\n\n"
    "%(how)s"
    "If this was not you, ignore this message: nothing changes.\n")


def password_reset_link(tx: Tx, email: str, token: str, now: int, ttl_minutes: int,
                        public_url: str = "") -> None:
    """The token stands alone on its indented line (scripts find it there); the link
    opens the owner portal's page that asks for the new password."""
    api = "POST /v1/password-resets/confirm {\"token\", \"new_password\"}"
    how = (Phrase.of(N_("Choose a new password on this page:\n%(link)s\n(or confirm with "
                        "%(api)s).\n"), api=api,
                     link=f"{public_url.rstrip('/')}/reset/confirm?token={token}")
           if public_url else Phrase.of(N_("Confirm with %(api)s.\n"), api=api))
    send(tx, email, RESET_SUBJECT, RESET_BODY, now, minutes=str(ttl_minutes), token=token,
         how=how)


def sign_in_throttled(tx: Tx, email: str, failures: int, until: int, now: int) -> None:
    send(tx, email, N_("Failed sign-in attempts on your account"), N_(
        "There were %(failures)s failed sign-in attempts on your account; sign-in is paused "
        "until %(until)s. Your account is not locked for good.\n"
        "If this was not you, consider changing your password.\n"), now,
        failures=str(failures), until=when(until))


def totp_enabled(tx: Tx, email: str, now: int) -> None:
    send(tx, email, N_("Two-step sign-in is on for your account"), N_(
        "A second factor (an authenticator app) was turned on for your account at "
        "%(when)s. Signing in now needs a code from it, or one of your recovery codes.\n"
        "If this was not you, reset your password at once and contact support.\n"), now,
        when=when(now))


_LOST_MODE = {"on": N_("Your device is in lost mode"),
              "changed": N_("The lost-mode message of your device changed"),
              "off": N_("Lost mode of your device was lifted")}


def lost_mode(tx: Tx, email: str, device_id: str, what: str, now: int) -> None:
    """`what`: "on", "changed" or "off" — the holder of a lost claim hears of every change."""
    subject = _LOST_MODE[what]
    send(tx, email, subject, N_(
        "%(what)s (device %(device_id)s, %(when)s).\n"
        "If this was not you, sign in, review your devices and change your password.\n"),
        now, what=Phrase.of(subject), device_id=device_id, when=when(now))


_TENANT_KINDS = {"organization": N_("an organization"),
                 "creditor": N_("a financing company"),
                 "retailer": N_("a retailer")}


def tenant_claim_added(tx: Tx, email: str, device_id: str, tenant_name: str, kind: str,
                       now: int) -> None:
    """The bound owner hears whenever a tenant's claim on their device is added."""
    send(tx, email, N_("%(tenant)s now holds a claim on your device"), N_(
        "%(tenant)s (%(kind)s) took a claim on the device %(device_id)s on %(when)s.\n"
        "It may lock the device's set-up after a factory reset until its code is entered.\n"
        "If you did not expect this, contact support.\n"), now,
        tenant=tenant_name, kind=Phrase.of(_TENANT_KINDS[kind]) if kind in _TENANT_KINDS
        else kind, device_id=device_id, when=when(now))


def tenant_claim_released(tx: Tx, email: str, device_id: str, tenant_name: str, now: int,
                          how: Value) -> None:
    """... and whenever one is released (`how`: by the tenant, the tenant was disabled)."""
    send(tx, email, N_("%(tenant)s released its claim on your device"), N_(
        "The claim of %(tenant)s on the device %(device_id)s was released on %(when)s "
        "(%(how)s).\n"), now,
        tenant=tenant_name, device_id=device_id, when=when(now), how=how)


def consent_given(tx: Tx, email: str, device_id: str, tenant_name: str, now: int) -> None:
    send(tx, email, N_("You allowed %(tenant)s to claim your device"), N_(
        "On %(when)s your account allowed %(tenant)s to take a claim on the device "
        "%(device_id)s. You will be told when it does.\n"
        "If this was not you, change your password now and contact support.\n"), now,
        tenant=tenant_name, device_id=device_id, when=when(now))


_COMMANDS = {
    "ring": (N_("Your device will ring"), N_("It rings at its next check-in.")),
    "wipe": (N_("Your device will be wiped"),
             N_("At its next check-in it erases its user data. Its locks stay: a device "
                "in lost mode still shows your message and contact.")),
}


def owner_command(tx: Tx, email: str, device_id: str, kind: str, now: int) -> None:
    """A ring or a wipe was sent to the device: the owner hears of it, in case it was not them."""
    subject, effect = _COMMANDS[kind]
    send(tx, email, subject, N_(
        "%(what)s (device %(device_id)s, asked %(when)s). %(effect)s\n"
        "If this was not you, sign in, review your devices and change your password.\n"),
        now, what=Phrase.of(subject), effect=Phrase.of(effect), device_id=device_id,
        when=when(now))


def wipes_cancelled(tx: Tx, email: str, device_ids: list[str], now: int) -> None:
    send(tx, email, N_("Pending wipes of your devices were cancelled"), N_(
        "Your password was reset on %(when)s, so the wipe commands still waiting for "
        "these devices were cancelled: %(devices)s.\n"
        "Send them again once you are signed in, if you still want them.\n"), now,
        when=when(now), devices=", ".join(sorted(device_ids)))
