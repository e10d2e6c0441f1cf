"""The support and operator console (`/console`) in a browser, on SQLite and PostgreSQL:
who gets in (agents with their second factor, operators with a key of the right role),
a device looked up, four eyes on a case through the pages, the territory policy's
workflow, the audit log with its CSV export, and the outbox's retries."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.clock import FixedClock

from .case_helpers import PDF, PNG, bound_device, make_agent, open_case, upload
from .console_helpers import Browser, Page, csv_text, path_of
from .helpers import Accounts, Device, audit, bearer
from .test_policy_admin_api import BROKEN, RELAXED, SANCTIONS, seed_fleet


@pytest.fixture
def browsers(runtime: Services) -> Iterator[Callable[[], Browser]]:
    made: list[Browser] = []

    def new() -> Browser:
        made.append(Browser(runtime))
        return made[-1]

    yield new
    for browser in made:
        browser.close()


def signed_in_operator(new: Callable[[], Browser], runtime: Services,
                       role: str = "admin") -> tuple[Browser, str]:
    key = runtime.api_keys.create(role, f"{role} console")
    browser = new()
    answer = browser.sign_in_key(key)
    assert answer.status_code == 200, answer.text[:500]
    assert browser.operator == key
    assert key not in answer.text  # never written back into a page
    return browser, key


# -- who gets in ---------------------------------------------------------------------------


def test_an_agent_without_a_second_factor_is_refused(
        client: TestClient, accounts: Accounts, runtime: Services, clock: FixedClock,
        browsers: Callable[[], Browser]) -> None:
    agent = make_agent(client, accounts, runtime, clock, with_totp=False)
    browser = browsers()
    answer = browser.sign_in_agent(agent, clock, code=False)
    assert answer.status_code == 403
    assert any("second factor" in alert for alert in Page.of(answer).alerts)
    assert browser.session is None
    gone = browser.get("/console/cases")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/console/signin")


def test_an_agent_signs_in_with_the_code_and_out_again(
        client: TestClient, accounts: Accounts, runtime: Services, clock: FixedClock,
        browsers: Callable[[], Browser]) -> None:
    agent = make_agent(client, accounts, runtime, clock)
    browser = browsers()
    clock.advance(30)
    asked = browser.post("/console/signin", {"method": "agent", "email": agent.account.email,
                                             "password": agent.account.password})
    assert asked.status_code == 401 and browser.session is None
    assert "authenticator" in Page.of(asked).text
    answer = browser.sign_in_agent(agent, clock)
    assert answer.status_code == 200 and path_of(answer) == "/console/cases"
    token = browser.session
    assert token is not None and token not in answer.text
    assert agent.account.email in Page.of(answer).text
    out = browser.post("/console/signout", {})
    assert path_of(out) == "/console/signin" and browser.session is None
    # the session itself is over, not only the cookie
    assert client.get("/v1/support/cases", headers=bearer(token)).status_code == 401


def test_an_owner_session_is_refused_on_console_pages(
        accounts: Accounts, runtime: Services, browsers: Callable[[], Browser]) -> None:
    owner = accounts.new()
    browser = browsers()
    signed = browser.post("/signin", {"email": owner.email, "password": owner.password})
    assert signed.status_code == 200 and browser.session is not None
    for path in ("/console/devices", "/console/cases"):
        assert browser.get(path).status_code == 403, path
    for path in ("/console/policy", "/console/audit", "/console/outbox", "/console"):
        answer = browser.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/console/signin"), path
    refused = browser.post("/console/signin", {"method": "agent", "email": owner.email,
                                               "password": owner.password})
    assert refused.status_code == 403 and "not a support agent" in Page.of(refused).text


def test_a_made_up_or_unfit_operator_key_is_refused(
        runtime: Services, browsers: Callable[[], Browser]) -> None:
    browser = browsers()
    made_up = "tnr_0123456789abcdef_" + "x" * 43
    answer = browser.sign_in_key(made_up)
    assert answer.status_code == 401 and browser.operator is None
    assert any("unknown or revoked" in a for a in Page.of(answer).alerts)
    assert made_up not in answer.text
    tenant = runtime.tenants.create("organization", "Fleet", "it@fleet.example")
    for key, status in ((runtime.api_keys.create("organization", "org", tenant.tenant_id), 403),
                        (runtime.api_keys.create("factory", "line 3"), 403)):
        refused = browser.sign_in_key(key)
        assert refused.status_code == status and browser.operator is None
        assert key not in refused.text
    # a cookie set by hand opens nothing either
    browser.client.cookies.set("tenure_operator", made_up)
    for path in ("/console/audit", "/console/outbox", "/console/policy", "/console/devices"):
        answer = browser.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/console/signin"), path


def test_a_policy_key_opens_the_policy_only(runtime: Services,
                                            browsers: Callable[[], Browser]) -> None:
    browser, _ = signed_in_operator(browsers, runtime, "policy")
    assert path_of(browser.open("/console")) == "/console/policy"
    for path in ("/console/audit", "/console/outbox", "/console/devices",
                 "/console/audit.csv"):
        assert browser.get(path).status_code == 403, path
    links = Page.of(browser.open("/console/policy")).links
    assert "/console/policy" in links and "/console/audit" not in links


# -- devices -------------------------------------------------------------------------------


def test_an_agent_looks_a_device_up_by_imei(
        client: TestClient, accounts: Accounts, runtime: Services, clock: FixedClock,
        device: Device, browsers: Callable[[], Browser]) -> None:
    owner = accounts.new()
    bound_device(device, owner)
    lost = client.post(f"/v1/me/devices/{device.device_id}/lost", headers=bearer(owner.token),
                       json={"message": "Please call me", "contact": "+49 30 1234"})
    assert lost.status_code == 204, lost.text
    agent = make_agent(client, accounts, runtime, clock)
    browser = browsers()
    browser.sign_in_agent(agent, clock)

    page = Page.of(browser.open("/console/devices", q=device.imeis[0]))
    assert device.device_id in page.text
    claims = page.table_with("Holder")
    kinds = {row[0]: row for row in claims[1:]}
    assert set(kinds) == {"owner", "lost"}
    assert owner.account_id in kinds["owner"][1] and "held" in kinds["owner"][4]
    assert "Please call me" in kinds["lost"][3]
    # the decision now, with a reason for every claim: lost mode locks the device
    assert "Status: locked" in page.text
    assert "blocks every act" in page.text and "in use by its owner" in page.text
    trail = page.table_with("Action")
    actions = [row[4] for row in trail[1:]]
    stored = [e.action for e in audit(runtime, f"device:{device.device_id}")]
    assert actions == list(reversed(stored))  # every event, newest first
    assert "claim.owner.bound" in actions

    by_id = Page.of(browser.open(f"/console/devices/{device.device_id}"))
    assert by_id.table_with("Holder") == claims
    unknown = Page.of(browser.open("/console/devices", q="NO-SUCH-DEVICE"))
    assert "No device matches" in unknown.text


def test_an_operator_finds_a_financed_device_by_its_loan_id(
        runtime: Services, make_device: Callable[..., Device], client: TestClient,
        browsers: Callable[[], Browser]) -> None:
    tenant = runtime.tenants.create("creditor", "Loans One", "+49 30 5550000")
    creditor = runtime.api_keys.create("creditor", "Loans One", tenant.tenant_id)
    financed = make_device()
    runtime.tenants.assign(tenant.tenant_id, [financed.device_id])
    enrolled = client.post("/v1/creditor/devices", headers=bearer(creditor),
                           json={"device_id": financed.device_id, "loan_id": "LOAN-4711",
                                 "contact": "+49 30 5550000"})
    assert enrolled.status_code == 201, enrolled.text
    browser, _ = signed_in_operator(browsers, runtime)

    page = Page.of(browser.open("/console/devices", q="LOAN-4711"))
    assert financed.device_id in page.text
    [header, row] = page.table_with("Holder")
    assert row[0] == "creditor" and "Loans One" in row[1] and "LOAN-4711" in row[1]
    assert "enrolled" in row[1]
    assert "does not lock the device" in page.text  # the decision's reason for it


# -- cases ---------------------------------------------------------------------------------


def test_two_agents_approve_a_case_through_the_pages(
        client: TestClient, accounts: Accounts, runtime: Services, clock: FixedClock,
        make_device: Callable[..., Device], browsers: Callable[[], Browser]) -> None:
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    device = bound_device(make_device(), owner)
    case_id = open_case(client, buyer, device)
    for data in (PNG, PDF):
        assert upload(client, buyer.token, case_id, data).status_code == 201
    first, second = (make_agent(client, accounts, runtime, clock) for _ in range(2))
    applicant = make_agent(client, accounts, runtime, clock)  # an agent's own case
    own_case = open_case(client, applicant.account, bound_device(make_device(), owner))
    a, b, c = browsers(), browsers(), browsers()
    for browser, agent in ((a, first), (b, second), (c, applicant)):
        assert browser.sign_in_agent(agent, clock).status_code == 200

    queue = Page.of(a.open("/console/cases", state="open"))
    assert f"/console/cases/{case_id}" in queue.links
    page = Page.of(a.open(f"/console/cases/{case_id}"))
    [image] = page.images
    assert image.startswith(f"/console/cases/{case_id}/evidence/")
    shown = a.get(image)
    assert shown.status_code == 200 and shown.content == PNG
    assert shown.headers["content-type"] == "image/png"
    assert shown.headers["content-disposition"].startswith("inline")
    pdf_links = [link for link in page.links
                 if link.startswith(f"/console/cases/{case_id}/evidence/") and link != image]
    assert len(pdf_links) == 1
    assert a.get(pdf_links[0]).headers["content-type"] == "application/pdf"
    assert c.get(image).status_code == 200  # any agent reads evidence...
    assert browsers().get(image).status_code == 303  # ...nobody else

    note = "Receipt matches the IMEI; seller is a known shop."
    approved = a.post(f"/console/cases/{case_id}/decisions",
                      {"decision": "approve", "reason": note})
    assert approved.status_code == 200 and "approval is recorded" in Page.of(approved).text
    twice = a.post(f"/console/cases/{case_id}/decisions", {"decision": "approve"})
    assert twice.status_code == 403
    assert any("already approved" in alert for alert in Page.of(twice).alerts)
    own = c.post(f"/console/cases/{own_case}/decisions", {"decision": "approve"})
    assert own.status_code == 403
    assert any("opened themselves" in alert for alert in Page.of(own).alerts)

    seen = Page.of(b.open(f"/console/cases/{case_id}"))
    decisions = seen.table_with("Reasoning")
    assert [row[1:4] for row in decisions[1:]] == [[first.account_id, "approve", note]]
    granted = b.post(f"/console/cases/{case_id}/decisions", {"decision": "approve"})
    assert granted.status_code == 200
    view = client.get(f"/v1/support/cases/{case_id}", headers=bearer(second.token)).json()
    assert view["state"] == "objection-window"
    assert [d["agent"] for d in view["decisions"]] == [first.account_id, second.account_id]
    assert f"/console/cases/{case_id}/decisions" not in granted.text  # nothing to decide


def test_a_refusal_needs_one_of_the_reasons(
        client: TestClient, accounts: Accounts, runtime: Services, clock: FixedClock,
        device: Device, browsers: Callable[[], Browser]) -> None:
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    case_id = open_case(client, buyer, bound_device(device, owner))
    browser = browsers()
    agent = make_agent(client, accounts, runtime, clock)
    browser.sign_in_agent(agent, clock)
    clock.advance(301)  # deciding needs a sign-in of the last 5 minutes
    stale = browser.post(f"/console/cases/{case_id}/decisions",
                         {"decision": "refuse", "refusal": "insufficient-evidence"})
    assert stale.status_code == 401
    assert f"/console/signin?next=/console/cases/{case_id}" in Page.of(stale).links
    browser.sign_in_agent(agent, clock)
    bad = browser.post(f"/console/cases/{case_id}/decisions",
                       {"decision": "refuse", "refusal": "because"})
    assert bad.status_code == 422
    done = browser.post(f"/console/cases/{case_id}/decisions",
                        {"decision": "refuse", "refusal": "insufficient-evidence"})
    assert done.status_code == 200 and "refused" in Page.of(done).text
    assert client.get(f"/v1/cases/{case_id}",
                      headers=bearer(buyer.token)).json()["state"] == "refused"


# -- the territory policy ------------------------------------------------------------------


def test_an_operator_validates_dry_runs_applies_and_rolls_back_a_policy(
        runtime: Services, browsers: Callable[[], Browser]) -> None:
    browser, key = signed_in_operator(browsers, runtime, "policy")
    author = f"apikey:{key.removeprefix('tnr_').partition('_')[0]}"
    empty = Page.of(browser.open("/console/policy"))
    assert "No policy has been applied yet" in empty.text

    broken = browser.post("/console/policy/validate", {"document": BROKEN})
    assert broken.status_code == 422
    problems = Page.of(broken).alerts[0]
    assert "4 problems" in problems and "unknown territory code 'XZ'" in problems
    crlf = SANCTIONS.replace("\n", "\r\n")  # what a browser sends from a textarea
    valid = browser.post("/console/policy/validate", {"document": crlf})
    assert valid.status_code == 200 and "The policy is valid: 1 rules" in Page.of(valid).text

    seed_fleet(runtime)
    dry = Page.of(browser.post("/console/policy/dry-run", {"document": crlf}))
    *lines, total = dry.table_with("Territory")[1:]
    impact = {tuple(row[:2]): row[2:] for row in lines}
    assert impact == {("TP1", "IR"): ["1", "1", "0"], ("TP2", "IR"): ["1", "1", "0"],
                      ("TP1", "UA-43"): ["1", "1", "0"]}
    assert total == ["Total", "3", "3", "0"]
    assert runtime.policies.history() == []

    no_reason = browser.post("/console/policy/apply", {"document": crlf, "reason": " "})
    assert no_reason.status_code == 422 and runtime.policies.history() == []
    assert SANCTIONS.splitlines()[0] in Page.of(no_reason).text  # the text is kept
    applied = browser.post("/console/policy/apply",
                           {"document": crlf, "reason": "export rules"})
    assert "Version 1 is now the active policy" in Page.of(applied).text
    first = runtime.policies.document(None)
    assert (first.document, first.author, first.reason) == (SANCTIONS, author, "export rules")
    browser.post("/console/policy/apply", {"document": RELAXED, "reason": "relax"})
    assert runtime.policies.document(None).version == 2

    back = browser.post("/console/policy/rollback", {"version": "1", "reason": "premature"})
    assert "Version 3 is now the active policy" in Page.of(back).text
    active = runtime.policies.document(None)
    assert (active.version, active.document, active.rollback_of) == (3, SANCTIONS, 1)
    versions = Page.of(back).table_with("Roll back")
    assert [row[0].split()[0] for row in versions[1:]] == ["3", "2", "1"]
    missing = browser.post("/console/policy/rollback", {"version": "99", "reason": "x"})
    assert missing.status_code == 404

    withdrawn = browser.post("/console/policy/withdraw", {"reason": "sanctions lifted"})
    assert "Version 4 is now the active policy" in Page.of(withdrawn).text
    assert runtime.policies.current().policy.rules == ()
    again = browser.post("/console/policy/withdraw", {"reason": "twice"})
    assert again.status_code == 422 and runtime.policies.document(None).version == 4


# -- the audit log -------------------------------------------------------------------------


def test_the_audit_log_filters_and_exports_csv(
        accounts: Accounts, runtime: Services, clock: FixedClock,
        make_device: Callable[..., Device], browsers: Callable[[], Browser]) -> None:
    owner = accounts.new()
    device, other = bound_device(make_device(), owner), bound_device(make_device(), owner)
    browser, key = signed_in_operator(browsers, runtime)
    stream = f"device:{device.device_id}"
    stored = audit(runtime, stream)
    assert len(stored) >= 2

    page = Page.of(browser.open("/console/audit", stream=device.imeis[0]))
    rows = page.table_with("Action")[1:]
    assert [(r[1], int(r[2])) for r in rows] == [(stream, e.seq) for e in reversed(stored)]
    assert any("hash chain of device:" in a and "intact" in a for a in page.alerts)
    bound = Page.of(browser.open("/console/audit", action="claim.owner",
                                 actor=f"account:{owner.account_id}"))
    found = {row[1] for row in bound.table_with("Action")[1:]}
    assert found == {stream, f"device:{other.device_id}"}
    tomorrow = Page.of(browser.open("/console/audit", **{"from": "2999-01-01"}))
    assert "No event matches" in tomorrow.text
    bad = browser.get("/console/audit", **{"from": "yesterday"})
    assert bad.status_code == 422

    exported = csv_text(browser.get("/console/audit.csv", stream=stream))
    assert browser.get("/console/audit.csv", stream=stream).headers[
        "content-disposition"].startswith("attachment")
    table = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["stream"], int(r["seq"]), r["action"], r["actor"]) for r in table] == [
        (e.stream, e.seq, e.action, e.actor) for e in reversed(stored)]
    assert [json.loads(r["data"]) for r in table] == [json.loads(e.data)
                                                      for e in reversed(stored)]
    everything = list(csv.DictReader(io.StringIO(csv_text(browser.get("/console/audit.csv")))))
    assert len(everything) == len(audit(runtime))
    signed = [r for r in everything if r["action"] == "console.signed_in"]
    assert signed and signed[0]["actor"].startswith("apikey:")
    assert key not in exported and key.partition("_")[2].partition("_")[2] not in "".join(
        r["data"] for r in everything)


def test_the_audit_log_pages_through_older_events(
        runtime: Services, browsers: Callable[[], Browser]) -> None:
    with runtime.uow() as tx:
        for n in range(60):
            tx.audit.record("system", "test.event", actor="test", at=1_000 + n, n=n)
    browser, _ = signed_in_operator(browsers, runtime)
    first = Page.of(browser.open("/console/audit", stream="system", action="test."))
    newest = [json.loads(r[5])["n"] for r in first.table_with("Action")[1:]]
    assert newest == list(range(59, 9, -1))
    [older] = [link for link in first.links if "before=" in link]
    rest = Page.of(browser.open(older))
    assert [json.loads(r[5])["n"] for r in rest.table_with("Action")[1:]] == list(
        range(9, -1, -1))


# -- the outbox ----------------------------------------------------------------------------


def test_the_outbox_shows_failed_events_and_retries_them(
        runtime: Services, browsers: Callable[[], Browser]) -> None:
    quiet = runtime.tenants.create("organization", "No Hooks Inc")
    with runtime.uow() as tx:
        event_id = tx.events.emit(quiet.tenant_id, "device.locked", "PHONE-A",
                                  runtime.clock.now(), {})
    runtime.webhooks.dispatch()  # no webhook URL: failed at once
    browser, key = signed_in_operator(browsers, runtime)
    key_id = key.removeprefix("tnr_").partition("_")[0]

    page = browser.open("/console/outbox")
    assert '<tr class="failed">' in page.text
    events = Page.of(page).table_with("Tenant")
    [row] = [r for r in events[1:] if event_id in r[0]]
    assert "failed" in row[1] and "no webhook URL" in row[6]
    retried = browser.post("/console/outbox/retry", {"entry_id": event_id})
    assert "back in the queue" in Page.of(retried).text
    assert runtime.outbox.report(failed_only=True).events == []
    assert audit(runtime, f"tenant:{quiet.tenant_id}")[-1].actor == f"apikey:{key_id}"

    runtime.webhooks.dispatch()
    assert len(runtime.outbox.report(failed_only=True).events) == 1
    again = browser.post("/console/outbox/retry", {"entry_id": "no-such-entry"})
    assert again.status_code == 404
    everything = browser.post("/console/outbox/retry-all", {})
    assert "Requeued 1 webhook events and 0 messages" in Page.of(everything).text
    assert runtime.outbox.report(failed_only=True).events == []
