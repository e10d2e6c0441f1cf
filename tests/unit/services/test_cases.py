"""Appeal-case use cases on the in-memory fakes: opening against a held claim with the
device's appeal token, evidence by content, support's four eyes (agents signed in with
a second factor), the objection window ending in the maintenance round, and the grant's
effects in one transaction."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tenure import protocol
from tenure.crypto.jws import sign_compact
from tenure.domain.errors import (
    DeviceHeld,
    Forbidden,
    InvalidAppealToken,
    NotFound,
    TooLarge,
    UnsupportedEvidence,
)
from tenure.domain.model import ClaimKind
from tenure.services.authn import OwnerActions
from tenure.services.case_decide import CaseDecisions
from tenure.services.case_evidence import CaseEvidence
from tenure.services.case_open import OpenCase
from tenure.services.case_view import CaseViews
from tenure.services.policy import PolicyStore
from tenure.services.tokens import digest

from ..fake_cases import MemoryEvidence
from .conftest import COOLDOWN, REAUTH, Owner, Phone, World

DAY = 86400
WINDOW = 14 * DAY


def token_of(world: World, phone: Phone, age: int = 0) -> str:
    return sign_compact({"kid": phone.device_id, "typ": protocol.APPEAL_TYP},
                        {"sub": phone.device_id, "iat": world.clock.now() - age,
                         "nonce": "n" * 22}, phone.key)


def body(world: World, phone: Phone, kind: str = "activation-lock", **extra: Any
         ) -> dict[str, Any]:
    return {"device_id": phone.device_id, "kind": kind, "statement": "bought it",
            "purchase": {"date": "2025-01-02", "seller": "shop", "price": "10.50",
                         "currency": "EUR"},
            "appeal_token": token_of(world, phone), **extra}


def opener(world: World) -> OpenCase:
    return OpenCase(world.uow, world.clock, PolicyStore(world.uow, world.clock, 0))


def decisions(world: World) -> CaseDecisions:
    return CaseDecisions(world.uow, world.clock, OwnerActions(REAUTH, COOLDOWN), WINDOW)


def agent(world: World, second_factor: bool = True) -> Owner:
    """An account with the role and a session opened with a TOTP code."""
    person = world.owner()
    with world.uow() as tx:
        tx.support_agents.add(person.account_id, world.clock.now())
        tx.second_factors.set_pending(person.account_id, "JBSWY3DPEHPK3PXP", world.clock.now())
        tx.second_factors.enable(person.account_id, 1, world.clock.now())
        token = secrets.token_urlsafe(32)
        tx.sessions.create(digest(token), person.account_id, world.clock.now(),
                           world.clock.now() + DAY, "totp" if second_factor else "password")
    person.token = token
    return person


def test_a_case_is_opened_against_the_held_owner_claim(world: World) -> None:
    owner, buyer, phone = world.owner(), world.owner(), world.phone(activated=True)
    claim = world.bind(phone, owner)
    case = opener(world)(buyer.token, body(world, phone))
    assert (case.claim_id, case.state, case.applicant_id) == (claim.claim_id, "open",
                                                               buyer.account_id)
    assert "case.opened" in world.uow.actions(f"device:{phone.device_id}")
    assert world.uow.mail_to(buyer.email)
    with pytest.raises(InvalidAppealToken):
        opener(world)(buyer.token, body(world, phone, appeal_token=token_of(world, phone,
                                                                            DAY + 1)))
    with pytest.raises(NotFound):
        opener(world)(buyer.token, body(world, phone, kind="creditor"))
    world.claim(phone, ClaimKind.LOST, owner.account_id, message="lost", contact="x@y.z")
    with pytest.raises(DeviceHeld):
        opener(world)(buyer.token, body(world, phone))


def test_evidence_is_checked_before_anything_is_stored(world: World) -> None:
    owner, buyer, phone = world.owner(), world.owner(), world.phone(activated=True)
    world.bind(phone, owner)
    case = opener(world)(buyer.token, body(world, phone))
    files = MemoryEvidence()
    evidence = CaseEvidence(world.uow, world.clock, files)
    with pytest.raises(UnsupportedEvidence):
        evidence.add(buyer.token, case.case_id, b"<svg onload=alert(1)>")
    with pytest.raises(TooLarge):
        evidence.add(buyer.token, case.case_id, b"%PDF-" + bytes(10 * 1024 * 1024))
    with pytest.raises(NotFound):
        evidence.add(owner.token, case.case_id, b"%PDF-1.4")
    assert files.files == {}
    row = evidence.add(buyer.token, case.case_id, b"%PDF-1.4 receipt")
    assert files.files[row.sha256] == b"%PDF-1.4 receipt"
    assert evidence.for_applicant(buyer.token, case.case_id, row.evidence_id).data.startswith(
        b"%PDF")


def test_two_approvals_then_the_window_then_the_grant(world: World) -> None:
    owner, buyer, phone = world.owner(), world.owner(), world.phone(activated=True)
    world.bind(phone, owner)
    case = opener(world)(buyer.token, body(world, phone))
    a, b, outsider = agent(world), agent(world), agent(world, second_factor=False)
    cases = decisions(world)
    with pytest.raises(Forbidden):
        cases.decide(outsider.token, case.case_id, "approve", None)
    assert cases.decide(a.token, case.case_id, "approve", None)["state"] == "open"
    assert cases.decide(b.token, case.case_id, "approve", None)["state"] == "objection-window"
    assert any(case.case_id in m.body for m in world.uow.mail_to(owner.email))
    world.clock.advance(WINDOW - 1)
    assert cases.expire_due() == 0
    world.clock.advance(1)
    assert cases.expire_due() == 1
    assert [c.kind for c in world.uow.active_claims(phone.device_id)] == []
    assert [c["kind"] for c in world.uow.state.commands.values()] == ["wipe"]
    view = CaseViews(world.uow, world.clock).for_applicant(buyer.token, case.case_id)
    assert [h["state"] for h in view["history"]] == ["open", "approved", "objection-window",
                                                      "granted"]
    assert cases.expire_due() == 0  # granted once


def test_a_territory_grant_exempts_the_device_from_the_case_rules(world: World) -> None:
    world.apply_policy('evidence = "any"\n[[rules]]\nid = "iran"\n'
                       'effect = "deny_activation"\nterritories = ["IR"]\n')
    traveller, phone = world.owner(), world.phone(activated=True)
    in_iran = {"signals": {"gnss": {"country": "IR"}}}
    assert world.act(world.activation().__call__, phone, in_iran)["status"] == "locked"
    case = opener(world)(traveller.token, body(world, phone, kind="territory"))
    assert case.rules == ("iran",) and case.claim_id is None
    a, b = agent(world), agent(world)
    cases = decisions(world)
    cases.decide(a.token, case.case_id, "approve", None)
    assert cases.decide(b.token, case.case_id, "approve", None)["state"] == "granted"
    assert world.uow.state.exemptions[phone.device_id] == ("iran",)
    record = world.act(world.activation().__call__, phone, in_iran)
    assert record["status"] == "activated" and record["exemptions"] == ["iran"]


def test_lost_mode_during_the_window_counts_as_an_objection(world: World) -> None:
    owner, buyer, phone = world.owner(), world.owner(), world.phone(activated=True)
    world.bind(phone, owner)
    case = opener(world)(buyer.token, body(world, phone))
    a, b = agent(world), agent(world)
    cases = decisions(world)
    cases.decide(a.token, case.case_id, "approve", None)
    cases.decide(b.token, case.case_id, "approve", None)
    world.claim(phone, ClaimKind.LOST, owner.account_id, message="stolen", contact="a@b.c")
    world.clock.advance(WINDOW)
    assert cases.expire_due() == 0
    view = CaseViews(world.uow, world.clock).for_applicant(buyer.token, case.case_id)
    assert view["state"] == "objected"
    assert {c.kind for c in world.uow.active_claims(phone.device_id)} == {ClaimKind.OWNER,
                                                                          ClaimKind.LOST}
    assert cases.expire_due() == 0  # nothing more to do for the round
