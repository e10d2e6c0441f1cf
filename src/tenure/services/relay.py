"""The message relay: anyone may write to whoever holds a device without learning who
that is (docs/protocol.md Part 2, "Buyers and redress"; docs/redress.md).

A sender names a device and their own address; the message waits until they confirm
it with the token mailed to that address (so nobody can send in someone else's name,
and unconfirmed messages show an operator whose address is being abused). Confirmed,
it goes to every holder: the bound owner by mail, each tenant (organization, creditor)
as a `device.message` event. The owner's mail says nothing of the sender's address and
the sender never learns the owner's: the owner answers with
`POST /v1/me/messages/{message_id}/reply`, and the server mails the words on.

Limits, all in the database (services/limits.py): per client address and per sender
address when a message is asked, per device when it is; per account for replies. A
limit's hit is committed even when the request is then refused (the status check does
the same), so hammering spends the allowance.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tenure.clock import Clock
from tenure.domain.errors import (
    DeviceNotFound,
    InvalidInput,
    InvalidToken,
    Malformed,
    NotFound,
    RateLimitExceeded,
)
from tenure.domain.model import ClaimKind
from tenure.domain.provisioning import is_device_id, is_imei
from tenure.domain.status import address_group
from tenure.domain.text import clean_text

from . import redress_notices as mail
from .accounts import normalise_email
from .authn import require_session
from .limits import Limit
from .ports import Tx, UnitOfWork
from .ports.rows import RelayMessage
from .tokens import digest, new_token

MAX_MESSAGE = 1000  # docs/protocol.md Part 2
TOKEN_HOURS = 24
REPLY_DAYS = 30
TENANT_KINDS = (ClaimKind.ORGANIZATION, ClaimKind.CREDITOR)


@dataclass(frozen=True, slots=True)
class RelayLimits:
    per_address: Limit
    per_sender: Limit
    per_device: Limit
    per_replier: Limit


def _device_ref(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    imei, device_id = body.get("imei"), body.get("device_id")
    if (imei is None) == (device_id is None):
        raise Malformed("Give exactly one of 'imei' and 'device_id'.")
    if imei is not None and not (isinstance(imei, str) and is_imei(imei)):
        raise InvalidInput("'imei' must be 15 digits with a valid check digit.")
    if device_id is not None and not (isinstance(device_id, str) and is_device_id(device_id)):
        raise InvalidInput("'device_id' is not a device id.")
    return imei, device_id


class MessageRelay:
    def __init__(self, uow: UnitOfWork, clock: Clock, limits: RelayLimits,
                 public_url: str = "") -> None:
        self.uow = uow
        self.clock = clock
        self.limits = limits
        self.public_url = public_url.rstrip("/")  # where the confirmation mail links to

    def submit(self, body: Mapping[str, Any], client_address: str,
               locale: str | None = None) -> None:
        """`POST /v1/public/messages` → 202; the sender is mailed the confirmation token
        (in their account's language, else `locale`: the request's).
        `404 unknown-device` for a device Tenure does not know (the status check tells
        that much anyway); nothing about who holds a known one."""
        imei, device_id = _device_ref(body)
        try:
            sender = normalise_email(body.get("from"))
        except InvalidInput:
            raise InvalidInput("'from' must be your email address.") from None
        text = clean_text(body.get("message"), "message", max_length=MAX_MESSAGE,
                          multiline=True)
        group = address_group(client_address)

        def admit(tx: Tx) -> int | None:
            now = self.clock.now()
            return (self.limits.per_address.over(tx, group, now)
                    or self.limits.per_sender.over(tx, sender, now))

        wait = self.uow.run(admit)
        if wait is not None:
            raise RateLimitExceeded("Too many messages from your address or to your "
                                    "address; try again later.", retry_after=wait)
        token = new_token()

        def work(tx: Tx) -> int | None:
            now = self.clock.now()
            found = device_id
            if imei is not None:
                found = tx.devices.existing_imeis([imei]).get(imei)
            if found is None or tx.devices.get(found) is None:
                raise DeviceNotFound("No device with this IMEI or device id is known.")
            waiting = self.limits.per_device.over(tx, found, now)
            if waiting is not None:
                return waiting
            message_id = secrets.token_hex(16)
            tx.relay.add(RelayMessage(message_id, found, sender, text, now,
                                      now + TOKEN_HOURS * 3600, None, None, 0),
                         digest(token), group)
            tx.audit.record("relay", "relay.message.asked", actor="anonymous", at=now,
                            message=message_id, device=found)
            mail.relay_confirm(tx, sender, token, TOKEN_HOURS, now, self.public_url,
                               fallback=locale)
            return None

        wait = self.uow.run(work)
        if wait is not None:
            raise RateLimitExceeded("Too many messages to this device; try again later.",
                                    retry_after=wait)

    def confirm(self, token: object) -> None:
        """`POST /v1/public/messages/confirm` → 202: relayed to every holder, once."""
        if not isinstance(token, str) or not token or len(token) > 512:
            raise InvalidInput("'token' must be the token from the confirmation mail.")

        def work(tx: Tx) -> None:
            now = self.clock.now()
            message = tx.relay.by_token(digest(token))
            if message is None or message.confirmed_at is not None or message.expires_at <= now:
                raise InvalidToken("This token is unknown, used or expired; send the "
                                   "message again.")
            owner_account, recipients = None, 0
            stored = tx.devices.get(message.device_id)
            model = stored.device.model if stored else "device"
            for claim in tx.claims.active(message.device_id):
                if claim.kind is ClaimKind.OWNER:
                    account = tx.accounts.by_id(claim.holder)
                    if account is not None:
                        owner_account = account.account_id
                        recipients += 1
                        mail.relay_to_owner(tx, account.email, message.device_id, model,
                                            message.message_id, message.body, now)
                elif claim.kind in TENANT_KINDS:
                    recipients += 1
                    # the webhook outbox, in this transaction: the event leaves exactly
                    # when the message counts as relayed
                    tx.events.emit(claim.holder, "device.message", message.device_id, now,
                                   {"text": message.body})
            if not tx.relay.confirm(message.message_id, now, recipients, owner_account):
                raise InvalidToken("This token was already used.")
            tx.audit.record(f"device:{message.device_id}", "relay.message.relayed",
                            actor="anonymous", at=now, message=message.message_id,
                            recipients=recipients)

        self.uow.run(work)

    def reply(self, token: str | None, message_id: str, text: object) -> None:
        """`POST /v1/me/messages/{id}/reply` (our extension) → 202: the sender is mailed
        the owner's words; `404` for a message this account did not receive."""
        words = clean_text(text, "message", max_length=MAX_MESSAGE, multiline=True)

        def admit(tx: Tx) -> int | None:
            now = self.clock.now()
            session = require_session(tx, token, now)
            message = tx.relay.get(message_id) if len(message_id) <= 64 else None
            if (message is None or message.owner_account != session.account_id
                    or message.confirmed_at is None
                    or message.confirmed_at + REPLY_DAYS * 86400 <= now):
                raise NotFound(f"No message {message_id!r} to your account can be "
                               "answered (replies are possible for 30 days).")
            return self.limits.per_replier.over(tx, session.account_id, now)

        wait = self.uow.run(admit)
        if wait is not None:
            raise RateLimitExceeded("Too many replies; try again later.", retry_after=wait)

        def work(tx: Tx) -> None:
            now = self.clock.now()
            session = require_session(tx, token, now)
            message = tx.relay.get(message_id)
            assert message is not None
            tx.relay.replied(message_id)
            tx.audit.record(f"device:{message.device_id}", "relay.message.replied",
                            actor=f"account:{session.account_id}", at=now,
                            message=message_id)
            mail.relay_reply(tx, message.from_addr, message.device_id, words, now)

        self.uow.run(work)

    def senders(self, since_hours: float, limit: int = 50) -> list[dict[str, Any]]:
        """For operators (`tenure relay senders`): per sender address, messages asked and
        confirmed, devices written to and replies received, most active first."""
        with self.uow(readonly=True) as tx:
            return tx.relay.recent(self.clock.now() - int(since_hours * 3600), limit)
