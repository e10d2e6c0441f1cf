"""Mail of the redress use cases (transfers, the relay, account deletion), written to the
outbox in the transaction of the change, in the reader's language (services/notices.py).
Codes and tokens stand on their own line after `Code:` / `Token:` (docs/protocol.md), so
that a person and a script both find them: those two words are never translated."""

from __future__ import annotations

from urllib.parse import quote

from tenure.domain.wording import Phrase
from tenure.i18n import N_

from .notices import Value, send, when
from .ports import Tx


def transfer_code(tx: Tx, to: str, model: str, code: str, expires_at: int, now: int,
                  transfer_id: str, public_url: str = "", fallback: str | None = None) -> None:
    """The code stands alone after `Code:`; the link opens the owner portal's page that
    asks for it (signed in with this address). To the buyer, who may have no account
    yet: `fallback`, the seller's request's language, is used then."""
    api = f"POST /v1/transfers/{transfer_id}/accept {{\"code\"}}"
    how = (Phrase.of(N_("Sign in with this address and accept before %(expires)s on this "
                        "page:\n%(link)s\n(or with %(api)s).\n"),
                     expires=when(expires_at), api=api,
                     link=f"{public_url.rstrip('/')}/transfers/{transfer_id}")
           if public_url else
           Phrase.of(N_("Sign in with this address and accept with\n%(api)s before "
                        "%(expires)s.\n"), expires=when(expires_at), api=api))
    send(tx, to, N_("A %(model)s is being transferred to you"), N_(
        "The owner of a %(model)s wants to move it to your account (transfer "
        "%(transfer_id)s).\n"
        "%(how)s"
        "%(code_line)s\n"
        "Five wrong codes void the transfer. If you are not buying this device, ignore "
        "this message: nothing changes.\n"), now, fallback=fallback,
        model=model, transfer_id=transfer_id, how=how, code_line=f"Code:\n{code}")


def transfer_started(tx: Tx, to: str, device_id: str, model: str, expires_at: int,
                     now: int) -> None:
    send(tx, to, N_("You started a transfer of your %(model)s"), N_(
        "A transfer of the device %(device_id)s (%(model)s) to another account was started "
        "on %(when)s; the buyer can accept it until %(expires)s.\n"
        "Until then the device stays yours; you can cancel the transfer.\n"
        "If this was not you, cancel it, change your password and review your devices.\n"),
        now, model=model, device_id=device_id, when=when(now), expires=when(expires_at))


def transfer_ended(tx: Tx, to: str, device_id: str, model: str, why: Value, now: int) -> None:
    send(tx, to, N_("The transfer of a %(model)s ended"), N_(
        "The transfer of the device %(device_id)s (%(model)s) ended on %(when)s: %(why)s\n"
        "Its code no longer works; the device stays with its owner.\n"), now,
        model=model, device_id=device_id, when=when(now), why=why)


def transfer_completed_seller(tx: Tx, to: str, device_id: str, model: str, now: int) -> None:
    send(tx, to, N_("Your %(model)s now belongs to its buyer"), N_(
        "The buyer accepted the transfer of the device %(device_id)s (%(model)s) on "
        "%(when)s.\n"
        "It is no longer linked to your account; commands you sent to it that it had not "
        "carried out were cancelled.\n"), now, model=model, device_id=device_id, when=when(now))


def transfer_completed_buyer(tx: Tx, to: str, device_id: str, model: str, now: int) -> None:
    send(tx, to, N_("The %(model)s is now linked to your account"), N_(
        "The device %(device_id)s (%(model)s) was transferred to your account on %(when)s.\n"
        "After a factory reset it will ask for this account's password.\n"), now,
        model=model, device_id=device_id, when=when(now))


def relay_confirm(tx: Tx, to: str, token: str, ttl_hours: int, now: int,
                  public_url: str = "", fallback: str | None = None) -> None:
    """With the server's public address, a link to the confirmation page (which asks
    once more before sending: mail scanners open links, and opening one changes
    nothing). To a sender who may have no account: `fallback`, their request's
    language."""
    api = "POST /v1/public/messages/confirm {\"token\"}"
    how = (Phrase.of(N_("To send it, confirm within %(hours)s hours: open\n%(link)s\nand "
                        "press the button there, or send %(api)s."), hours=str(ttl_hours),
                     api=api, link=f"{public_url}/messages/confirm?token={quote(token)}")
           if public_url else
           Phrase.of(N_("To send it, confirm within %(hours)s hours: send %(api)s."),
                     hours=str(ttl_hours), api=api))
    send(tx, to, N_("Confirm your message to a device's holder"), N_(
        "You asked to send a message to whoever holds a device. %(how)s\n"
        "%(token_line)s\n"
        "If this was not you, ignore this message: nothing is sent.\n"), now,
        fallback=fallback, how=how, token_line=f"Token:\n{token}")


def relay_to_owner(tx: Tx, to: str, device_id: str, model: str, message_id: str, text: str,
                   now: int) -> None:
    send(tx, to, N_("A message about your %(model)s"), N_(
        "Someone wrote to the holder of your device %(device_id)s (%(model)s) on %(when)s.\n"
        "They proved an email address to us, but we tell them nothing about you, and you "
        "nothing of their address.\n\n"
        "----- message -----\n"
        "%(text)s\n"
        "-------------------\n\n"
        "Do not reply to this mail: it would not reach them. To answer, sign in and send\n"
        "POST /v1/me/messages/%(message_id)s/reply {\"message\"}; they get your words by "
        "mail, not your address.\n"), now,
        model=model, device_id=device_id, when=when(now), text=text, message_id=message_id)


def relay_reply(tx: Tx, to: str, device_id: str, text: str, now: int) -> None:
    send(tx, to, N_("A reply from the holder of a device"), N_(
        "The holder of the device %(device_id)s answered your message on %(when)s.\n\n"
        "----- reply -----\n"
        "%(text)s\n"
        "-----------------\n\n"
        "Their address is not shared. To write again, send a new message through "
        "POST /v1/public/messages.\n"), now, device_id=device_id, when=when(now), text=text)


def account_deleted(tx: Tx, to: str, now: int, language: str | None = None) -> None:
    """`language`: the deleted account's, read before its row was erased."""
    send(tx, to, N_("Your account was deleted"), N_(
        "Your account was deleted on %(when)s. Its sessions, password, second factor "
        "and mail history are gone; this address is free to register again.\n"
        "If this was not you, contact support at once.\n"), now,
        language=language, when=when(now))


_TOTP = {"off": N_("Two-step sign-in is off for your account"),
         "recovery": N_("New recovery codes for your account")}


def totp_changed(tx: Tx, to: str, what: str, now: int) -> None:
    """`what`: "off" or "recovery" (new recovery codes)."""
    subject = _TOTP[what]
    send(tx, to, subject, N_(
        "%(what)s (%(when)s).\n"
        "If this was not you, reset your password at once and contact support.\n"), now,
        what=Phrase.of(subject), when=when(now))
