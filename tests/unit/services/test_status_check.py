"""The buyer's status check on fakes: what the signed statement says, the input it
refuses, and the limits per address (/64) and per device."""

from __future__ import annotations

from typing import Any

import pytest

from tenure import protocol
from tenure.crypto.jws import parse_compact, sign_compact
from tenure.crypto.keys import SigningKey
from tenure.domain.errors import DeviceNotFound, InvalidInput, Malformed, RateLimitExceeded
from tenure.domain.model import ClaimKind
from tenure.services.limits import Limit
from tenure.services.policy import PolicyStore
from tenure.services.status_check import StatusCheck, StatusQuery, read_query

from .conftest import Phone, World

IMEI_A = "490154203237518"
IMEI_B = "356938035643809"


def service(world: World, rate: int = 30) -> StatusCheck:
    return StatusCheck(world.uow, world.keyring, world.clock, "https://tenure.test",
                       PolicyStore(world.uow, world.clock, 0),
                       Limit("status-ip", rate, 60), Limit("status-device", rate, 60))


def phone_with_imeis(world: World) -> Phone:
    phone = world.phone()
    with world.uow() as tx:
        tx.devices.insert_many([], [(IMEI_B, phone.device_id), (IMEI_A, phone.device_id)])
    return phone


def statement(world: World, query: StatusQuery, address: str = "192.0.2.1",
              check: StatusCheck | None = None) -> dict[str, Any]:
    token = (check or service(world))(query, address)
    jws = parse_compact(token)
    assert jws.has_type(protocol.STATUS_TYP)
    assert jws.header["kid"] == world.keyring.integrator_key.kid
    assert jws.verify_with(world.keyring.integrator_key.key.public())
    return jws.payload()


def test_a_free_device_is_told_free_with_its_first_imei(world: World) -> None:
    phone = phone_with_imeis(world)
    payload = statement(world, StatusQuery(device_id=phone.device_id, nonce="abc"))
    assert payload == {"iss": "https://tenure.test", "sub": phone.device_id, "imei": IMEI_B,
                       "iat": world.clock.now(), "exp": world.clock.now() + 600,
                       "nonce": "abc", "activation_lock": False, "lost": False,
                       "financed": False, "organization": False,
                       "territory_restrictions": []}


def test_asked_by_imei_it_names_that_imei_and_no_nonce_when_none_given(world: World) -> None:
    phone = phone_with_imeis(world)
    payload = statement(world, StatusQuery(imei=IMEI_A))
    assert payload["sub"] == phone.device_id and payload["imei"] == IMEI_A
    assert "nonce" not in payload


def test_claims_become_booleans_and_holders_are_never_told(world: World) -> None:
    phone = phone_with_imeis(world)
    owner = world.owner("seller@example.com")
    world.bind(phone, owner)
    world.claim(phone, ClaimKind.LOST, owner.account_id, message="call me", contact="+1 555")
    world.claim(phone, ClaimKind.CREDITOR, "bank-1")
    world.apply_policy('[[rules]]\nid = "ir"\neffect = "lock_in_use"\nterritories = ["IR"]\n')
    payload = statement(world, StatusQuery(device_id=phone.device_id))
    assert payload["activation_lock"] and payload["lost"] and payload["financed"]
    assert not payload["organization"]
    assert payload["territory_restrictions"] == ["IR"]
    text = str(payload)
    for secret in (owner.account_id, "seller", "bank-1", "call me", "555"):
        assert secret not in text


def test_an_unknown_device_is_404_unknown_device(world: World) -> None:
    with pytest.raises(DeviceNotFound):
        service(world)(StatusQuery(imei=IMEI_A), "192.0.2.1")
    with pytest.raises(DeviceNotFound):
        service(world)(StatusQuery(device_id="UTNOSUCH"), "192.0.2.1")


@pytest.mark.parametrize(("params", "error"), [
    ([], Malformed),
    ([("imei", IMEI_A), ("device_id", "UT1")], Malformed),
    ([("imei", IMEI_A), ("imei", IMEI_B)], Malformed),
    ([("imei", "490154203237519")], InvalidInput),  # check digit wrong
    ([("imei", "49015420323751")], InvalidInput),
    ([("device_id", "not a device id!")], InvalidInput),
    ([("imei", IMEI_A), ("nonce", "a" * 129)], InvalidInput),
    ([("imei", IMEI_A), ("nonce", "no/slash")], InvalidInput),
    ([("imei", IMEI_A), ("nonce", "")], InvalidInput),
])
def test_a_query_that_cannot_be_answered_is_refused(params: list[tuple[str, str]],
                                                     error: type[Exception]) -> None:
    with pytest.raises(error):
        read_query(params)


def test_a_good_query_is_read() -> None:
    assert read_query([("imei", IMEI_A), ("nonce", "a" * 128), ("x", "1")]) == StatusQuery(
        imei=IMEI_A, nonce="a" * 128)


def test_an_address_is_limited_per_ipv6_64_then_told_when_to_return(world: World) -> None:
    phones = [phone_with_imeis(world)] + [world.phone() for _ in range(3)]
    check = service(world, rate=3)
    for i, phone in enumerate(phones[:3]):
        check(StatusQuery(device_id=phone.device_id), f"2001:db8:0:1::{i + 1}")
    with pytest.raises(RateLimitExceeded) as caught:
        check(StatusQuery(device_id=phones[3].device_id), "2001:db8:0:1:abcd::1")
    assert 1 <= caught.value.extensions["retry_after"] <= 60
    check(StatusQuery(device_id=phones[3].device_id), "2001:db8:0:2::1")  # another /64
    world.clock.advance(60)
    check(StatusQuery(device_id=phones[3].device_id), "2001:db8:0:1::1")


def test_a_device_is_limited_whoever_asks(world: World) -> None:
    phone = phone_with_imeis(world)
    check = service(world, rate=2)
    check(StatusQuery(device_id=phone.device_id), "192.0.2.1")
    check(StatusQuery(imei=IMEI_A), "192.0.2.2")
    with pytest.raises(RateLimitExceeded):
        check(StatusQuery(imei=IMEI_B), "192.0.2.3")


def test_only_the_servers_own_statements_are_read_back(world: World) -> None:
    """The pages put a statement in words and hand it out as a file: only one this
    server signed, of the status type, with a key it publishes."""
    phone = phone_with_imeis(world)
    check = service(world)
    token = check(StatusQuery(imei=IMEI_A), "192.0.2.1")
    assert check.verified(token) == parse_compact(token).payload()
    world.clock.advance(3600)  # an expired statement is still a faithful copy
    assert check.verified(token)["sub"] == phone.device_id

    ours = world.keyring.integrator_key
    payload = parse_compact(token).payload()
    stranger = SigningKey.generate("P-256")
    forgeries = [
        sign_compact({"kid": ours.kid, "typ": protocol.STATUS_TYP}, payload, stranger),
        sign_compact({"kid": ours.kid, "typ": protocol.RECORD_TYP}, payload, ours.key),
        sign_compact({"kid": "other", "typ": protocol.STATUS_TYP}, payload, ours.key),
        token + "x", "not a statement", "a.b.c", None, "a" * 5000,
    ]
    for forged in forgeries:
        with pytest.raises(InvalidInput):
            check.verified(forged)
