"""Bootloader unlock end to end: real server processes, the agent's bootloader simulator."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tenure.agent import DeviceAgent, RecordRejected
from tenure.agent.device import ProtocolError
from tenure.crypto.b64 import b64u_decode
from tenure.crypto.jws import sign_compact

from .conftest import ServerProcess
from .test_activation_lock import PASSWORD, provision, register
from .test_territory import IRAN, SANCTIONS, SIM_IR, apply, at

pytestmark = pytest.mark.e2e
HOUR, DAY = 3600, 86400


def owned(server: ServerProcess, tmp_path: Path, name: str, email: str) -> DeviceAgent:
    """A device activated and bound to `email` (registered if new)."""
    phone = provision(server, tmp_path, name)
    phone.activate()
    if httpx.post(f"{server.url}/v1/accounts",
                  json={"email": email, "password": PASSWORD}).status_code not in (201, 409):
        raise AssertionError("registration failed")
    phone.bind(phone.sign_in(email, PASSWORD))
    return phone


def refusal(phone: DeviceAgent, email: str, bl_token: str | None = None) -> dict[str, object]:
    with pytest.raises(ProtocolError) as refused:
        phone.request_unlock(phone.sign_in(email, PASSWORD), bl_token or phone.bootloader.token())
    assert refused.value.status == 403
    assert refused.value.type == "unlock-not-permitted"
    return refused.value.problem


def payload(token: str) -> dict[str, object]:
    return dict(json.loads(b64u_decode(token.split(".")[1])))


def test_wait_then_grant_then_quota(any_server: ServerProcess, tmp_path: Path) -> None:
    server = any_server
    phone = owned(server, tmp_path, "BL-1", "owner@example.com")
    bound_at = phone.last_record()["payload"]["iat"]  # type: ignore[index]

    problem = refusal(phone, "owner@example.com")
    assert "168 hours" in str(problem["detail"])
    assert abs(int(problem["retry_after"]) - (bound_at + 168 * HOUR)) <= 5  # type: ignore[call-overload]

    server.advance_clock(168 * HOUR + 60)
    grant = phone.request_unlock(phone.sign_in("owner@example.com", PASSWORD),
                                 phone.bootloader.token())
    claims = payload(grant)
    assert claims["sub"] == "BL-1" and int(claims["exp"]) - int(claims["iat"]) == 14 * DAY  # type: ignore[call-overload]
    phone.bootloader.unlock(grant)
    assert phone.bootloader.state == "unlocked"
    with pytest.raises(RecordRejected, match="pending"):
        phone.bootloader.unlock(grant)  # replayed: no pending token matches it any more

    phone.checkin()  # the device reports its bootloader state
    token = phone.sign_in("owner@example.com", PASSWORD)
    devices = httpx.get(f"{server.url}/v1/me/devices",
                        headers={"Authorization": f"Bearer {token}"}).json()["devices"]
    assert devices[0]["unlock"]["bootloader"] == "unlocked"

    second = owned(server, tmp_path, "BL-2", "owner@example.com")
    server.advance_clock(168 * HOUR + 60)
    problem = refusal(second, "owner@example.com")
    assert "quota" in str(problem["detail"])
    assert abs(int(problem["retry_after"]) - (int(claims["iat"]) + 365 * DAY)) <= 5  # type: ignore[call-overload]
    token = second.sign_in("owner@example.com", PASSWORD)
    listed = {d["device_id"]: d["unlock"] for d in httpx.get(
        f"{server.url}/v1/me/devices", headers={"Authorization": f"Bearer {token}"}
    ).json()["devices"]}
    assert listed["BL-2"]["quota_left"] == 0 and listed["BL-1"]["quota_left"] == 1
    assert "OK" in server.cli("audit", "verify").stdout


def test_only_the_bound_owner_with_the_devices_own_token(server: ServerProcess,
                                                         tmp_path: Path) -> None:
    phone = owned(server, tmp_path, "BL-3", "alice@example.com")
    other = provision(server, tmp_path, "BL-4")
    register(server, "mallory@example.com")
    server.advance_clock(200 * HOUR)

    assert "not bound to your account" in str(refusal(phone, "mallory@example.com")["detail"])

    forged = sign_compact({"kid": "BL-3", "typ": "tenure-bl-token+jwt"},
                          {"sub": "BL-3", "nonce": "A" * 22,
                           "iat": payload(phone.bootloader.token())["iat"]}, other.key)
    assert "not signed by device" in str(refusal(phone, "alice@example.com", forged)["detail"])

    token = phone.sign_in("alice@example.com", PASSWORD)
    garbage = httpx.post(f"{server.url}/v1/unlocks", json={"bootloader_token": "not a token"},
                         headers={"Authorization": f"Bearer {token}"})
    assert garbage.status_code == 400
    assert garbage.json()["type"] == "urn:tenure:problem:malformed"


def test_sign_in_must_be_recent(server: ServerProcess, tmp_path: Path) -> None:
    phone = owned(server, tmp_path, "BL-5", "bob@example.com")
    token = phone.sign_in("bob@example.com", PASSWORD)
    server.advance_clock(200 * HOUR)
    with pytest.raises(ProtocolError) as refused:
        phone.request_unlock(token, phone.bootloader.token())
    assert refused.value.status == 401 and refused.value.type == "reauthentication-required"


def test_refused_while_lost_then_granted_when_found(server: ServerProcess,
                                                    tmp_path: Path) -> None:
    phone = owned(server, tmp_path, "BL-6", "carol@example.com")
    server.advance_clock(200 * HOUR)
    headers = {"Authorization": f"Bearer {phone.sign_in('carol@example.com', PASSWORD)}"}
    lost = httpx.post(f"{server.url}/v1/me/devices/BL-6/lost", headers=headers,
                      json={"message": "Lost in Lisbon, reward", "contact": "+351 555 0101"})
    assert lost.status_code == 204
    locked = phone.checkin()
    assert [lk["kind"] for lk in locked["locks"]] == ["lost"]
    assert "Lost in Lisbon" in phone.lock_screen()
    assert "reported lost" in str(refusal(phone, "carol@example.com")["detail"])

    assert httpx.delete(f"{server.url}/v1/me/devices/BL-6/lost",
                        headers=headers).status_code == 204
    grant = phone.request_unlock(phone.sign_in("carol@example.com", PASSWORD),
                                 phone.bootloader.token())
    phone.bootloader.unlock(grant)
    assert phone.bootloader.state == "unlocked"


def test_refused_while_territory_locked(territory_server: ServerProcess,
                                       tmp_path: Path) -> None:
    server = territory_server
    apply(server, tmp_path, SANCTIONS, "sanctions")
    phone = owned(server, tmp_path, "BL-7", "dan@example.com")  # activated here (no evidence)
    at(phone, IRAN)
    phone.checkin({"sim_mcc": [SIM_IR]})
    server.advance_clock(100 * HOUR)
    phone.checkin({"sim_mcc": [SIM_IR]})  # notice
    server.advance_clock(25 * HOUR)
    assert phone.checkin({"sim_mcc": [SIM_IR]})["status"] == "locked"
    assert "territory policy" in str(refusal(phone, "dan@example.com")["detail"])


def test_simulator_rejects_expired_and_superseded_grants(server: ServerProcess,
                                                         tmp_path: Path) -> None:
    phone = owned(server, tmp_path, "BL-8", "erin@example.com")
    server.advance_clock(200 * HOUR)
    grant = phone.request_unlock(phone.sign_in("erin@example.com", PASSWORD),
                                 phone.bootloader.token())
    with pytest.raises(RecordRejected, match="expired"):
        phone.bootloader.unlock(grant, now=int(payload(grant)["exp"]) + 1)  # type: ignore[call-overload]
    phone.bootloader.token()  # the bootloader restarted: a new pending nonce
    with pytest.raises(RecordRejected, match="pending"):
        phone.bootloader.unlock(grant)
    assert phone.bootloader.state == "locked"

    fresh = phone.request_unlock(phone.sign_in("erin@example.com", PASSWORD),
                                 phone.bootloader.token())
    phone.bootloader.unlock(fresh)  # the same device again: no extra quota used
    assert phone.bootloader.state == "unlocked"


def test_cli_unlock_flow(server: ServerProcess, tmp_path: Path) -> None:
    state = str(tmp_path / "BL-9")
    row = server.cli("device", "--state", state, "init", "--server", server.url, "--id", "BL-9")
    (tmp_path / "bl9.csv").write_text(row.stdout)
    server.cli("provision", "import", str(tmp_path / "bl9.csv"))
    server.cli("device", "--state", state, "activate")
    register(server, "fay@example.com")
    server.cli("device", "--state", state, "bind", "--email", "fay@example.com",
               "--password", PASSWORD)
    bound_at = time.time()
    early = server.cli("device", "--state", state, "unlock", "--email", "fay@example.com",
                       "--password", PASSWORD, check=False)
    assert early.returncode == 1 and "168 hours" in early.stderr
    # The refusal says when it will be allowed (the problem's retry_after), in UTC.
    when = re.search(r"allowed from (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", early.stderr)
    assert when, early.stderr
    allowed = datetime.strptime(when.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(allowed.timestamp() - (bound_at + 168 * HOUR)) < 120
    server.advance_clock(169 * HOUR)
    done = server.cli("device", "--state", state, "unlock", "--email", "fay@example.com",
                      "--password", PASSWORD)
    assert "bootloader unlocked" in done.stdout
    assert "Bootloader: unlocked" in server.cli("device", "--state", state, "status").stdout
