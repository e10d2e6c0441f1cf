"""Retail sales on fakes: a retailer registers sales of the devices assigned to it, sees
only its own, the operator's import is all or nothing, licences decide whether a sale
is licensed, and a licensed sale lets a device through an `exempt_licensed_sales` rule
at activation and in use (a lock already made is released)."""

from __future__ import annotations

import json

import pytest

from tenure.domain.errors import (
    Forbidden,
    InvalidInput,
    Malformed,
    NotFound,
    TooLarge,
    Unauthorized,
)
from tenure.domain.model import ClaimKind
from tenure.services.apikeys import ApiKeys
from tenure.services.retail_licenses import RetailerLicenses
from tenure.services.retail_sales import RetailSales, registered_sale
from tenure.services.tenants import TenantAdmin

from .conftest import HOUR, Phone, World

EMBARGO = """
[[rules]]
id = "embargo"
effect = "lock_in_use"
territories = ["IR"]
exempt_licensed_sales = true
"""
IR_IP = "203.0.113.9"


def retailer(world: World, name: str = "Shop") -> tuple[str, str]:
    tenant = TenantAdmin(world.uow, world.clock, False).create("retailer", name)
    return tenant.tenant_id, ApiKeys(world.uow, world.clock).create("retailer", "k",
                                                                    tenant.tenant_id)


def assign(world: World, tenant_id: str, *phones: Phone) -> None:
    TenantAdmin(world.uow, world.clock, False).assign(tenant_id, [p.device_id for p in phones])


def sales(world: World) -> RetailSales:
    return RetailSales(world.uow, world.clock)


def report(world: World, key: str | None, *rows: dict[str, object]) -> dict[str, object]:
    body = json.dumps({"sales": list(rows)}).encode()
    return sales(world).register(key, "application/json", body).as_json()


def retail_events(world: World, phone: Phone) -> list[str]:
    return [a for a in world.uow.actions(f"device:{phone.device_id}") if a.startswith("retail.")]


def sold(phone: Phone, on: str = "2020-01-05", where: str = "IR") -> dict[str, object]:
    return {"device_id": phone.device_id, "sold_on": on, "territory": where}


def test_a_retailer_registers_its_assigned_devices_and_nothing_else(world: World) -> None:
    tenant_id, key = retailer(world)
    mine, other = world.phone(), world.phone()
    assign(world, tenant_id, mine)
    answer = report(world, key, sold(mine), sold(other), {"device_id": "NOPE-1",
                                                         "sold_on": "2020-01-05",
                                                         "territory": "IR"},
                    {"sold_on": "2020-01-05", "territory": "IR"})
    assert answer == {"registered": 1, "refused": [
        {"index": 1, "reason": "not-registrable"}, {"index": 2, "reason": "not-registrable"},
        {"index": 3, "reason": "invalid-row"}]}
    assert sales(world).show(key, mine.device_id)["sold_on"] == "2020-01-05"
    with pytest.raises(NotFound):
        sales(world).show(key, other.device_id)
    assert retail_events(world, mine) == ["retail.sale_registered"]
    assert world.uow.actions(f"device:{other.device_id}") == []


def test_repeating_is_harmless_and_a_new_sale_replaces_the_old(world: World) -> None:
    tenant_id, key = retailer(world)
    phone = world.phone()
    assign(world, tenant_id, phone)
    assert report(world, key, sold(phone)) == {"registered": 1, "refused": []}
    assert report(world, key, sold(phone)) == {"registered": 1, "refused": []}
    assert retail_events(world, phone) == ["retail.sale_registered"]
    assert report(world, key, sold(phone, "2020-01-06", "CU"))["registered"] == 1
    [_, event] = [e for e in world.uow.state.audit if e["stream"] == f"device:{phone.device_id}"
                  and e["action"] == "retail.sale_registered"]
    assert event["data"]["replaced"] == {"sold_on": "2020-01-05", "territory": "IR"}
    assert sales(world).show(key, phone.device_id)["territory"] == "CU"


def test_another_retailers_sale_is_not_registrable_nor_visible(world: World) -> None:
    first_id, first = retailer(world, "First")
    second_id, second = retailer(world, "Second")
    phone = world.phone()
    assign(world, first_id, phone)
    assign(world, second_id, phone)
    report(world, first, sold(phone))
    assert report(world, second, sold(phone))["refused"] == [
        {"index": 0, "reason": "not-registrable"}]
    with pytest.raises(NotFound):
        sales(world).show(second, phone.device_id)


def test_the_same_device_twice_in_one_report(world: World) -> None:
    tenant_id, key = retailer(world)
    phone = world.phone()
    assign(world, tenant_id, phone)
    answer = report(world, key, sold(phone), sold(phone, "2020-01-06"))
    assert answer["refused"] == [{"index": 1, "reason": "duplicate"}]


def test_keys_of_other_roles_and_no_key(world: World) -> None:
    org = TenantAdmin(world.uow, world.clock, False).create("organization", "Fleet")
    org_key = ApiKeys(world.uow, world.clock).create("organization", "k", org.tenant_id)
    with pytest.raises(Unauthorized):
        report(world, None)
    with pytest.raises(Forbidden):
        report(world, org_key)
    _, key = retailer(world)
    with pytest.raises(Malformed):
        sales(world).register(key, "application/json", b'{"sales": 5}')
    with pytest.raises(TooLarge, match="10,000"):
        report(world, key, *([{}] * 10_001))


def test_csv_reports_count_data_rows_from_zero(world: World) -> None:
    tenant_id, key = retailer(world)
    phone = world.phone()
    assign(world, tenant_id, phone)
    body = (f"device_id,imei,sold_on,territory\n{phone.device_id},,2020-01-05,IR\n"
            ",,2020-01-05,IR\n").encode()
    assert sales(world).register(key, "text/csv", body).as_json() == {
        "registered": 1, "refused": [{"index": 1, "reason": "invalid-row"}]}
    with pytest.raises(Malformed, match="header"):
        sales(world).register(key, "text/csv", b"id,date\nx,y\n")


def test_the_operators_import_is_all_or_nothing(world: World) -> None:
    tenant_id, _ = retailer(world)
    phone, stray = world.phone(), world.phone()
    assign(world, tenant_id, phone)
    text = (f"device_id,sold_on,territory\n{phone.device_id},2020-01-05,IR\n"
            f"{stray.device_id},2020-01-05,IR\n")
    result = sales(world).import_csv(tenant_id, text)
    assert not result.committed and result.lines[1] == 3
    assert world.uow.state.retail_sales == {}
    done = sales(world).import_csv(tenant_id, text.rsplit("\n", 2)[0] + "\n")
    assert done.committed and done.registered == 1
    org = TenantAdmin(world.uow, world.clock, False).create("organization", "Fleet")
    with pytest.raises(InvalidInput, match="not a retailer"):
        sales(world).import_csv(org.tenant_id, text)


def test_a_sale_is_licensed_by_the_licence_in_force_on_its_day(world: World) -> None:
    tenant_id, key = retailer(world)
    licenses = RetailerLicenses(world.uow, world.clock)
    before, during = world.phone(), world.phone()
    assign(world, tenant_id, before, during)
    today = world.clock.now()
    world.clock.advance(3 * 24 * HOUR)
    assert licenses.grant(tenant_id, ["ir", "CU"]).changed == ["IR", "CU"]
    assert licenses.grant(tenant_id, ["IR"]).unchanged == ["IR"]
    from datetime import UTC, datetime
    day = datetime.fromtimestamp(today, UTC).date().isoformat()
    later = datetime.fromtimestamp(world.clock.now(), UTC).date().isoformat()
    report(world, key, sold(before, day), sold(during, later))
    assert sales(world).show(key, before.device_id)["licensed"] is False
    assert sales(world).show(key, during.device_id)["licensed"] is True
    world.clock.advance(24 * HOUR)
    assert licenses.revoke(tenant_id, ["IR"]).changed == ["IR"]
    assert sales(world).show(key, during.device_id)["licensed"] is True  # sold while licensed
    with pytest.raises(InvalidInput, match="ISO 3166"):
        licenses.grant(tenant_id, ["XX"])
    with pytest.raises(NotFound):
        licenses.grant("nope", ["IR"])
    with pytest.raises(InvalidInput, match="only retailers"):
        licenses.grant(TenantAdmin(world.uow, world.clock, False).create(
            "creditor", "Loans").tenant_id, ["IR"])
    with world.uow(readonly=True) as tx:
        found = registered_sale(tx, during.device_id)
    assert found is not None and (found.retailer, found.territory, found.licensed) == (
        "Shop", "IR", True)


def licensed_sale(world: World, phone: Phone, licensed: bool = True) -> None:
    from datetime import UTC, datetime
    tenant_id, key = retailer(world)
    if licensed:
        RetailerLicenses(world.uow, world.clock).grant(tenant_id, ["IR"])
    assign(world, tenant_id, phone)
    day = datetime.fromtimestamp(world.clock.now(), UTC).date().isoformat()
    assert report(world, key, sold(phone, day))["registered"] == 1


def in_ir(world: World) -> dict[str, object]:
    world.locator.table[IR_IP] = "IR"
    return {"signals": {"sim_mcc": ["432"]}}


def test_a_licensed_sale_activates_where_the_rule_refuses_others(world: World) -> None:
    world.apply_policy(EMBARGO)
    exempt, unlicensed, plain = world.phone(), world.phone(), world.phone()
    licensed_sale(world, exempt)
    licensed_sale(world, unlicensed, licensed=False)
    payload = in_ir(world)
    assert world.act(world.activation(), exempt, payload, IR_IP)["status"] == "activated"
    assert world.act(world.activation(), unlicensed, payload, IR_IP)["status"] == "locked"
    assert world.act(world.activation(), plain, payload, IR_IP)["status"] == "locked"
    [event] = [e for e in world.uow.state.audit if e["action"] == "device.activated"]
    assert any("exempted, sold on" in r and "'embargo'" in r for r in event["data"]["reasons"])


def test_a_licensed_sale_is_not_locked_in_use_and_releases_a_lock(world: World) -> None:
    world.apply_policy(EMBARGO)
    phone = world.phone(activated=True)
    world.claim(phone, ClaimKind.TERRITORY, "policy:embargo", message="Locked",
                territory="IR")
    payload = in_ir(world)
    assert world.act(world.checkin(), phone, payload, IR_IP)["status"] == "locked"
    licensed_sale(world, phone)
    assert world.act(world.checkin(), phone, payload, IR_IP)["status"] == "activated"
    assert world.uow.active_claims(phone.device_id) == ()
    world.clock.advance(1000 * HOUR)  # far past any grace: still not locked
    assert world.act(world.checkin(), phone, payload, IR_IP)["status"] == "activated"


def test_reporting_again_after_a_licence_of_the_same_day_makes_the_sale_licensed(
        world: World) -> None:
    from datetime import UTC, datetime
    tenant_id, key = retailer(world)
    phone = world.phone()
    assign(world, tenant_id, phone)
    day = datetime.fromtimestamp(world.clock.now(), UTC).date().isoformat()
    report(world, key, sold(phone, day))
    assert sales(world).show(key, phone.device_id)["licensed"] is False
    world.clock.advance(60)
    RetailerLicenses(world.uow, world.clock).grant(tenant_id, ["IR"])
    assert report(world, key, sold(phone, day)) == {"registered": 1, "refused": []}
    assert sales(world).show(key, phone.device_id)["licensed"] is True
