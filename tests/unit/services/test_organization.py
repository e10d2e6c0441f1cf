"""An organization's fleet on fakes: bulk claims (one reason for every refusal, held
devices idempotent), the device view, release, bypass codes, and activation with a code
(spent once, replaced codes dead, five wrong codes then 429 with back-off)."""

from __future__ import annotations

from typing import Any

import pytest

from tenure.domain.errors import Forbidden, InvalidInput, NotFound, TooLarge, TooManyAttempts
from tenure.domain.model import ClaimKind
from tenure.services.apikeys import ApiKeys
from tenure.services.bypass import throttle_key
from tenure.services.organization import OrgDevices
from tenure.services.tenants import TenantAdmin

from .conftest import Phone, World


class Fleet:
    def __init__(self, world: World, name: str = "Acme Fleet") -> None:
        self.world = world
        admin = TenantAdmin(world.uow, world.clock, False)
        self.tenant = admin.create("organization", name, "it@acme.example")
        self.admin = admin
        self.key = ApiKeys(world.uow, world.clock).create("organization", "k",
                                                         self.tenant.tenant_id)
        self.org = OrgDevices(world.uow, world.clock)

    def assigned(self, n: int = 1) -> list[Phone]:
        phones = [self.world.phone(activated=True) for _ in range(n)]
        self.admin.assign(self.tenant.tenant_id, [p.device_id for p in phones])
        return phones

    def held(self) -> Phone:
        [phone] = self.assigned()
        assert self.org.claim(self.key, [phone.device_id]).claimed == [phone.device_id]
        return phone

    def activate(self, phone: Phone, code: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"signals": {}}
        if code is not None:
            payload["bypass_code"] = code
        return self.world.act(self.world.activation(), phone, payload)


@pytest.fixture
def fleet(world: World) -> Fleet:
    return Fleet(world)


def test_bulk_claim_says_not_claimable_for_every_refusal(fleet: Fleet, world: World) -> None:
    a, b = fleet.assigned(2)
    rival = Fleet(world, "Rival")
    [theirs] = rival.assigned()
    rival.admin.assign(fleet.tenant.tenant_id, [theirs.device_id])  # assigned to both
    assert rival.org.claim(rival.key, [theirs.device_id]).claimed == [theirs.device_id]
    stranger = world.phone()
    outcome = fleet.org.claim(fleet.key, [a.device_id, "UNKNOWN", stranger.device_id,
                                          theirs.device_id, b.device_id, a.device_id, "bad id"])
    assert outcome.as_json() == {
        "claimed": [a.device_id, b.device_id],
        "refused": [{"device_id": d, "reason": "not-claimable"}
                    for d in ("UNKNOWN", stranger.device_id, theirs.device_id, "bad id")]}
    # Idempotent: asking again changes nothing and says the same.
    commits = world.uow.commits
    assert fleet.org.claim(fleet.key, [b.device_id, a.device_id]).claimed == [
        b.device_id, a.device_id]
    assert len([c for c in world.uow.active_claims(a.device_id)
                if c.kind is ClaimKind.ORGANIZATION]) == 1
    assert world.uow.commits == commits + 1
    assert world.uow.actions(f"device:{a.device_id}").count("claim.organization.added") == 1


def test_a_consented_device_is_claimable_and_its_owner_is_told(fleet: Fleet,
                                                              world: World) -> None:
    from tenure.services.authn import OwnerActions
    from tenure.services.consents import OwnerConsent

    from .conftest import COOLDOWN, REAUTH

    phone, owner = world.phone(activated=True), world.owner()
    world.bind(phone, owner)
    assert fleet.org.claim(fleet.key, [phone.device_id]).refused == [phone.device_id]
    OwnerConsent(world.uow, world.clock, OwnerActions(REAUTH, COOLDOWN)).give(
        owner.token, phone.device_id, fleet.tenant.tenant_id)
    assert fleet.org.claim(fleet.key, [phone.device_id]).claimed == [phone.device_id]
    subjects = [m.subject for m in world.uow.mail_to(owner.email)]
    assert "Acme Fleet now holds a claim on your device" in subjects
    fleet.org.release(fleet.key, phone.device_id)
    assert "Acme Fleet released its claim on your device" in [
        m.subject for m in world.uow.mail_to(owner.email)]


def test_request_shape(fleet: Fleet) -> None:
    with pytest.raises(InvalidInput):
        fleet.org.claim(fleet.key, "DEV1")
    with pytest.raises(InvalidInput):
        fleet.org.claim(fleet.key, ["DEV1", 2])
    with pytest.raises(TooLarge):
        fleet.org.claim(fleet.key, [f"D{i}" for i in range(10_001)])
    assert fleet.org.claim(fleet.key, []).as_json() == {"claimed": [], "refused": []}


def test_another_role_and_another_tenant(fleet: Fleet, world: World) -> None:
    phone = fleet.held()
    creditor = fleet.admin.create("creditor", "Loans")
    loans_key = ApiKeys(world.uow, world.clock).create("creditor", "k", creditor.tenant_id)
    with pytest.raises(Forbidden):
        fleet.org.show(loans_key, phone.device_id)
    rival = Fleet(world, "Rival")
    for call in (rival.org.show, rival.org.release, rival.org.issue_code):
        with pytest.raises(NotFound):
            call(rival.key, phone.device_id)


def test_view_release_and_code_issue(fleet: Fleet, world: World) -> None:
    phone = fleet.held()
    view = fleet.org.show(fleet.key, phone.device_id)
    assert view == {"device_id": phone.device_id, "claimed_at": world.clock.now(),
                    "last_checkin": None, "code_issued_at": None}
    world.clock.advance(60)
    code, issued_at = fleet.org.issue_code(fleet.key, phone.device_id)
    assert issued_at == world.clock.now()
    assert fleet.org.show(fleet.key, phone.device_id)["code_issued_at"] == issued_at
    stored = world.uow.state.bypass_codes[phone.device_id]
    assert code not in stored.code_hash and code.replace("-", "") not in stored.code_hash
    assert "bypass_code.issued" in world.uow.actions(f"device:{phone.device_id}")
    fleet.org.release(fleet.key, phone.device_id)
    assert world.uow.active_claims(phone.device_id) == ()
    assert phone.device_id not in world.uow.state.bypass_codes
    with pytest.raises(NotFound):
        fleet.org.show(fleet.key, phone.device_id)


def test_activation_needs_the_current_code_which_opens_once(fleet: Fleet) -> None:
    phone = fleet.held()
    locked = fleet.activate(phone)
    assert locked["status"] == "locked"
    assert locked["locks"] == [{"kind": "organization", "contact": "it@acme.example",
                                "message": "This device belongs to Acme Fleet. Enter the "
                                           "code your administrator gave you."}]
    stale, _ = fleet.org.issue_code(fleet.key, phone.device_id)
    code, _ = fleet.org.issue_code(fleet.key, phone.device_id)
    assert fleet.activate(phone, stale)["status"] == "locked"  # replaced: dead
    opened = fleet.activate(phone, code.lower().replace("-", ""))
    assert opened["status"] == "activated" and opened["locks"] == []
    assert fleet.activate(phone, code)["status"] == "locked"  # spent
    # Once activated, the claim does not lock use.
    assert fleet.world.act(fleet.world.checkin(), phone, {"signals": {}})["status"] == \
        "activated"


def test_five_wrong_codes_then_429_with_back_off_and_a_right_code_resets(
        fleet: Fleet, world: World) -> None:
    phone = fleet.held()
    code, _ = fleet.org.issue_code(fleet.key, phone.device_id)
    wrong = "00000-00000-0000-0000-0000-0000"
    for _ in range(4):
        assert fleet.activate(phone, wrong)["status"] == "locked"
    assert fleet.activate(phone, code)["status"] == "activated"  # the 5th, right: resets
    assert world.uow.state.throttle.get(throttle_key(phone.device_id)) is None
    code, _ = fleet.org.issue_code(fleet.key, phone.device_id)
    for _ in range(5):
        assert fleet.activate(phone, wrong)["status"] == "locked"
    with pytest.raises(TooManyAttempts) as paused:
        fleet.activate(phone, code)  # even the right code waits: nothing is checked
    first = paused.value.extensions["retry_after"]
    assert first > 0
    world.clock.advance(first)
    assert fleet.activate(phone, wrong)["status"] == "locked"
    with pytest.raises(TooManyAttempts) as again:
        fleet.activate(phone, code)
    assert again.value.extensions["retry_after"] > first  # the pause grows
    world.clock.advance(again.value.extensions["retry_after"])
    assert fleet.activate(phone, code)["status"] == "activated"


def test_a_code_without_an_organization_claim_is_ignored(fleet: Fleet, world: World) -> None:
    phone = world.phone()
    assert fleet.activate(phone, "garbage")["status"] == "activated"
    assert world.uow.state.throttle == {}
