"""Territory policy end to end: a real server that geolocates a test City database,
driven by the reference agent from behind a trusted proxy (X-Forwarded-For)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tenure.agent import DeviceAgent

from .conftest import ServerProcess
from .test_activation_lock import provision

pytestmark = pytest.mark.e2e

IRAN, BERLIN, CRIMEA = "5.22.1.1", "85.214.1.1", "91.200.1.1"
SIM_IR, SIM_DE, SIM_UA = "432", "262", "255"
HOUR = 3600

SANCTIONS = """
maker = "Example Phones"
contact = "your retailer"
evidence = "corroborated"

[[rules]]
id = "sanctions"
effect = "lock_in_use"
territories = ["IR", "KP", "UA-43", "UA-40"]
contact = "Example Phones compliance"
grace_hours = 72
notice_hours = 24
"""
EMPTY = 'maker = "Example Phones"\n'


def apply(server: ServerProcess, tmp_path: Path, text: str, reason: str) -> str:
    path = tmp_path / f"policy-{abs(hash(text))}.toml"
    path.write_text(text)
    return server.cli("policy", "apply", str(path), "--reason", reason).stdout


def at(agent: DeviceAgent, address: str) -> DeviceAgent:
    """Move the device: its requests now come from `address` via the trusted proxy."""
    agent.http.headers["X-Forwarded-For"] = address
    return agent


def test_activation_in_restricted_territory_gets_a_signed_territory_lock(
        territory_server: ServerProcess, tmp_path: Path) -> None:
    server = territory_server
    apply(server, tmp_path, SANCTIONS, "sanctions")
    phone = at(provision(server, tmp_path, "TR-1"), IRAN)
    record = phone.activate(signals={"sim_mcc": [SIM_IR]})  # verified against pinned keys
    assert record["status"] == "locked"
    (lock,) = record["locks"]
    assert lock["kind"] == "territory" and lock["territory"] == "IR"
    assert lock["message"].startswith("The policy of Example Phones does not permit sale or "
                                      "provision of the product to the territory")
    assert "Example Phones compliance" in lock["message"]
    assert lock["contact"] == "Example Phones compliance"
    assert lock["rule"] == "sanctions"
    assert sorted(lock["evidence"]) == ["ip:IR", "sim:IR"]
    assert record["policy_version"] == 1
    assert "Territory: IR (rule sanctions)" in phone.lock_screen()


def test_vpn_alone_does_not_restrict_under_corroborated(territory_server: ServerProcess,
                                                        tmp_path: Path) -> None:
    server = territory_server
    apply(server, tmp_path, SANCTIONS, "sanctions")
    phone = at(provision(server, tmp_path, "TR-2"), IRAN)  # a VPN exit in Iran
    signals = {"sim_mcc": [SIM_DE], "gnss": {"country": "DE", "subdivision": "DE-BE"}}
    assert phone.activate(signals=signals)["status"] == "activated"
    for _ in range(3):
        server.advance_clock(48 * HOUR)
        record = phone.checkin(signals)
        assert record["status"] == "activated" and record["commands"] == []


def test_traveller_within_grace_stays_usable_then_notice_lock_and_release(
        server_with_sanctions: tuple[ServerProcess, DeviceAgent]) -> None:
    server, phone = server_with_sanctions
    at(phone, IRAN)
    in_iran = {"sim_mcc": [SIM_IR]}
    assert phone.checkin(in_iran)["status"] == "activated"  # presence starts now
    server.advance_clock(40 * HOUR)
    record = phone.checkin(in_iran)
    assert record["status"] == "activated" and record["commands"] == []  # within grace

    server.advance_clock(10 * HOUR)  # 50 h: 72 h grace - 24 h notice has passed
    warned = phone.checkin(in_iran)
    assert warned["status"] == "activated"
    (notice,) = warned["commands"]
    assert notice["type"] == "message" and "will be locked" in notice["message"]
    assert "Message:" in phone.lock_screen()

    server.advance_clock(23 * HOUR)  # 73 h: grace over, but the notice is 23 h old
    assert phone.checkin(in_iran)["status"] == "activated"
    server.advance_clock(2 * HOUR)
    locked = phone.checkin(in_iran)
    assert locked["status"] == "locked"
    assert [(lock["kind"], lock["territory"]) for lock in locked["locks"]] == [("territory", "IR")]
    assert "does not permit use of the product" in locked["locks"][0]["message"]

    at(phone, BERLIN)
    released = phone.checkin({"sim_mcc": [SIM_DE]})
    assert released["status"] == "activated" and released["locks"] == []
    assert "OK" in server.cli("audit", "verify").stdout


def test_rule_change_locks_in_use_after_notice_and_rollback_releases(
        territory_server: ServerProcess, tmp_path: Path) -> None:
    server = territory_server
    apply(server, tmp_path, EMPTY, "no restrictions yet")
    phone = at(provision(server, tmp_path, "TR-4"), CRIMEA)
    in_crimea = {"sim_mcc": [SIM_UA], "gnss": {"country": "UA", "subdivision": "UA-43"}}
    assert phone.activate(signals=in_crimea)["status"] == "activated"
    server.advance_clock(100 * HOUR)
    assert phone.checkin(in_crimea)["status"] == "activated"

    preview = tmp_path / "sanctions.toml"
    preview.write_text(SANCTIONS)
    dry = server.cli("policy", "apply", str(preview), "--dry-run").stdout
    assert "UA-43" in dry and "Tenure Phone 1" in dry
    row = next(line for line in dry.splitlines() if "UA-43" in line)
    assert row.split()[-3:] == ["1", "1", "0"]  # newly refused, newly locked, released
    assert "2" in apply(server, tmp_path, SANCTIONS, "sanctions")

    warned = phone.checkin(in_crimea)  # in Crimea for 100 h already: notice first
    assert warned["status"] == "activated" and warned["commands"][0]["type"] == "message"
    assert warned["policy_version"] == 2
    server.advance_clock(25 * HOUR)
    assert phone.checkin(in_crimea)["status"] == "locked"

    server.cli("policy", "rollback", "1", "--reason", "licence granted")
    released = phone.checkin(in_crimea)
    assert released["status"] == "activated" and released["policy_version"] == 3
    history = server.cli("policy", "history").stdout
    assert "licence granted" in history and "(rollback to 1)" in history


def test_admin_api_applies_a_policy_for_a_policy_key(territory_server: ServerProcess,
                                                     tmp_path: Path) -> None:
    server = territory_server
    key = server.cli("apikey", "create", "--role", "policy").stdout.strip()
    headers = {"Authorization": f"Bearer {key}"}
    bad = httpx.post(f"{server.url}/v1/admin/policy/validate", headers=headers,
                     content='[[rules]]\nid = "x"\neffect = "deny_activation"\n'
                             'territories = ["ZZ"]\n')
    assert bad.status_code == 422
    assert bad.json()["type"] == "urn:tenure:problem:invalid-policy"
    assert any("ZZ" in p for p in bad.json()["problems"])
    applied = httpx.post(f"{server.url}/v1/admin/policy", headers=headers, content=SANCTIONS,
                         params={"reason": "sanctions via API"})
    assert applied.status_code == 201 and applied.json()["version"] == 1
    phone = at(provision(server, tmp_path, "TR-5"), IRAN)
    assert phone.activate(signals={"sim_mcc": [SIM_IR]})["status"] == "locked"


@pytest.fixture
def server_with_sanctions(territory_server: ServerProcess,
                          tmp_path: Path) -> tuple[ServerProcess, DeviceAgent]:
    """A device bought and activated in Germany, under the sanctions policy."""
    apply(territory_server, tmp_path, SANCTIONS, "sanctions")
    phone = at(provision(territory_server, tmp_path, "TR-3"), BERLIN)
    assert phone.activate(signals={"sim_mcc": [SIM_DE]})["status"] == "activated"
    return territory_server, phone
