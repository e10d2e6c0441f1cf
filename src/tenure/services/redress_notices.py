"""Mail of the redress use cases (transfers, the relay, account deletion), written to the
outbox in the transaction of the change. Codes and tokens stand on their own line after
`Code:` / `Token:` (docs/protocol.md), so that a person and a script both find them."""

from __future__ import annotations

from urllib.parse import quote

from .notices import when
from .ports import Tx


def transfer_code(tx: Tx, to: str, model: str, code: str, expires_at: int, now: int,
                  transfer_id: str, public_url: str = "") -> None:
    """The code stands alone after `Code:`; the link opens the owner portal's page that
    asks for it (signed in with this address)."""
    api = f"POST /v1/transfers/{transfer_id}/accept {{\"code\"}}"
    how = (f"Sign in with this address and accept before {when(expires_at)} on this page:\n"
           f"{public_url.rstrip('/')}/transfers/{transfer_id}\n(or with {api}).\n"
           if public_url else
           f"Sign in with this address and accept with\n{api} before {when(expires_at)}.\n")
    tx.outbox.enqueue(to, f"A {model} is being transferred to you", (
        f"The owner of a {model} wants to move it to your account (transfer {transfer_id}).\n"
        f"{how}"
        "Code:\n"
        f"{code}\n"
        "Five wrong codes void the transfer. If you are not buying this device, ignore "
        "this message: nothing changes.\n"), now)


def transfer_started(tx: Tx, to: str, device_id: str, model: str, expires_at: int,
                     now: int) -> None:
    tx.outbox.enqueue(to, f"You started a transfer of your {model}", (
        f"A transfer of the device {device_id} ({model}) to another account was started on "
        f"{when(now)}; the buyer can accept it until {when(expires_at)}.\n"
        "Until then the device stays yours; you can cancel the transfer.\n"
        "If this was not you, cancel it, change your password and review your devices.\n"),
        now)


def transfer_ended(tx: Tx, to: str, device_id: str, model: str, why: str, now: int) -> None:
    tx.outbox.enqueue(to, f"The transfer of a {model} ended", (
        f"The transfer of the device {device_id} ({model}) ended on {when(now)}: {why}\n"
        "Its code no longer works; the device stays with its owner.\n"), now)


def transfer_completed_seller(tx: Tx, to: str, device_id: str, model: str, now: int) -> None:
    tx.outbox.enqueue(to, f"Your {model} now belongs to its buyer", (
        f"The buyer accepted the transfer of the device {device_id} ({model}) on {when(now)}.\n"
        "It is no longer linked to your account; commands you sent to it that it had not "
        "carried out were cancelled.\n"), now)


def transfer_completed_buyer(tx: Tx, to: str, device_id: str, model: str, now: int) -> None:
    tx.outbox.enqueue(to, f"The {model} is now linked to your account", (
        f"The device {device_id} ({model}) was transferred to your account on {when(now)}.\n"
        "After a factory reset it will ask for this account's password.\n"), now)


def relay_confirm(tx: Tx, to: str, token: str, ttl_hours: int, now: int,
                  public_url: str = "") -> None:
    """With the server's public address, a link to the confirmation page (which asks
    once more before sending: mail scanners open links, and opening one changes
    nothing)."""
    how = (f"open\n{public_url}/messages/confirm?token={quote(token)}\nand press the button "
           "there, or send " if public_url else "send ")
    tx.outbox.enqueue(to, "Confirm your message to a device's holder", (
        "You asked to send a message to whoever holds a device. To send it, confirm "
        f"within {ttl_hours} hours: {how}POST /v1/public/messages/confirm {{\"token\"}}.\n"
        "Token:\n"
        f"{token}\n"
        "If this was not you, ignore this message: nothing is sent.\n"), now)


def relay_to_owner(tx: Tx, to: str, device_id: str, model: str, message_id: str, text: str,
                   now: int) -> None:
    tx.outbox.enqueue(to, f"A message about your {model}", (
        f"Someone wrote to the holder of your device {device_id} ({model}) on {when(now)}.\n"
        "They proved an email address to us, but we tell them nothing about you, and you "
        "nothing of their address.\n\n"
        "----- message -----\n"
        f"{text}\n"
        "-------------------\n\n"
        "Do not reply to this mail: it would not reach them. To answer, sign in and send\n"
        f"POST /v1/me/messages/{message_id}/reply {{\"message\"}}; they get your words by "
        "mail, not your address.\n"), now)


def relay_reply(tx: Tx, to: str, device_id: str, text: str, now: int) -> None:
    tx.outbox.enqueue(to, "A reply from the holder of a device", (
        f"The holder of the device {device_id} answered your message on {when(now)}.\n\n"
        "----- reply -----\n"
        f"{text}\n"
        "-----------------\n\n"
        "Their address is not shared. To write again, send a new message through "
        "POST /v1/public/messages.\n"), now)


def account_deleted(tx: Tx, to: str, now: int) -> None:
    tx.outbox.enqueue(to, "Your account was deleted", (
        f"Your account was deleted on {when(now)}. Its sessions, password, second factor "
        "and mail history are gone; this address is free to register again.\n"
        "If this was not you, contact support at once.\n"), now)


def totp_changed(tx: Tx, to: str, what: str, now: int) -> None:
    """`what`: "off" or "recovery" (new recovery codes)."""
    subject = {"off": "Two-step sign-in is off for your account",
               "recovery": "New recovery codes for your account"}[what]
    tx.outbox.enqueue(to, subject, (
        f"{subject} ({when(now)}).\n"
        "If this was not you, reset your password at once and contact support.\n"), now)
