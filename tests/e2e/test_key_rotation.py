"""`tenure keys rotate` reaches a running server without a restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tenure.crypto.b64 import b64u_decode

from .conftest import ServerProcess
from .test_activation_lock import provision


def published(server: ServerProcess) -> set[str]:
    return {k["kid"] for k in httpx.get(f"{server.url}/v1/keys").json()["keys"]}


def test_running_server_signs_with_a_rotated_key(server: ServerProcess, tmp_path: Path) -> None:
    before = published(server)
    rotated = server.cli("keys", "rotate")
    new_kid = rotated.stdout.split()[3].rstrip(";")
    assert new_kid not in before
    deadline = time.monotonic() + 15
    while new_kid not in published(server):
        assert time.monotonic() < deadline, "the server still publishes the old ring"
        time.sleep(0.5)
    assert published(server) == before | {new_kid}

    # A device made now pins the new ring, and its records are signed by the new key.
    phone = provision(server, tmp_path, "ROT-1")
    assert phone.activate()["status"] == "activated"
    record = json.loads(phone.persistent.read("record.json") or b"{}")["record"]
    header = json.loads(b64u_decode(record.split(".")[0]))
    assert header["kid"] == new_kid

    server.cli("keys", "retire", sorted(before)[0])
    deadline = time.monotonic() + 15
    while published(server) != {new_kid}:
        assert time.monotonic() < deadline, "the retired key is still published"
        time.sleep(0.5)
