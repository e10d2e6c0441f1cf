"""The owner's remote actions end to end (PROTOCOL.md Part 2): a real `tenure serve`, the
owner over HTTP, and the reference agent driven by `tenure device` as a person would.

A lost device the owner has wiped erases its user data at its check-in (the agent keeps
its identity), and when it is set up again it still shows the owner's message and
contact — a wipe releases no claim. A ring is carried out and acknowledged, and the
owner's list says so.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from .conftest import ServerProcess
from .test_activation_lock import PASSWORD, register

pytestmark = pytest.mark.e2e
MESSAGE = "Lost on the 7:40 train. Reward if found!"
CONTACT = "+44 20 7946 0958"


def device(server: ServerProcess, state: Path, *args: str, check: bool = True) -> str:
    result = server.cli("device", "--state", str(state), *args, check=check)
    return result.stdout


def owned_by_cli(server: ServerProcess, tmp_path: Path, name: str, email: str) -> Path:
    """A device made, imported, activated and bound with `tenure device`."""
    state = tmp_path / name
    row = server.cli("device", "--state", str(state), "init", "--server", server.url,
                     "--id", name)
    (tmp_path / f"{name}.csv").write_text(row.stdout)
    server.cli("provision", "import", str(tmp_path / f"{name}.csv"))
    assert "ACTIVATED" in device(server, state, "activate")
    register(server, email)
    device(server, state, "bind", "--email", email, "--password", PASSWORD)
    return state


def sign_in(server: ServerProcess, email: str) -> dict[str, str]:
    answer = httpx.post(f"{server.url}/v1/sessions", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def commands_of(server: ServerProcess, email: str, device_id: str) -> list[dict[str, object]]:
    listed = httpx.get(f"{server.url}/v1/me/devices", headers=sign_in(server, email))
    assert listed.status_code == 200, listed.text
    (found,) = [d for d in listed.json()["devices"] if d["device_id"] == device_id]
    return list(found["commands"])


def test_a_wiped_lost_device_set_up_again_still_shows_the_owners_message(
        any_server: ServerProcess, tmp_path: Path) -> None:
    server = any_server
    state = owned_by_cli(server, tmp_path, "WIPE-1", "wren@example.com")
    assert (state / "userdata" / "session.json").exists()  # the owner is signed in on it

    owner = sign_in(server, "wren@example.com")
    lost = httpx.post(f"{server.url}/v1/me/devices/WIPE-1/lost",
                      json={"message": MESSAGE, "contact": CONTACT}, headers=owner)
    assert lost.status_code == 204, lost.text
    wipe = httpx.post(f"{server.url}/v1/me/devices/WIPE-1/commands", json={"type": "wipe"},
                      headers=owner)
    assert wipe.status_code == 202, wipe.text
    command_id = wipe.json()["command_id"]

    checked_in = device(server, state, "checkin")
    assert "Wiped: WIPE-1" in checked_in
    assert not (state / "userdata").exists() or not any((state / "userdata").iterdir())
    assert (state / "persistent" / "identity.json").exists()  # the identity survives
    assert "Factory reset: activation needed" in checked_in
    assert f"[lost] {MESSAGE}" in checked_in and f"Contact: {CONTACT}" in checked_in
    (listed,) = commands_of(server, "wren@example.com", "WIPE-1")
    assert (listed["command_id"], listed["type"], listed["state"]) == (
        command_id, "wipe", "acknowledged")
    assert isinstance(listed["acknowledged_at"], int)
    assert listed["acknowledged_at"] >= listed["created_at"]  # type: ignore[operator]

    activation = server.cli("device", "--state", str(state), "activate", check=False)
    assert activation.returncode == 4, activation.stderr
    screen = activation.stdout
    assert "Status: LOCKED (reported lost; activation lock of the owner's account)" in screen
    assert screen.index(f"[lost] {MESSAGE}") < screen.index("[owner]")
    assert f"Contact: {CONTACT}" in screen and "Account: w***@e***.com" in screen
    assert screen == device(server, state, "status")  # the stored record says the same

    # The owner's own password does not lift lost mode at activation, nor may the device
    # be removed while lost: 409 device-held.
    again = server.cli("device", "--state", str(state), "activate", "--email",
                       "wren@example.com", "--password", PASSWORD, check=False)
    assert again.returncode == 4 and f"[lost] {MESSAGE}" in again.stdout
    assert "[owner]" not in again.stdout
    held = httpx.delete(f"{server.url}/v1/me/devices/WIPE-1", headers=owner)
    assert held.status_code == 409 and held.json()["type"].endswith(":device-held")

    subjects = [m["subject"] for m in server.mail("wren@example.com")]
    assert "Your device is in lost mode" in subjects
    assert "Your device will be wiped" in subjects


def test_a_ring_is_carried_out_and_acknowledged(any_server: ServerProcess,
                                                tmp_path: Path) -> None:
    server = any_server
    state = owned_by_cli(server, tmp_path, "RING-1", "rory@example.com")
    owner = sign_in(server, "rory@example.com")
    ring = httpx.post(f"{server.url}/v1/me/devices/RING-1/commands", json={"type": "ring"},
                      headers=owner)
    assert ring.status_code == 202, ring.text
    assert [c["state"] for c in commands_of(server, "rory@example.com", "RING-1")] == [
        "pending"]

    checked_in = device(server, state, "status", "--refresh")
    assert "Ringing: RING-1" in checked_in and "Status: ACTIVATED" in checked_in
    (listed,) = commands_of(server, "rory@example.com", "RING-1")
    assert (listed["command_id"], listed["type"], listed["state"]) == (
        ring.json()["command_id"], "ring", "acknowledged")
    assert (state / "userdata" / "session.json").exists()  # a ring erases nothing
    assert "Ringing" not in device(server, state, "checkin")  # carried out once
    assert "Your device will ring" in [m["subject"] for m in server.mail("rory@example.com")]
