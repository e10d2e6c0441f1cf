"""The message relay (docs/protocol.md Part 2): a sender proves their address with a
mailed token; the message then reaches every holder — the owner by mail, tenants by
event — and neither side learns the other's address. Limited per client, sender and
device."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tenure.domain.errors import (
    DeviceNotFound,
    InvalidInput,
    InvalidToken,
    Malformed,
    NotFound,
    RateLimitExceeded,
)
from tenure.domain.model import ClaimKind
from tenure.services.limits import Limit
from tenure.services.relay import MessageRelay, RelayLimits

from ..fake_redress import messages
from .conftest import World

SENDER = "finder@example.org"


def relay(world: World, hits: int = 5) -> MessageRelay:
    return MessageRelay(world.uow, world.clock, RelayLimits(
        Limit("relay-ip", hits, 3600), Limit("relay-sender", hits, 3600),
        Limit("relay-device", hits, 3600), Limit("relay-reply", hits, 3600)))


def token_of(world: World, address: str = SENDER) -> str:
    body = world.uow.mail_to(address)[-1].body
    found = re.search(r"^Token:\n(\S+)$", body, re.MULTILINE)
    assert found, body
    return found.group(1)


def ask(service: MessageRelay, device_id: str, **body: Any) -> None:
    service.submit({"device_id": device_id, "from": SENDER,
                    "message": "I found this phone", **body}, "192.0.2.7")


def test_the_owner_gets_the_message_and_replies_without_addresses(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    world.claim(phone, ClaimKind.CREDITOR, "tenant-7")
    service = relay(world)
    ask(service, phone.device_id)
    assert world.uow.mail_to(owner.email) == []  # nothing before the sender confirms
    service.confirm(token_of(world))

    [mail] = world.uow.mail_to(owner.email)
    assert "I found this phone" in mail.body and SENDER not in mail.body
    assert [(e["tenant_id"], e["event"], e["payload"]["text"])
            for e in world.uow.state.events] == [
        ("tenant-7", "device.message", "I found this phone")]
    [message] = messages(world.uow.state)
    assert message["recipients"] == 2

    service.reply(owner.token, message["message_id"], "Thank you! Call +1 555 0199")
    reply = world.uow.mail_to(SENDER)[-1]
    assert "Call +1 555 0199" in reply.body and owner.email not in reply.body
    with pytest.raises(InvalidToken):
        service.confirm("used-or-unknown")


def test_a_token_relays_once_and_expires(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    service = relay(world)
    ask(service, phone.device_id)
    token = token_of(world)
    service.confirm(token)
    with pytest.raises(InvalidToken):
        service.confirm(token)
    ask(service, phone.device_id)
    world.clock.advance(24 * 3600)
    with pytest.raises(InvalidToken):
        service.confirm(token_of(world))
    assert len(world.uow.mail_to(owner.email)) == 1


def test_only_the_owner_who_received_it_may_reply(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    service = relay(world)
    ask(service, phone.device_id)
    service.confirm(token_of(world))
    [message] = messages(world.uow.state)
    with pytest.raises(NotFound):
        service.reply(world.owner().token, message["message_id"], "not mine")
    with pytest.raises(NotFound):
        service.reply(owner.token, "f" * 32, "unknown")


def test_bad_input_and_unknown_devices(world: World) -> None:
    service = relay(world)
    phone = world.phone()
    with pytest.raises(Malformed):
        service.submit({"from": SENDER, "message": "x"}, "192.0.2.7")
    with pytest.raises(InvalidInput, match="from"):
        ask(service, phone.device_id, **{"from": "nobody"})
    with pytest.raises(InvalidInput, match="1000"):
        ask(service, phone.device_id, message="x" * 1001)
    with pytest.raises(InvalidInput):
        ask(service, phone.device_id, message="bad\x00text")
    with pytest.raises(DeviceNotFound):
        ask(service, "UTNOSUCHDEVICE")
    ask(service, phone.device_id, message="x" * 1000)  # a device without holders: accepted


def test_limits_per_sender_and_per_device(world: World) -> None:
    phone, other = world.phone(), world.phone()
    service = relay(world, hits=2)
    ask(service, phone.device_id)
    ask(service, phone.device_id)
    with pytest.raises(RateLimitExceeded, match="this device"):
        service.submit({"device_id": phone.device_id, "from": "s9@example.org",
                        "message": "hello"}, "198.51.100.9")
    with pytest.raises(RateLimitExceeded, match="your address"):
        ask(service, other.device_id)  # the third from the same sender
    senders = service.senders(24)
    assert senders[0]["from"] == SENDER and senders[0]["asked"] == 2
    assert senders[0]["confirmed"] == 0


def test_the_confirmation_mail_links_to_the_page_that_asks_before_sending(
        world: World) -> None:
    phone = world.phone(activated=True)
    service = MessageRelay(world.uow, world.clock, RelayLimits(
        Limit("relay-ip", 5, 3600), Limit("relay-sender", 5, 3600),
        Limit("relay-device", 5, 3600), Limit("relay-reply", 5, 3600)),
        public_url="https://tenure.test/")
    ask(service, phone.device_id)
    body = world.uow.mail_to(SENDER)[-1].body
    token = token_of(world)
    assert f"\nhttps://tenure.test/messages/confirm?token={token}\n" in body
    assert "POST /v1/public/messages/confirm" in body  # programs keep their way
    without = relay(world)
    ask(without, phone.device_id, **{"from": "other@example.org"})
    assert "/messages/confirm?" not in world.uow.mail_to("other@example.org")[-1].body
