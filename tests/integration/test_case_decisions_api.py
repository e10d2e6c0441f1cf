"""Deciding appeal cases over HTTP on SQLite and PostgreSQL: four eyes, the objection
window (a due time processed by the maintenance round, surviving a restart), an
objection upheld or overruled, the grant's effects, and the territory exemption."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from tenure.bootstrap import Services, bootstrap
from tenure.clock import FixedClock
from tenure.store import tables as t

from .case_helpers import (
    PDF,
    Agent,
    approve_twice,
    bound_device,
    decide,
    make_agent,
    open_case,
    resign,
    states,
    upload,
)
from .helpers import (
    Accounts,
    Device,
    assert_problem,
    audit,
    bearer,
    claims,
    outbox,
    rows,
)

DAY = 86400


def agents(client: TestClient, accounts: Accounts, runtime: Services,
           clock: FixedClock) -> tuple[Agent, Agent]:
    return (make_agent(client, accounts, runtime, clock),
            make_agent(client, accounts, runtime, clock))


def test_two_agents_approve_the_owner_does_not_object_and_the_window_grants_it(
        client: TestClient, accounts: Accounts, device: Device, runtime: Services,
        clock: FixedClock) -> None:
    a, b = agents(client, accounts, runtime, clock)
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    bound_device(device, owner)
    case_id = open_case(client, buyer, device)
    upload(client, buyer.token, case_id, PDF)

    first = decide(client, a, case_id, "approve", "receipt matches the IMEI")
    assert first.status_code == 200 and first.json()["state"] == "open"
    assert_problem(decide(client, a, case_id, "approve"), "forbidden", 403)
    second = decide(client, b, case_id, "approve")
    assert second.status_code == 200, second.text
    case = second.json()
    assert case["state"] == "objection-window"
    assert [d["agent"] for d in case["decisions"]] == [a.account_id, b.account_id]
    assert case["objection_window_ends"] == clock.now() + 14 * DAY
    mail = [m for m in outbox(runtime, owner.email) if case_id in m.body]
    assert len(mail) == 1 and "object" in mail[0].body
    assert buyer.email not in mail[0].body  # the holder is not told who the applicant is
    assert len(claims(runtime, device.device_id, active_only=True)) == 1

    clock.advance(14 * DAY - 1)
    runtime.maintenance()
    assert states(client, buyer, case_id)[-1] == "objection-window"
    # the window's end is stored: a restarted server (a new process) grants the case
    clock.advance(1)
    restarted = bootstrap(runtime.settings, clock=clock)
    try:
        restarted.maintenance()
    finally:
        restarted.close()
    assert states(client, buyer, case_id) == ["open", "approved", "objection-window",
                                              "granted"]
    assert claims(runtime, device.device_id, active_only=True) == []
    [released] = claims(runtime, device.device_id)
    assert released.released_by == f"case:{case_id}"
    [wipe] = rows(runtime, t.device_commands)
    assert (wipe.device_id, wipe.kind, wipe.acked_at) == (device.device_id, "wipe", None)
    actions = [e.action for e in audit(runtime, f"device:{device.device_id}")]
    for action in ("case.opened", "case.approved", "case.window_opened", "case.window_ended",
                   "case.granted"):
        assert action in actions
    buyer_mail = [m.subject for m in outbox(runtime, buyer.email)]
    assert any("granted" in s for s in buyer_mail) and any("approved" in s for s in buyer_mail)
    assert any("released" in m.subject for m in outbox(runtime, owner.email))

    # the device: its next record carries the wipe; activated without the old owner
    device.factory_reset()
    reset = device.activate()
    assert reset.record()["status"] == "activated"
    assert [c["type"] for c in reset.record()["commands"]] == ["wipe"]
    resign(client, a, clock)
    assert_problem(decide(client, a, case_id, "refuse", "claim-upheld"), "case-closed", 409)


def test_an_objection_upheld_by_support_keeps_the_lock(
        client: TestClient, accounts: Accounts, device: Device, runtime: Services,
        clock: FixedClock) -> None:
    a, b = agents(client, accounts, runtime, clock)
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    stranger = accounts.new(accounts.new_email("stranger"))
    bound_device(device, owner)
    case_id = open_case(client, buyer, device)
    assert_problem(client.post(f"/v1/cases/{case_id}/objection", headers=bearer(owner.token),
                               json={"statement": "too early"}), "case-closed", 409)
    approve_twice(client, a, b, case_id)

    for other in (buyer, stranger):
        assert_problem(client.post(f"/v1/cases/{case_id}/objection",
                                   headers=bearer(other.token),
                                   json={"statement": "mine"}), "not-found", 404)
    assert_problem(client.post(f"/v1/cases/{case_id}/objection", headers=bearer(owner.token),
                               json={"statement": ""}), "invalid-input", 422)
    objected = client.post(f"/v1/cases/{case_id}/objection", headers=bearer(owner.token),
                           json={"statement": "It was stolen from my car on 1 October."})
    assert objected.status_code == 200, objected.text
    assert objected.json()["state"] == "objected"
    clock.advance(20 * DAY)
    runtime.maintenance()  # no window any more: nothing is granted by time
    assert states(client, buyer, case_id)[-1] == "objected"

    resign(client, a, clock)
    view = client.get(f"/v1/support/cases/{case_id}", headers=bearer(a.token)).json()
    assert view["objections"][0]["statement"].startswith("It was stolen")
    assert view["approvals"] == []
    refused = decide(client, a, case_id, "refuse", "objection-upheld")
    assert refused.status_code == 200 and refused.json()["state"] == "refused"
    assert states(client, buyer, case_id)[-1] == "refused"
    history = client.get(f"/v1/cases/{case_id}", headers=bearer(buyer.token)).json()["history"]
    assert history[-1]["reason"] == "objection-upheld"
    assert len(claims(runtime, device.device_id, active_only=True)) == 1
    assert any("objection-upheld" in m.subject for m in outbox(runtime, buyer.email))


def test_after_an_objection_the_same_two_agents_may_grant_it(
        client: TestClient, accounts: Accounts, device: Device, runtime: Services,
        clock: FixedClock) -> None:
    a, b = agents(client, accounts, runtime, clock)
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    bound_device(device, owner)
    case_id = open_case(client, buyer, device)
    approve_twice(client, a, b, case_id)
    assert client.post(f"/v1/cases/{case_id}/objection", headers=bearer(owner.token),
                       json={"statement": "no"}).status_code == 200
    once = decide(client, a, case_id, "approve")
    assert once.json()["state"] == "objected"
    done = decide(client, b, case_id, "approve")
    assert done.json()["state"] == "granted"
    assert states(client, buyer, case_id) == ["open", "approved", "objection-window",
                                              "objected", "approved", "granted"]
    assert claims(runtime, device.device_id, active_only=True) == []


def test_who_may_decide(client: TestClient, accounts: Accounts,
                        make_device: Callable[..., Device], runtime: Services,
                        clock: FixedClock) -> None:
    a, b = agents(client, accounts, runtime, clock)
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    # an agent who opened the case, and an agent bound to the device
    mine = bound_device(make_device(), owner)
    own_case = open_case(client, a.account, mine)
    assert_problem(decide(client, a, own_case, "approve"), "forbidden", 403)
    theirs = bound_device(make_device(), b.account)
    bound_case = open_case(client, buyer, theirs)
    assert_problem(decide(client, b, bound_case, "refuse", "claim-upheld"), "forbidden", 403)
    # reasons, decisions, freshness, unknown cases
    assert_problem(decide(client, a, bound_case, "refuse", "because"), "invalid-input", 422)
    assert_problem(decide(client, a, bound_case, "maybe"), "invalid-input", 422)
    assert_problem(decide(client, a, "0" * 32, "approve"), "not-found", 404)
    clock.advance(301)
    assert_problem(decide(client, a, bound_case, "approve"), "reauthentication-required", 401)
    assert_problem(client.post(f"/v1/support/cases/{bound_case}/decisions",
                               headers=bearer(buyer.token), json={"decision": "approve"}),
                   "forbidden", 403)
    assert rows(runtime, t.case_decisions) == []


def test_a_duplicate_case_is_listed_for_support_and_refused_with_its_reason(
        client: TestClient, accounts: Accounts, device: Device, runtime: Services,
        clock: FixedClock) -> None:
    a = make_agent(client, accounts, runtime, clock)
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    bound_device(device, owner)
    first = open_case(client, buyer, device)
    second = open_case(client, buyer, device)
    view = client.get(f"/v1/support/cases/{second}", headers=bearer(a.token)).json()
    assert view["duplicates"] == [first]
    refused = decide(client, a, second, "refuse", "duplicate-case")
    assert refused.json()["state"] == "refused"
    history = client.get(f"/v1/cases/{second}", headers=bearer(buyer.token)).json()["history"]
    assert history[-1] == {"at": clock.now(), "state": "refused", "reason": "duplicate-case"}


TERRITORY = """\
maker = "Example Phones"
evidence = "any"

[[rules]]
id = "iran"
effect = "deny_activation"
territories = ["IR"]

[[rules]]
id = "sanctions"
effect = "lock_in_use"
territories = ["KP"]
grace_hours = 0
"""


def test_a_territory_appeal_exempts_the_device_and_it_is_released_at_its_next_checkin(
        client: TestClient, accounts: Accounts, device: Device, runtime: Services,
        clock: FixedClock) -> None:
    a, b = agents(client, accounts, runtime, clock)
    traveller = accounts.new(accounts.new_email("traveller"))
    runtime.policies.apply(TERRITORY, "ops", "export rules")
    clock.advance(10)
    assert device.activate(signals={}).record()["status"] == "activated"
    locked = device.post("/v1/device/checkin", {"signals": {"gnss": {"country": "KP"}},
                                                "acks": []})
    assert [lock["kind"] for lock in locked.record()["locks"]] == ["territory"]
    in_iran = device.activate(signals={"gnss": {"country": "IR"}})
    assert in_iran.record()["status"] == "locked"

    case_id = open_case(client, traveller, device, kind="territory")
    view = client.get(f"/v1/cases/{case_id}", headers=bearer(traveller.token)).json()
    assert view["rules"] == ["iran", "sanctions"]
    granted = approve_twice(client, a, b, case_id)
    assert granted["state"] == "granted"  # no objection window for a territory case
    assert states(client, traveller, case_id) == ["open", "approved", "granted"]

    record = device.post("/v1/device/checkin", {"signals": {"gnss": {"country": "KP"}},
                                                "acks": []}).record()
    assert record["status"] == "activated" and record["exemptions"] == ["iran", "sanctions"]
    assert device.activate(signals={"gnss": {"country": "IR"}}).record()["status"] == "activated"
    assert [c.kind for c in claims(runtime, device.device_id, active_only=True)] == []
    status = client.get(f"/v1/public/status?device_id={device.device_id}").json()["statement"]
    from tenure.crypto.jws import parse_compact
    assert parse_compact(status).payload()["territory_restrictions"] == []
    assert "case.granted" in [e.action for e in audit(runtime, f"device:{device.device_id}")]


def test_a_creditor_holding_the_claim_is_told_by_webhook_event_and_may_object(
        client: TestClient, accounts: Accounts, device: Device, runtime: Services,
        clock: FixedClock) -> None:
    import json
    import secrets

    from tenure.domain.model import Claim, ClaimKind

    a, b = agents(client, accounts, runtime, clock)
    buyer = accounts.new(accounts.new_email("buyer"))
    creditor = runtime.tenants.create("creditor", "Phone Finance Ltd")
    other = runtime.tenants.create("creditor", "Another Lender")
    key = runtime.api_keys.create("creditor", "finance", creditor.tenant_id)
    other_key = runtime.api_keys.create("creditor", "other", other.tenant_id)
    org_key = runtime.api_keys.create("organization", "org",
                                      runtime.tenants.create("organization", "Fleet").tenant_id)
    assert device.activate().status_code == 200
    with runtime.uow() as tx:
        tx.claims.add(Claim(secrets.token_hex(16), device.device_id, ClaimKind.CREDITOR,
                            creditor.tenant_id, clock.now()))
    case_id = open_case(client, buyer, device, kind="creditor")
    assert approve_twice(client, a, b, case_id)["state"] == "objection-window"
    [event] = rows(runtime, t.tenant_events)
    payload = json.loads(event.payload)
    assert (event.tenant_id, payload["event"], payload["case_id"], payload["device_id"]) == (
        creditor.tenant_id, "case.opened", case_id, device.device_id)

    path = f"/v1/creditor/cases/{case_id}/objection"
    body = {"statement": "The loan is not paid off: 9 instalments open."}
    assert_problem(client.post(path, headers=bearer(other_key), json=body), "not-found", 404)
    assert_problem(client.post(f"/v1/org/cases/{case_id}/objection", headers=bearer(org_key),
                               json=body), "not-found", 404)
    assert_problem(client.post(path, headers=bearer(org_key), json=body), "forbidden", 403)
    assert_problem(client.post(path, json=body), "unauthorized", 401)
    objected = client.post(path, headers=bearer(key), json=body)
    assert objected.status_code == 200, objected.text
    assert objected.json()["state"] == "objected"
    resign(client, a, clock)
    assert decide(client, a, case_id, "refuse", "claim-upheld").json()["state"] == "refused"
    assert [c.kind for c in claims(runtime, device.device_id, active_only=True)] == [
        ClaimKind.CREDITOR.value]
