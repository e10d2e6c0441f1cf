"""Deleting an account (docs/protocol.md Part 2, DELETE /v1/me): refused while it holds
a claim; otherwise everything personal goes and only the opaque id stays for the audit."""

from __future__ import annotations

import pytest

from tenure.domain.errors import (
    ClaimsHeld,
    CredentialCoolingDown,
    ReauthenticationRequired,
    Unauthorized,
)
from tenure.domain.model import ClaimKind
from tenure.services.account_deletion import AccountDeletion
from tenure.services.authn import OwnerActions, require_session

from .conftest import COOLDOWN, REAUTH, World


def delete(world: World) -> AccountDeletion:
    return AccountDeletion(world.uow, world.clock, OwnerActions(REAUTH, COOLDOWN))


def test_an_account_without_claims_is_gone(world: World) -> None:
    owner = world.owner()
    other_session = world.session(owner.account_id)
    with world.uow() as tx:
        tx.second_factors.set_pending(owner.account_id, "JBSWY3DPEHPK3PXP", world.clock.now())
        tx.outbox.enqueue(owner.email, "old", "old mail", world.clock.now())
    world.uow.state.outbox[next(iter(world.uow.state.outbox))]["sent_at"] = world.clock.now()
    delete(world)(owner.token)

    state = world.uow.state
    assert state.sessions == {} and state.totp == {}
    account = state.accounts[owner.account_id]
    assert owner.email not in (account.email, account.password_hash)
    with world.uow(readonly=True) as tx:
        assert tx.accounts.by_email(owner.email) is None
        with pytest.raises(Unauthorized):
            require_session(tx, other_session, world.clock.now())
    assert [m.subject for m in world.uow.mail_to(owner.email)] == ["Your account was deleted"]
    assert world.uow.actions(f"account:{owner.account_id}")[-1] == "account.deleted"


@pytest.mark.parametrize("kind", [ClaimKind.OWNER, ClaimKind.LOST])
def test_an_account_holding_a_claim_is_refused(world: World, kind: ClaimKind) -> None:
    owner = world.owner()
    world.claim(world.phone(), kind, owner.account_id)
    with pytest.raises(ClaimsHeld):
        delete(world)(owner.token)
    assert world.uow.state.accounts[owner.account_id].email == owner.email


def test_it_needs_a_fresh_sign_in_outside_the_cool_down(world: World) -> None:
    owner = world.owner()
    world.clock.advance(REAUTH + 1)
    with pytest.raises(ReauthenticationRequired):
        delete(world)(owner.token)
    with world.uow() as tx:
        tx.accounts.set_password(owner.account_id, world.password_hash, world.clock.now())
    with pytest.raises(CredentialCoolingDown):
        delete(world)(world.session(owner.account_id))
