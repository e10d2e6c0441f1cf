"""The activation lock end to end: real server processes, driven by the reference agent."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from tenure.agent import DeviceAgent, RecordRejected
from tenure.agent.device import ProtocolError
from tenure.clock import OffsetFileClock

from .conftest import ServerProcess
from .proxy import flip_record_status, proxy

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery"


def provision(server: ServerProcess, tmp_path: Path, name: str, **kwargs: object) -> DeviceAgent:
    """A device made at the 'factory' and imported with `tenure provision import`."""
    agent = DeviceAgent.init(tmp_path / name, server.url, device_id=name,
                             clock=OffsetFileClock(server.clock_file), **kwargs)  # type: ignore[arg-type]
    row = agent.provisioning_row()
    csv_path = tmp_path / f"{name}.csv"
    csv_path.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n")
    server.cli("provision", "import", str(csv_path))
    return agent


def register(server: ServerProcess, email: str) -> None:
    answer = httpx.post(f"{server.url}/v1/accounts", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text


def test_lifecycle_bind_reset_unlock_release(any_server: ServerProcess, tmp_path: Path) -> None:
    server = any_server
    phone = provision(server, tmp_path, "PHONE-1")
    assert phone.activate()["status"] == "activated"

    register(server, "alice@example.com")
    register(server, "mallory@example.net")
    alice = phone.sign_in("alice@example.com", PASSWORD)
    bound = phone.bind(alice)
    assert bound["owner"] == {"hint": "a***@e***.com"}

    phone.factory_reset()
    assert phone.session_token() is None  # user data is gone, the persistent block is not
    locked = phone.activate()
    assert locked["status"] == "locked"
    assert [lock["kind"] for lock in locked["locks"]] == ["owner"]
    assert locked["locks"][0]["hint"] == "a***@e***.com"
    assert "alice" not in json.dumps(locked)
    assert "LOCKED" in phone.lock_screen() and "a***@e***.com" in phone.lock_screen()

    mallory = phone.sign_in("mallory@example.net", PASSWORD)
    assert phone.activate(mallory)["status"] == "locked"

    alice = phone.sign_in("alice@example.com", PASSWORD)
    assert phone.activate(alice)["status"] == "activated"
    assert phone.unbind(alice)["owner"] is None

    phone.factory_reset()
    free = phone.activate()
    assert free["status"] == "activated" and free["locks"] == []

    subjects = [m["subject"] for m in server.mail("alice@example.com")]
    assert any("linked to your account" in s for s in subjects)
    assert any("removed from your account" in s for s in subjects)

    assert "OK" in server.cli("audit", "verify").stdout


def test_password_reset_cooldown_then_accepted(server: ServerProcess, tmp_path: Path) -> None:
    phone = provision(server, tmp_path, "PHONE-2", key_type="P-256")
    phone.activate()
    register(server, "owner@example.org")
    phone.bind(phone.sign_in("owner@example.org", PASSWORD))
    phone.factory_reset()

    assert httpx.post(f"{server.url}/v1/password-resets",
                      json={"email": "owner@example.org"}).status_code == 202
    mail = next(m for m in server.mail("owner@example.org") if "Reset" in m["subject"])
    token = mail["body"].split("usable once):")[1].split()[0]
    new_password = "a brand new passphrase"
    confirmed = httpx.post(f"{server.url}/v1/password-resets/confirm",
                           json={"token": token, "new_password": new_password})
    assert confirmed.status_code == 204

    record = phone.activate(phone.sign_in("owner@example.org", new_password))
    assert record["status"] == "locked"
    (lock,) = record["locks"]
    assert lock["kind"] == "owner"
    assert abs(lock["until"] - (record["iat"] + 72 * 3600)) <= 5, lock  # reset ≈ iat
    assert any("changed" in m["subject"] for m in server.mail("owner@example.org"))

    server.advance_clock(72 * 3600 + 60)
    again = phone.activate(phone.sign_in("owner@example.org", new_password))
    assert again["status"] == "activated"


def test_replayed_request_gets_bad_nonce(server: ServerProcess, tmp_path: Path) -> None:
    phone = provision(server, tmp_path, "PHONE-3")
    nonce = httpx.head(f"{server.url}/v1/device/nonce").headers["Replay-Nonce"]
    from tenure.crypto.jws import sign_flattened

    body = json.dumps(sign_flattened(
        {"kid": "PHONE-3", "nonce": nonce, "url": "/v1/device/checkin"}, {"signals": {}},
        phone.key))
    headers = {"Content-Type": "application/jose+json"}
    first = httpx.post(f"{server.url}/v1/device/checkin", content=body, headers=headers)
    assert first.status_code == 200
    replay = httpx.post(f"{server.url}/v1/device/checkin", content=body, headers=headers)
    assert replay.status_code == 400
    assert replay.json()["type"] == "urn:tenure:problem:bad-nonce"
    assert replay.headers["Replay-Nonce"] != nonce


def test_nonce_from_one_process_is_used_once_on_another(server: ServerProcess,
                                                         tmp_path: Path) -> None:
    phone = provision(server, tmp_path, "PHONE-4")
    second = server.start()
    nonce = httpx.get(f"{server.url}/v1/device/nonce").headers["Replay-Nonce"]
    from tenure.crypto.jws import sign_flattened

    body = json.dumps(sign_flattened(
        {"kid": "PHONE-4", "nonce": nonce, "url": "/v1/device/activation"}, {}, phone.key))
    headers = {"Content-Type": "application/jose+json"}
    accepted = httpx.post(f"{second}/v1/device/activation", content=body, headers=headers)
    assert accepted.status_code == 200, accepted.text
    for url in (second, server.url):
        replay = httpx.post(f"{url}/v1/device/activation", content=body, headers=headers)
        assert replay.json()["type"] == "urn:tenure:problem:bad-nonce"


def test_agent_refuses_a_tampered_record(server: ServerProcess, tmp_path: Path) -> None:
    phone = provision(server, tmp_path, "PHONE-5")
    phone.activate()
    register(server, "carol@example.com")
    phone.bind(phone.sign_in("carol@example.com", PASSWORD))
    phone.factory_reset()
    assert phone.activate()["status"] == "locked"
    before = phone.last_record()

    with proxy(server.url, flip_record_status) as forged_url:
        tampered = phone.through(httpx.Client(base_url=forged_url))
        with pytest.raises(RecordRejected, match="signature"):
            tampered.activate()
    assert phone.last_record() == before  # the previous state stands
    assert "LOCKED" in phone.lock_screen()


def test_agent_refuses_a_replayed_answer(server: ServerProcess, tmp_path: Path) -> None:
    """An old, validly signed record served again must not be taken as the new answer."""
    phone = provision(server, tmp_path, "PHONE-6")
    phone.activate()
    old = json.dumps({"record": phone.last_record()["record"]}).encode()  # type: ignore[index]
    with proxy(server.url, lambda path, body: old) as replaying:
        agent = phone.through(httpx.Client(base_url=replaying))
        with pytest.raises(RecordRejected, match="nonce"):
            agent.checkin()


def test_cli_device_commands_and_exit_statuses(server: ServerProcess, tmp_path: Path) -> None:
    """`tenure device` as a script uses it: a locked activation exits 4 (distinct from a
    refusal, 1), an activated one 0; refusals are one line. (tests/e2e/test_readme.py
    runs the README's walkthrough itself.)"""
    state = str(tmp_path / "cli-phone")
    row = server.cli("device", "--state", state, "init", "--server", server.url, "--id", "CLI-1")
    (tmp_path / "cli.csv").write_text(row.stdout)
    imported = server.cli("provision", "import", str(tmp_path / "cli.csv"))
    assert "imported 1 devices" in imported.stdout
    assert "ACTIVATED" in server.cli("device", "--state", state, "activate").stdout
    register(server, "dana@example.com")
    bound = server.cli("device", "--state", state, "bind", "--email", "dana@example.com",
                       "--password", PASSWORD)
    assert "Owner: d***@e***.com" in bound.stdout
    server.cli("device", "--state", state, "factory-reset")
    locked = server.cli("device", "--state", state, "activate", check=False)
    assert locked.returncode == 4, locked.stderr
    assert "LOCKED" in locked.stdout and "d***@e***.com" in locked.stdout
    assert "LOCKED" in server.cli("device", "--state", state, "status").stdout
    freed = server.cli("device", "--state", state, "activate", "--email", "dana@example.com",
                       "--password", PASSWORD)
    assert "ACTIVATED" in freed.stdout
    server.cli("device", "--state", state, "unbind")
    refused = server.cli("device", "--state", state, "bind", "--email", "dana@example.com",
                         "--password", "wrong password!!", check=False)
    assert refused.returncode == 1 and "invalid-credentials" in refused.stderr
    assert refused.stderr.count("\n") == 1  # one readable line, no traceback


def test_audit_verify_detects_an_edited_row(server: ServerProcess, tmp_path: Path) -> None:
    phone = provision(server, tmp_path, "PHONE-7")
    phone.activate()
    register(server, "erin@example.com")
    phone.bind(phone.sign_in("erin@example.com", PASSWORD))
    assert server.cli("audit", "verify").returncode == 0
    with sqlite3.connect(server.data_dir / "tenure.db") as db:
        db.execute("UPDATE audit_events SET actor = 'someone-else' "
                   "WHERE stream = 'device:PHONE-7' AND seq = 2")
    broken = server.cli("audit", "verify", check=False)
    assert broken.returncode == 2
    assert "device:PHONE-7" in broken.stderr and "event 2" in broken.stderr


def test_unknown_device_and_errors_are_problems(server: ServerProcess, tmp_path: Path) -> None:
    ghost = DeviceAgent.init(tmp_path / "ghost", server.url, device_id="NOT-PROVISIONED")
    with pytest.raises(ProtocolError) as refused:
        ghost.activate()
    assert refused.value.status == 401 and refused.value.type == "unknown-device"
