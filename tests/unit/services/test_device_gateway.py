"""A signed device request end to end on fakes: kid, alg and signature checked, the
nonce used exactly once — also when the use case refuses, and also when the
transaction is retried after a lost race."""

from __future__ import annotations

import json
import secrets

import pytest

from tenure.crypto.jws import sign_flattened
from tenure.crypto.keys import SigningKey
from tenure.domain.errors import (
    BadNonce,
    BadSignature,
    NotActivated,
    UnknownDevice,
    UrlMismatch,
)
from tenure.services.device_gateway import DeviceGateway
from tenure.services.nonces import NonceService
from tenure.services.ports import UsedNonces

from ..fakes import State, UsedNonceSet
from .conftest import Phone, World

CHECKIN, BIND = "/v1/device/checkin", "/v1/device/bind"


def gateway(world: World, used: UsedNonces | None = None) -> tuple[DeviceGateway, NonceService]:
    nonces = NonceService(secrets.token_bytes(32), world.clock, 300, used)
    return DeviceGateway(world.uow, nonces), nonces


def body(phone: Phone, nonce: str, path: str, payload: dict[str, object] | None = None,
         key: SigningKey | None = None, kid: str | None = None) -> bytes:
    header = {"kid": kid or phone.device_id, "nonce": nonce, "url": path}
    return json.dumps(sign_flattened(header, payload or {}, key or phone.key)).encode()


def test_a_nonce_is_good_for_one_request(world: World) -> None:
    phone = world.phone(activated=True)
    gw, nonces = gateway(world)
    signed = body(phone, nonces.issue(), CHECKIN)
    assert gw.handle(signed, CHECKIN, world.checkin())
    with pytest.raises(BadNonce):
        gw.handle(signed, CHECKIN, world.checkin())


def test_a_refused_request_still_uses_up_its_nonce(world: World) -> None:
    phone = world.phone()  # not activated: bind is refused
    owner = world.owner()
    gw, nonces = gateway(world)
    signed = body(phone, nonces.issue(), BIND, {"account_token": owner.token})
    with pytest.raises(NotActivated):
        gw.handle(signed, BIND, world.binding().bind)
    with world.uow() as tx:
        tx.devices.set_activated(phone.device_id, world.clock.now())
    with pytest.raises(BadNonce):  # replayed once the state that refused it has changed
        gw.handle(signed, BIND, world.binding().bind)
    assert world.uow.active_claims(phone.device_id) == ()


def test_unknown_devices_wrong_keys_and_wrong_urls_are_refused(world: World) -> None:
    phone = world.phone(activated=True)
    gw, nonces = gateway(world)
    with pytest.raises(UnknownDevice):
        gw.handle(body(phone, nonces.issue(), CHECKIN, kid="UTNOSUCHDEVICE"), CHECKIN,
                  world.checkin())
    with pytest.raises(BadSignature):
        gw.handle(body(phone, nonces.issue(), CHECKIN, key=SigningKey.generate()), CHECKIN,
                  world.checkin())
    stray = nonces.issue()
    with pytest.raises(UrlMismatch):
        gw.handle(body(phone, stray, BIND), CHECKIN, world.checkin())
    with pytest.raises(BadNonce):  # the mismatched request used its nonce
        gw.handle(body(phone, stray, CHECKIN), CHECKIN, world.checkin())


@pytest.mark.parametrize("kept_apart", [False, True], ids=["database", "outside"])
def test_a_retried_transaction_does_not_refuse_its_own_nonce(world: World,
                                                             kept_apart: bool) -> None:
    """After a lost race the whole request runs again; a nonce kept in the database was
    rolled back with it, one kept outside (Redis) must not be used a second time."""
    phone = world.phone(activated=True)
    used = UsedNonceSet() if kept_apart else None
    gw, nonces = gateway(world, used)

    def concurrent_writer(state: State) -> None:
        state.policies.clear()

    world.uow.races.append(concurrent_writer)
    nonce = nonces.issue()
    assert gw.handle(body(phone, nonce, CHECKIN), CHECKIN, world.checkin())
    assert world.uow.races == []  # the race happened and the request was retried
    if used is not None:
        assert nonce in used.used and nonce not in world.uow.state.used_nonces
    else:
        assert nonce in world.uow.state.used_nonces
