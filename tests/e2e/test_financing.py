"""Device financing end to end: real `tenure serve` processes, the operator CLI, a
creditor's API key over HTTP, and the reference agent's CLI (`tenure device ...`)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import TENURE, ServerProcess
from .test_activation_lock import provision

pytestmark = pytest.mark.e2e
HOUR, DAY = 3600, 86400
CONTACT = "+44 20 7946 0000"


class Creditor:
    """The operator's set-up on the CLI, then the creditor's calls with its key."""

    def __init__(self, server: ServerProcess, webhook_url: str | None = None) -> None:
        self.server = server
        hook = ["--webhook-url", webhook_url] if webhook_url else []
        self.tenant_id = server.cli("tenant", "create", "--kind", "creditor", "--name",
                                    "Loans Ltd", "--contact", CONTACT, *hook).stdout.strip()
        self.key = server.cli("apikey", "create", "--role", "creditor", "--tenant",
                              self.tenant_id).stdout.strip()

    def assign(self, tmp_path: Path, device_id: str) -> None:
        listing = tmp_path / f"{device_id}-sold.txt"
        listing.write_text(device_id + "\n")
        self.server.cli("tenant", "assign", self.tenant_id, str(listing))

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, f"{self.server.url}/v1/creditor/devices{path}",
                             json=body, headers={"Authorization": f"Bearer {self.key}"})


def device_cli(state: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TENURE, "device", "--state", str(state), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def problem_name(response: httpx.Response) -> str:
    return str(response.json().get("type", "")).rsplit(":", 1)[-1]


def test_a_creditor_lock_from_enrollment_to_completion(any_server: ServerProcess,
                                                       tmp_path: Path) -> None:
    server = any_server
    creditor = Creditor(server)
    phone = provision(server, tmp_path, "FIN-1")
    state = tmp_path / "FIN-1"
    assert phone.activate()["status"] == "activated"
    creditor.assign(tmp_path, "FIN-1")
    enrolled = creditor.call("POST", "", {"device_id": "FIN-1", "loan_id": "L-100",
                                          "contact": CONTACT, "offline_lock_days": 14})
    assert (enrolled.status_code, enrolled.json()) == (201, {"state": "enrolled"})

    # The device shows the notice; a check-in that does not accept it leaves it pending.
    shown = device_cli(state, "checkin", env=server.env)
    assert shown.returncode == 0, shown.stderr
    assert "Notice from Loans Ltd" in shown.stdout and "--accept-notice" in shown.stdout
    device_cli(state, "checkin", env=server.env)
    assert problem_name(creditor.call("POST", "/FIN-1/lock", {"message": "Pay"})) == \
        "notice-not-acknowledged"
    accepted = device_cli(state, "checkin", "--accept-notice", env=server.env)
    assert accepted.returncode == 0, accepted.stderr
    assert "Notice from" not in accepted.stdout and "Financed: check in before" in accepted.stdout
    assert creditor.call("GET", "/FIN-1").json()["state"] == "in-force"

    # No lock before a reminder the device acknowledged 72 hours earlier.
    assert problem_name(creditor.call("POST", "/FIN-1/lock", {"message": "Pay"})) == \
        "no-prior-reminder"
    assert creditor.call("POST", "/FIN-1/reminders",
                         {"message": "Your May payment is late."}).status_code == 202
    reminded = device_cli(state, "checkin", env=server.env).stdout
    assert "Message from Loans Ltd: Your May payment is late." in reminded
    device_cli(state, "checkin", env=server.env)  # acknowledges the reminder it showed
    server.advance_clock(72 * HOUR + 60)
    locked = creditor.call("POST", "/FIN-1/lock", {"message": "Payment overdue."})
    assert (locked.status_code, locked.json()) == (202, {"state": "locked"})
    screen = device_cli(state, "checkin", env=server.env).stdout
    assert "Status: LOCKED (locked by a creditor)" in screen
    assert "[creditor] Payment overdue." in screen
    assert f"Emergency calls and calls to {CONTACT} still work" in screen

    # Unlocked by the creditor: effective at the next check-in.
    assert creditor.call("POST", "/FIN-1/unlock").json() == {"state": "in-force"}
    assert "Status: LOCKED" in device_cli(state, "status", env=server.env).stdout
    assert "Status: ACTIVATED" in device_cli(state, "checkin", env=server.env).stdout

    # Paid: completing, then released by the server's own maintenance loop.
    completing = creditor.call("POST", "/FIN-1/complete")
    assert completing.status_code == 202 and completing.json()["state"] == "completing"
    server.advance_clock(48 * HOUR + 60)
    for _ in range(50):
        if creditor.call("GET", "/FIN-1").status_code == 404:
            break
        time.sleep(0.2)
    assert creditor.call("GET", "/FIN-1").status_code == 404
    record = phone.checkin()
    assert record["locks"] == [] and "offline_lock_at" not in record
    final = device_cli(state, "status", env=server.env).stdout
    assert "Financed" not in final and "Status: ACTIVATED" in final


def test_the_agent_locks_itself_offline_after_offline_lock_days(server: ServerProcess,
                                                                tmp_path: Path) -> None:
    creditor = Creditor(server)
    phone = provision(server, tmp_path, "FIN-2")
    state = tmp_path / "FIN-2"
    phone.activate()
    creditor.assign(tmp_path, "FIN-2")
    creditor.call("POST", "", {"device_id": "FIN-2", "loan_id": "L-2", "contact": CONTACT,
                               "offline_lock_days": 14})
    device_cli(state, "checkin", env=server.env)
    record = phone.checkin(accept_notices=True)
    assert record["offline_lock_at"] == record["iat"] + 14 * DAY

    server.stop()
    agent_clock = tmp_path / "agent-clock"
    env = {**server.env, "TENURE_CLOCK_OFFSET_FILE": str(agent_clock)}
    agent_clock.write_text(str(float(server.clock_file.read_text()) + 13 * DAY))
    early = device_cli(state, "status", "--refresh", env=env)
    assert early.returncode == 0, early.stderr
    assert "Server not reachable" in early.stdout and "Status: ACTIVATED" in early.stdout
    agent_clock.write_text(str(float(server.clock_file.read_text()) + 14 * DAY + 60))
    late = device_cli(state, "status", "--refresh", env=env)
    assert late.returncode == 0, late.stderr
    assert "Status: LOCKED (locked by a creditor)" in late.stdout
    assert "as agreed with Loans Ltd" in late.stdout
    assert f"Emergency calls and calls to {CONTACT} still work" in late.stdout
    assert os.path.exists(state / "persistent" / "financing.json")
