"""Ownership transfer (docs/protocol.md Part 2): the seller starts it with a fresh sign-in
outside the cool-down, the buyer accepts with the mailed code, and the owner claim moves
in one transaction that re-checks the device is still the seller's and free of other
holders. Wrong codes are counted and the fifth voids it; a password reset cancels it."""

from __future__ import annotations

import re

import pytest

from tenure.domain.errors import (
    CredentialCoolingDown,
    DeviceHeld,
    InvalidInput,
    NotFound,
    ReauthenticationRequired,
    TransferPending,
)
from tenure.domain.masking import mask_email
from tenure.domain.model import ClaimKind
from tenure.services.authn import OwnerActions
from tenure.services.password_reset import PasswordReset
from tenure.services.tokens import digest
from tenure.services.transfers import Transfers

from .conftest import COOLDOWN, HOUR, REAUTH, Owner, Phone, World


def transfers(world: World) -> Transfers:
    return Transfers(world.uow, world.clock, OwnerActions(REAUTH, COOLDOWN))


def mailed_code(world: World, email: str) -> str:
    body = world.uow.mail_to(email)[-1].body
    found = re.search(r"^Code:\n(\S+)$", body, re.MULTILINE)
    assert found, body
    return found.group(1)


def sale(world: World) -> tuple[Owner, Owner, Phone]:
    seller, buyer = world.owner(), world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, seller)
    return seller, buyer, phone


def owner_of(world: World, device_id: str) -> str | None:
    return next((c.holder for c in world.uow.active_claims(device_id)
                 if c.kind is ClaimKind.OWNER), None)


def test_the_buyer_accepts_and_the_owner_claim_moves(world: World) -> None:
    seller, buyer, phone = sale(world)
    with world.uow() as tx:
        command = tx.commands.add(phone.device_id, "ring", {}, world.clock.now())
    started = transfers(world).start(seller.token, phone.device_id, buyer.email.upper())
    assert started.expires_at == world.clock.now() + 7 * 86400
    code = mailed_code(world, buyer.email)
    assert len(code.replace("-", "")) >= 8
    stored = world.uow.state.transfers[started.transfer_id]["row"]
    assert code not in stored.code_hash and stored.to_email == buyer.email

    accepted = transfers(world).accept(buyer.token, started.transfer_id, code.lower())
    assert accepted.owner_hint == mask_email(buyer.email)
    [claim] = [c for c in world.uow.active_claims(phone.device_id)
               if c.kind is ClaimKind.OWNER]
    assert (claim.holder, claim.holder_hint) == (buyer.account_id, mask_email(buyer.email))
    assert world.uow.state.commands[command]["cancelled_at"] == world.clock.now()
    events = [(e["stream"], e["action"]) for e in world.uow.state.audit]
    assert (f"device:{phone.device_id}", "claim.owner.transferred") in events
    assert (f"account:{seller.account_id}", "transfer.completed.seller") in events
    assert (f"account:{buyer.account_id}", "transfer.completed.buyer") in events
    assert not any(seller.email in str(e) or buyer.email in str(e)
                   for e in world.uow.state.audit)
    assert world.uow.mail_to(seller.email)[-1].subject.endswith("now belongs to its buyer")
    assert "is now linked to your account" in world.uow.mail_to(buyer.email)[-1].subject


def test_starting_needs_a_fresh_sign_in_outside_the_cool_down(world: World) -> None:
    seller, buyer, phone = sale(world)
    world.clock.advance(REAUTH + 1)
    with pytest.raises(ReauthenticationRequired):
        transfers(world).start(seller.token, phone.device_id, buyer.email)
    with world.uow() as tx:
        tx.accounts.set_password(seller.account_id, world.password_hash, world.clock.now())
    world.sign_in_again(seller)
    with pytest.raises(CredentialCoolingDown):
        transfers(world).start(seller.token, phone.device_id, buyer.email)
    assert world.uow.state.transfers == {}


def test_only_the_owner_may_start_and_not_to_themselves(world: World) -> None:
    seller, buyer, phone = sale(world)
    with pytest.raises(NotFound):
        transfers(world).start(buyer.token, phone.device_id, seller.email)
    with pytest.raises(InvalidInput):
        transfers(world).start(seller.token, phone.device_id, seller.email)
    with pytest.raises(InvalidInput):
        transfers(world).start(seller.token, phone.device_id, "not an address")


def test_one_pending_transfer_per_device_until_it_expires(world: World) -> None:
    seller, buyer, phone = sale(world)
    transfers(world).start(seller.token, phone.device_id, buyer.email)
    with pytest.raises(TransferPending):
        transfers(world).start(seller.token, phone.device_id, "other@example.com")
    world.clock.advance(7 * 86400)
    world.sign_in_again(seller)
    transfers(world).start(seller.token, phone.device_id, "other@example.com")


@pytest.mark.parametrize("kind", [ClaimKind.LOST, ClaimKind.CREDITOR, ClaimKind.ORGANIZATION])
def test_a_held_claim_refuses_start_and_accept(world: World, kind: ClaimKind) -> None:
    seller, buyer, phone = sale(world)
    started = transfers(world).start(seller.token, phone.device_id, buyer.email)
    code = mailed_code(world, buyer.email)
    world.claim(phone, kind, seller.account_id if kind is ClaimKind.LOST else "tenant-1",
                message="held", contact="+1 555 0100")
    with pytest.raises(DeviceHeld):
        transfers(world).accept(buyer.token, started.transfer_id, code)
    assert owner_of(world, phone.device_id) == seller.account_id
    world.sign_in_again(seller)
    transfers(world).cancel(seller.token, phone.device_id, started.transfer_id)
    with pytest.raises(DeviceHeld):
        transfers(world).start(seller.token, phone.device_id, buyer.email)


def test_another_account_sees_404_exactly_like_an_unknown_transfer(world: World) -> None:
    seller, buyer, phone = sale(world)
    started = transfers(world).start(seller.token, phone.device_id, buyer.email)
    code = mailed_code(world, buyer.email)
    mallory = world.owner()
    for token, transfer_id in ((mallory.token, started.transfer_id),
                               (seller.token, started.transfer_id),
                               (buyer.token, "0" * 32)):
        with pytest.raises(NotFound) as caught:
            transfers(world).accept(token, transfer_id, code)
        assert transfer_id in str(caught.value.detail)
    assert owner_of(world, phone.device_id) == seller.account_id


def test_five_wrong_codes_void_the_transfer(world: World) -> None:
    seller, buyer, phone = sale(world)
    started = transfers(world).start(seller.token, phone.device_id, buyer.email)
    code = mailed_code(world, buyer.email)
    for left in (4, 3, 2, 1):
        with pytest.raises(InvalidInput, match=f"{left} attempts left"):
            transfers(world).accept(buyer.token, started.transfer_id, "WRONG-CODE0")
    with pytest.raises(NotFound, match="voided"):
        transfers(world).accept(buyer.token, started.transfer_id, "WRONG-CODE0")
    with pytest.raises(NotFound):
        transfers(world).accept(buyer.token, started.transfer_id, code)
    assert owner_of(world, phone.device_id) == seller.account_id
    assert "transfer.voided" in world.uow.actions(f"device:{phone.device_id}")


def test_an_expired_or_cancelled_transfer_cannot_be_accepted(world: World) -> None:
    seller, buyer, phone = sale(world)
    started = transfers(world).start(seller.token, phone.device_id, buyer.email)
    code = mailed_code(world, buyer.email)
    transfers(world).cancel(seller.token, phone.device_id, started.transfer_id)
    with pytest.raises(NotFound):
        transfers(world).accept(buyer.token, started.transfer_id, code)
    with pytest.raises(NotFound):  # cancelling twice: nothing pending
        transfers(world).cancel(seller.token, phone.device_id, started.transfer_id)
    world.sign_in_again(seller)
    again = transfers(world).start(seller.token, phone.device_id, buyer.email)
    world.clock.advance(7 * 86400)
    with pytest.raises(NotFound):
        transfers(world).accept(buyer.token, again.transfer_id, mailed_code(world, buyer.email))


def test_the_seller_releasing_the_device_first_makes_accept_404(world: World) -> None:
    seller, buyer, phone = sale(world)
    started = transfers(world).start(seller.token, phone.device_id, buyer.email)
    [owner] = world.uow.active_claims(phone.device_id)
    with world.uow() as tx:
        tx.claims.release(owner.claim_id, world.clock.now(), "test")
    with pytest.raises(NotFound, match="no longer holds"):
        transfers(world).accept(buyer.token, started.transfer_id,
                                mailed_code(world, buyer.email))


def test_a_password_reset_cancels_the_sellers_pending_transfers(world: World) -> None:
    seller, buyer, phone = sale(world)
    started = transfers(world).start(seller.token, phone.device_id, buyer.email)
    code = mailed_code(world, buyer.email)
    with world.uow() as tx:
        tx.resets.create(digest("reset-token"), seller.account_id, world.clock.now(),
                         world.clock.now() + HOUR)
    PasswordReset(world.uow, world.clock, 60, 72).confirm("reset-token",
                                                          "a new long password 2026")
    with pytest.raises(NotFound):
        transfers(world).accept(buyer.token, started.transfer_id, code)
    assert "transfer.cancelled" in world.uow.actions(f"device:{phone.device_id}")
    assert world.uow.mail_to(buyer.email)[-1].subject.startswith("The transfer of")
