"""A registered retail sale as evidence in an appeal case (SQLite and PostgreSQL):
support agents see it in the case's support view, the applicant does not."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.clock import FixedClock

from .case_helpers import bound_device, make_agent, open_case
from .helpers import Accounts, Device, bearer


def test_support_sees_the_devices_registered_sale(
        client: TestClient, accounts: Accounts, device: Device, runtime: Services,
        clock: FixedClock) -> None:
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    bound_device(device, owner)
    agent = make_agent(client, accounts, runtime, clock)
    case_id = open_case(client, buyer, device)
    view = client.get(f"/v1/support/cases/{case_id}", headers=bearer(agent.token))
    assert view.status_code == 200 and view.json()["registered_sale"] is None

    shop = runtime.tenants.create("retailer", "Tehran Phones")
    runtime.tenants.assign(shop.tenant_id, [device.device_id])
    runtime.retailer_licenses.grant(shop.tenant_id, ["IR"])
    key = runtime.api_keys.create("retailer", "k", shop.tenant_id)
    day = datetime.fromtimestamp(clock.now(), UTC).date().isoformat()
    registered = client.post("/v1/retailer/sales", headers=bearer(key), json={"sales": [
        {"device_id": device.device_id, "sold_on": day, "territory": "IR"}]})
    assert registered.json() == {"registered": 1, "refused": []}

    view = client.get(f"/v1/support/cases/{case_id}", headers=bearer(agent.token)).json()
    assert view["registered_sale"] == {
        "retailer_id": shop.tenant_id, "retailer": "Tehran Phones", "sold_on": day,
        "territory": "IR", "licensed": True, "registered_at": clock.now()}
    mine = client.get(f"/v1/cases/{case_id}", headers=bearer(buyer.token)).json()
    assert "registered_sale" not in mine
