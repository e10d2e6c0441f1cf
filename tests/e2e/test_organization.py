"""An organization's device end to end: the operator creates the tenant, its key and the
assignment on the CLI of a real `tenure serve`; the organization claims the device and
issues codes over HTTP; the reference agent's `tenure device activate --bypass-code`
opens activation with a fresh code and is refused with a spent or a replaced one."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from .conftest import ServerProcess

pytestmark = pytest.mark.e2e
EXIT_LOCKED = 4


def test_an_organization_device_opens_with_a_fresh_code_only(any_server: ServerProcess,
                                                             tmp_path: Path) -> None:
    server = any_server
    state = str(tmp_path / "FLEET-1")
    row = server.cli("device", "--state", state, "init", "--server", server.url,
                     "--id", "FLEET-1")
    (tmp_path / "fleet.csv").write_text(row.stdout)
    server.cli("provision", "import", str(tmp_path / "fleet.csv"))

    tenant = server.cli("tenant", "create", "--kind", "organization", "--name", "Acme Fleet",
                        "--contact", "it@acme.example").stdout.strip()
    key = server.cli("apikey", "create", "--role", "organization", "--tenant",
                     tenant).stdout.strip()
    (tmp_path / "sales.txt").write_text("# Acme order 1\nFLEET-1\n")
    assigned = server.cli("tenant", "assign", tenant, str(tmp_path / "sales.txt"))
    assert "assigned 1 devices" in assigned.stdout
    auth = {"Authorization": f"Bearer {key}"}
    claimed = httpx.post(f"{server.url}/v1/org/devices", headers=auth,
                         json={"device_ids": ["FLEET-1", "NOT-OURS"]})
    assert claimed.json() == {"claimed": ["FLEET-1"], "refused": [
        {"device_id": "NOT-OURS", "reason": "not-claimable"}]}

    def new_code() -> str:
        answer = httpx.post(f"{server.url}/v1/org/devices/FLEET-1/bypass-code", headers=auth)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["bypass_code"])

    def activate(*extra: str) -> tuple[int, str]:
        done = server.cli("device", "--state", state, "activate", *extra, check=False)
        return done.returncode, done.stdout

    code, screen = activate()
    assert code == EXIT_LOCKED and "This device belongs to Acme Fleet" in screen
    assert "it@acme.example" in screen

    stale = new_code()
    fresh = new_code()
    code, screen = activate("--bypass-code", stale)
    assert code == EXIT_LOCKED, screen  # replaced by the newer code
    code, screen = activate("--bypass-code", fresh.lower())
    assert code == 0, screen
    assert "ACTIVATED" in screen.upper()
    code, screen = activate("--bypass-code", fresh)
    assert code == EXIT_LOCKED, screen  # spent by the activation it opened

    view = httpx.get(f"{server.url}/v1/org/devices/FLEET-1", headers=auth).json()
    assert view["device_id"] == "FLEET-1" and view["code_issued_at"] is None
    disabled = server.cli("tenant", "disable", tenant)
    assert "1 claims released" in disabled.stdout
    assert httpx.get(f"{server.url}/v1/org/devices/FLEET-1", headers=auth).status_code == 401
    code, _ = activate()
    assert code == 0
    assert "OK" in server.cli("audit", "verify").stdout
