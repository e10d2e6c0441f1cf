"""Retailers over the real store and HTTP (SQLite and PostgreSQL): registering sales as
JSON and CSV, the refusals and what they do not reveal, idempotency, another
retailer's sale, the operator's all-or-nothing import on the command line, licences,
and the policy exemption of a licensed sale at activation and in use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.cli.main import main as cli
from tenure.http.app import create_app
from tenure.services.retail_sales import registered_sale
from tenure.store import tables as t

from .helpers import audit, claims, count, dump
from .test_status_api import verified
from .test_unlock_api import Phone, Server, problem

SALES = "/v1/retailer/sales"
EMBARGO = """
[[rules]]
id = "embargo"
effect = "lock_in_use"
territories = ["IR"]
exempt_licensed_sales = true
"""
IN_IR = {"signals": {"sim_mcc": ["432"], "gnss": {"country": "IR"}}}


@pytest.fixture
def server(runtime: Services) -> Iterator[Server]:
    client = TestClient(create_app(runtime))
    yield Server(runtime, client)
    client.close()


def today(server: Server) -> str:
    return datetime.fromtimestamp(server.clock.now(), UTC).date().isoformat()


def retailer(server: Server, name: str = "Corner Shop") -> tuple[str, str]:
    tenant = server.runtime.tenants.create("retailer", name, "shop@example.com")
    return tenant.tenant_id, server.runtime.api_keys.create("retailer", "k", tenant.tenant_id)


def assign(server: Server, tenant_id: str, *phones: Phone) -> None:
    assert server.runtime.tenants.assign(tenant_id, [p.device_id for p in phones]).committed


def post(server: Server, key: str | None, body: Any, csv: bool = False) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    if csv:
        headers["Content-Type"] = "text/csv"
        return server.client.post(SALES, content=body, headers=headers)
    return server.client.post(SALES, json=body, headers=headers)


def get(server: Server, key: str | None, device_id: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return server.client.get(f"{SALES}/{device_id}", headers=headers)


def sales_events(server: Server, phone: Phone) -> list[Any]:
    return [e for e in audit(server.runtime, f"device:{phone.device_id}")
            if e.action == "retail.sale_registered"]


def row(phone: Phone, on: str, where: str = "IR") -> dict[str, str]:
    return {"device_id": phone.device_id, "sold_on": on, "territory": where}


def test_register_and_read_own_sales(server: Server) -> None:
    tenant_id, key = retailer(server)
    phone, by_imei, stranger = server.phone(), server.phone(), server.phone()
    assign(server, tenant_id, phone, by_imei)
    imei = by_imei.agent.provisioning_row()["imei"]
    day = today(server)
    answer = post(server, key, {"sales": [
        row(phone, day), {"imei": imei, "sold_on": day, "territory": "cu"},
        row(stranger, day), {"device_id": "NOPE-404", "sold_on": day, "territory": "IR"},
        {"device_id": phone.device_id, "sold_on": "2099-01-01", "territory": "IR"},
        {"device_id": phone.device_id, "sold_on": "01/02/2025", "territory": "IR"},
        {"device_id": phone.device_id, "sold_on": day, "territory": "Atlantis"}, 7]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"registered": 2, "refused": [
        {"index": 2, "reason": "not-registrable"}, {"index": 3, "reason": "not-registrable"},
        {"index": 4, "reason": "future-date"}, {"index": 5, "reason": "bad-date"},
        {"index": 6, "reason": "bad-territory"}, {"index": 7, "reason": "invalid-row"}]}
    shown = get(server, key, by_imei.device_id)
    assert shown.status_code == 200
    assert {k: v for k, v in shown.json().items() if k != "registered_at"} == {
        "device_id": by_imei.device_id, "sold_on": day, "territory": "CU", "licensed": False}
    problem(get(server, key, stranger.device_id), 404, "not-found")
    problem(get(server, key, "NOPE-404"), 404, "not-found")
    events = sales_events(server, phone)
    assert [e.action for e in events] == ["retail.sale_registered"]
    assert "shop@example.com" not in str(events[0].data)


def test_keys_bodies_and_limits(server: Server) -> None:
    _, key = retailer(server)
    org = server.runtime.tenants.create("organization", "Fleet")
    org_key = server.runtime.api_keys.create("organization", "k", org.tenant_id)
    before = dump(server.runtime)
    problem(post(server, None, {"sales": []}), 401, "unauthorized")
    problem(post(server, "tnr_nope_nope", {"sales": []}), 401, "unauthorized")
    problem(post(server, org_key, {"sales": []}), 403, "forbidden")
    problem(get(server, None, "X-1"), 401, "unauthorized")
    problem(get(server, org_key, "X-1"), 403, "forbidden")
    problem(post(server, key, {"sales": "all"}), 400, "malformed")
    problem(server.client.post(SALES, content=b"{", headers={"Authorization": f"Bearer {key}"}),
            400, "malformed")
    problem(post(server, key, b"a,b\n1,2\n", csv=True), 400, "malformed")
    problem(post(server, key, b"device_id,sold_on,territory\n\xff,x,y\n", csv=True), 400,
            "malformed")
    problem(post(server, key, {"sales": [{}] * 10_001}), 413, "too-large")
    problem(post(server, key, {"sales": ["x" * 1024] * 1100}), 413, "too-large")
    assert dump(server.runtime) == before


def test_idempotent_corrected_and_another_retailers(server: Server) -> None:
    first_id, first = retailer(server, "First")
    second_id, second = retailer(server, "Second")
    phone = server.phone()
    assign(server, first_id, phone)
    assign(server, second_id, phone)
    day = today(server)
    for _ in range(2):
        answer = post(server, first, {"sales": [row(phone, day)]})
        assert answer.json() == {"registered": 1, "refused": []}
    assert len(sales_events(server, phone)) == 1
    assert post(server, first, {"sales": [row(phone, day, "CU")]}).json()["registered"] == 1
    events = sales_events(server, phone)
    assert json.loads(events[-1].data)["replaced"] == {"sold_on": day, "territory": "IR"}
    assert post(server, second, {"sales": [row(phone, day)]}).json()["refused"] == [
        {"index": 0, "reason": "not-registrable"}]
    problem(get(server, second, phone.device_id), 404, "not-found")
    assert count(server.runtime, t.retail_sales) == 1
    with server.runtime.uow(readonly=True) as tx:
        sale = registered_sale(tx, phone.device_id)
    assert sale is not None and (sale.retailer, sale.territory) == ("First", "CU")


def test_csv_on_the_endpoint(server: Server) -> None:
    tenant_id, key = retailer(server)
    phone = server.phone()
    assign(server, tenant_id, phone)
    body = (f"device_id,imei,sold_on,territory,note\n{phone.device_id},,{today(server)},IR,"
            f"walk-in\n{phone.device_id},,{today(server)},IR,again\n").encode()
    answer = post(server, key, body, csv=True)
    assert answer.json() == {"registered": 1,
                             "refused": [{"index": 1, "reason": "duplicate"}]}


def test_cli_import_is_all_or_nothing(server: Server, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tenure.cli import server as server_cli

    monkeypatch.setattr(server_cli, "app_services", lambda: server.runtime)
    tenant_id, key = retailer(server)
    good, stray = server.phone(), server.phone()
    assign(server, tenant_id, good)
    day = today(server)
    bad = tmp_path / "sales.csv"
    bad.write_text(f"device_id,sold_on,territory\n{good.device_id},{day},IR\n"
                   f"{stray.device_id},{day},IR\n{good.device_id},2099-01-01,IR\n")
    before = dump(server.runtime)
    assert cli(["retailer", "import", tenant_id, str(bad)]) == 1
    err = capsys.readouterr().err
    assert "sales.csv:3: not-registrable" in err and "sales.csv:4: future-date" in err
    assert "2 rows of sales.csv were refused; nothing was registered" in err
    assert dump(server.runtime) == before
    bad.write_text(f"device_id,sold_on,territory\n{good.device_id},{day},IR\n")
    assert cli(["retailer", "import", tenant_id, str(bad)]) == 0
    assert "registered 1 sales" in capsys.readouterr().out
    assert get(server, key, good.device_id).json()["territory"] == "IR"
    assert cli(["tenant", "license", tenant_id, "--territory", "IR,CU"]) == 0
    assert "licensed" in capsys.readouterr().out
    assert cli(["tenant", "show", tenant_id]) == 0
    assert "licensed:    CU from" in capsys.readouterr().out
    assert cli(["tenant", "license", tenant_id, "--revoke"]) == 0
    assert "revoked CU, IR" in capsys.readouterr().out


def test_a_licensed_sale_activates_and_stays_unlocked_in_the_territory(server: Server) -> None:
    tenant_id, key = retailer(server)
    server.runtime.retailer_licenses.grant(tenant_id, ["IR"])
    server.runtime.policies.apply(EMBARGO, "test", "embargo with licensed sales")
    exempt, unsold = server.phone(), server.phone()
    assign(server, tenant_id, exempt, unsold)
    assert post(server, key, {"sales": [row(exempt, today(server))]}).json()["registered"] == 1
    assert get(server, key, exempt.device_id).json()["licensed"] is True
    assert exempt.send("/v1/device/activation", IN_IR)["status"] == "activated"
    refused = unsold.send("/v1/device/activation", IN_IR)
    assert refused["status"] == "locked" and refused["locks"][0]["rule"] == "embargo"
    for phone, listed in ((exempt, []), (unsold, ["IR"])):  # the buyer's statement
        statement = verified(server.client, server.client.get(
            "/v1/public/status", params={"device_id": phone.device_id}))
        assert statement["territory_restrictions"] == listed
    [event] = [e for e in audit(server.runtime, f"device:{exempt.device_id}")
               if e.action == "device.activated"]
    assert any("exempted, sold on" in r for r in json.loads(event.data)["reasons"])
    server.clock.advance(365 * 86400)
    assert exempt.send("/v1/device/checkin", IN_IR)["status"] == "activated"
    assert exempt.send("/v1/device/checkin", IN_IR)["status"] == "activated"
    assert not [c for c in claims(server.runtime, exempt.device_id, active_only=True)
                if c.kind == "territory"]
