"""Tenants on fakes: the operator's create/assign/disable, tenant API keys, the tenant
principal (401/403), what a tenant may claim (assigned, or consented by the owner now),
the owner's consent, and the webhook outbox rows."""

from __future__ import annotations

import pytest

from tenure.domain.errors import (
    CredentialCoolingDown,
    Forbidden,
    InvalidInput,
    NotFound,
    ReauthenticationRequired,
    Unauthorized,
)
from tenure.domain.model import ClaimKind
from tenure.services.apikeys import ApiKeys
from tenure.services.authn import OwnerActions
from tenure.services.consents import OwnerConsent
from tenure.services.ports import TenantRow, Tx
from tenure.services.tenant_access import (
    TenantPrincipal,
    held_claim,
    may_claim,
    require_tenant,
)
from tenure.services.tenants import TenantAdmin, check_webhook_url

from .conftest import COOLDOWN, HOUR, REAUTH, World


def admin(world: World, insecure: bool = False) -> TenantAdmin:
    return TenantAdmin(world.uow, world.clock, insecure)


def principal(world: World, key: str | None, kind: str = "organization") -> TenantPrincipal:
    with world.uow(readonly=True) as tx:
        return require_tenant(tx, key, kind)


def org(world: World, name: str = "Acme Fleet") -> tuple[TenantRow, str]:
    tenant = admin(world).create("organization", name, "it@acme.example")
    return tenant, ApiKeys(world.uow, world.clock).create("organization", "fleet",
                                                          tenant.tenant_id)


# -- the operator's tenants ---------------------------------------------------------------

def test_create_list_show_and_audit(world: World) -> None:
    tenant = admin(world).create("creditor", "  Loans Ltd ", "+44 20 0000", "https://x.example/h")
    assert (tenant.kind, tenant.name, tenant.contact) == ("creditor", "Loans Ltd", "+44 20 0000")
    assert admin(world).all() == [tenant]
    assert admin(world).show(tenant.tenant_id) == tenant
    assert world.uow.actions(f"tenant:{tenant.tenant_id}") == ["tenant.created"]
    with pytest.raises(NotFound):
        admin(world).show("nope")
    with pytest.raises(InvalidInput, match="kind"):
        admin(world).create("bank", "X")


@pytest.mark.parametrize("url", ["http://hook.example/x", "ftp://hook.example/x", "https://",
                                 "https://user:pw@hook.example/", "https://h.example:99999/",
                                 "https://h.example/a b", "not a url"])
def test_webhook_urls_that_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_webhook_url(url, allow_insecure=False)


def test_http_webhooks_only_when_the_operator_allows_them(world: World) -> None:
    with pytest.raises(InvalidInput, match="TENURE_WEBHOOK_ALLOW_INSECURE"):
        admin(world).create("organization", "Dev", webhook_url="http://127.0.0.1:9/h")
    tenant = admin(world, insecure=True).create("organization", "Dev",
                                                webhook_url="http://127.0.0.1:9/h")
    assert tenant.webhook_url == "http://127.0.0.1:9/h"
    assert check_webhook_url("https://hooks.example/tenure", False) == \
        "https://hooks.example/tenure"


def test_assign_is_all_or_nothing_unless_unknown_ids_are_skipped(world: World) -> None:
    tenant, _ = org(world)
    a, b = world.phone(), world.phone()
    report = admin(world).assign(tenant.tenant_id, [a.device_id, "UNKNOWN-1", b.device_id])
    assert not report.committed and report.unknown == ["UNKNOWN-1"]
    assert world.uow.state.tenant_devices == {}

    report = admin(world).assign(tenant.tenant_id, [a.device_id, "UNKNOWN-1"],
                                 skip_unknown=True)
    assert (report.assigned, report.already, report.unknown) == (1, 0, ["UNKNOWN-1"])
    report = admin(world).assign(tenant.tenant_id, [a.device_id, b.device_id, b.device_id])
    assert (report.assigned, report.already, report.unknown) == (1, 1, [])
    with pytest.raises(InvalidInput, match="not device ids"):
        admin(world).assign(tenant.tenant_id, ["bad id with spaces"])


def test_progress_is_reported(world: World) -> None:
    tenant, _ = org(world)
    phones = [world.phone() for _ in range(3)]
    seen: list[tuple[int, int]] = []
    admin(world).assign(tenant.tenant_id, [p.device_id for p in phones],
                        progress=lambda done, total: seen.append((done, total)))
    assert seen == [(3, 3)]


# -- keys and the principal -----------------------------------------------------------------

def test_tenant_keys_need_a_tenant_of_their_kind(world: World) -> None:
    keys = ApiKeys(world.uow, world.clock)
    tenant, _ = org(world)
    with pytest.raises(InvalidInput, match="--tenant"):
        keys.create("organization", "k")
    with pytest.raises(InvalidInput, match="kind 'creditor'"):
        keys.create("creditor", "k", tenant.tenant_id)
    with pytest.raises(InvalidInput, match="takes no tenant"):
        keys.create("admin", "k", tenant.tenant_id)
    with pytest.raises(NotFound):
        keys.create("organization", "k", "no-such-tenant")


def test_the_principal_401_403(world: World) -> None:
    tenant, key = org(world)
    assert principal(world, key).tenant_id == tenant.tenant_id
    factory = ApiKeys(world.uow, world.clock).create("admin", "ops")
    with pytest.raises(Unauthorized):
        principal(world, None)
    with pytest.raises(Unauthorized):
        principal(world, key[:-2] + "xx")
    with pytest.raises(Forbidden):
        principal(world, factory)  # an admin key is no tenant's
    with pytest.raises(Forbidden):
        principal(world, key, "creditor")
    admin(world).disable(tenant.tenant_id)
    with pytest.raises(Unauthorized):
        principal(world, key)


# -- claimability and consent ----------------------------------------------------------------

def consent(world: World, rule: OwnerActions | None = None) -> OwnerConsent:
    return OwnerConsent(world.uow, world.clock, rule or OwnerActions(REAUTH, COOLDOWN))


def claimable(world: World, who: TenantPrincipal, device_id: str) -> bool:
    with world.uow(readonly=True) as tx:
        return may_claim(tx, who, device_id)


def test_assigned_or_consented_by_the_owner_now(world: World) -> None:
    tenant, key = org(world)
    who = principal(world, key)
    assigned, owned, other = world.phone(), world.phone(), world.phone()
    admin(world).assign(tenant.tenant_id, [assigned.device_id])
    owner = world.owner()
    world.bind(owned, owner)
    assert claimable(world, who, assigned.device_id)
    assert not claimable(world, who, owned.device_id)
    assert not claimable(world, who, other.device_id)
    assert not claimable(world, who, "no such device")

    consent(world).give(owner.token, owned.device_id, tenant.tenant_id)
    assert claimable(world, who, owned.device_id)
    assert world.uow.actions(f"device:{owned.device_id}") == ["consent.given"]
    assert "allowed Acme Fleet" in world.uow.mail_to(owner.email)[0].subject

    # The consent was the owner's: once someone else owns the device, it no longer counts.
    with world.uow() as tx:
        [bound] = tx.claims.active(owned.device_id)
        tx.claims.release(bound.claim_id, world.clock.now(), "test")
    world.bind(owned, world.owner())
    assert not claimable(world, who, owned.device_id)


def test_consent_needs_the_owner_fresh_and_settled(world: World) -> None:
    tenant, _ = org(world)
    phone, owner = world.phone(), world.owner()
    world.bind(phone, owner)
    with pytest.raises(Unauthorized):
        consent(world).give(None, phone.device_id, tenant.tenant_id)
    with pytest.raises(NotFound):
        consent(world).give(world.owner().token, phone.device_id, tenant.tenant_id)
    with pytest.raises(NotFound):
        consent(world).give(owner.token, phone.device_id, "no-such-tenant")
    with pytest.raises(InvalidInput):
        consent(world).give(owner.token, phone.device_id, 42)
    world.clock.advance(REAUTH + 1)
    with pytest.raises(ReauthenticationRequired):
        consent(world).give(owner.token, phone.device_id, tenant.tenant_id)
    world.sign_in_again(owner)
    with world.uow() as tx:
        tx.accounts.set_password(owner.account_id, world.password_hash, world.clock.now())
    with pytest.raises(CredentialCoolingDown):
        consent(world).give(owner.token, phone.device_id, tenant.tenant_id)
    world.clock.advance(COOLDOWN + HOUR)
    world.sign_in_again(owner)
    admin(world).disable(tenant.tenant_id)
    with pytest.raises(NotFound):  # a disabled tenant answers like an unknown one
        consent(world).give(owner.token, phone.device_id, tenant.tenant_id)
    assert world.uow.state.consents == {}


# -- the visibility rule and disabling ---------------------------------------------------------

def test_a_tenant_sees_only_its_own_claims_and_404_is_the_same_otherwise(world: World) -> None:
    tenant, key = org(world)
    other, other_key = org(world, "Other Corp")
    mine, theirs = world.phone(), world.phone()
    world.claim(mine, ClaimKind.ORGANIZATION, tenant.tenant_id)
    world.claim(theirs, ClaimKind.ORGANIZATION, other.tenant_id)
    who = principal(world, key)
    with world.uow(readonly=True) as tx:
        assert held_claim(tx, who, mine.device_id, ClaimKind.ORGANIZATION).holder == \
            tenant.tenant_id
        details = []
        for device_id in (theirs.device_id, "NOSUCHDEVICE", "bad id"):
            with pytest.raises(NotFound) as refused:
                held_claim(tx, who, device_id, ClaimKind.ORGANIZATION)
            details.append(refused.value.detail.replace(device_id[:64], "<id>"))
    assert len(set(details)) == 1


def test_disable_revokes_keys_releases_claims_and_tells_owners(world: World) -> None:
    tenant, key = org(world)
    phone, bare, owner = world.phone(), world.phone(), world.owner()
    world.bind(phone, owner)
    world.claim(phone, ClaimKind.ORGANIZATION, tenant.tenant_id)
    world.claim(bare, ClaimKind.ORGANIZATION, tenant.tenant_id)
    report = admin(world).disable(tenant.tenant_id)
    assert (report.keys_revoked, report.claims_released) == (1, 2)
    assert [c.kind for c in world.uow.active_claims(phone.device_id)] == [ClaimKind.OWNER]
    assert world.uow.active_claims(bare.device_id) == ()
    for device in (phone, bare):
        assert "claim.organization.released" in world.uow.actions(f"device:{device.device_id}")
    [mail] = world.uow.mail_to(owner.email)
    assert "released its claim" in mail.subject and "disabled" in mail.body
    with pytest.raises(InvalidInput, match="already disabled"):
        admin(world).disable(tenant.tenant_id)
    with pytest.raises(Unauthorized):
        principal(world, key)


def test_events_are_numbered_per_tenant_and_device(world: World) -> None:
    tenant, _ = org(world)
    a, b = world.phone(), world.phone()

    def emit(tx: Tx) -> None:
        tx.events.emit(tenant.tenant_id, "device.locked", a.device_id, 10, {"loan_id": "L1"})
        tx.events.emit(tenant.tenant_id, "device.unlocked", a.device_id, 11, {})
        tx.events.emit(tenant.tenant_id, "device.locked", b.device_id, 12, {})

    world.uow.run(emit)
    rows = world.uow.state.events
    assert [(r["device_id"] == a.device_id, r["seq"]) for r in rows] == [
        (True, 1), (True, 2), (False, 1)]
    assert rows[0]["payload"] == {"id": rows[0]["event_id"], "aud": tenant.tenant_id,
                                  "event": "device.locked", "device_id": a.device_id,
                                  "at": 10, "loan_id": "L1"}
