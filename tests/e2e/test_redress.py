"""A sale without a reset, end to end against a real `tenure serve` (SQLite and
PostgreSQL): the buyer checks the device with `tenure status`, the seller transfers it,
the buyer accepts with the mailed code, resets the device and sets it up as theirs.
Then someone writes to the new holder through the relay, and an operator sees it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from .conftest import ServerProcess
from .test_activation_lock import PASSWORD, provision, register

pytestmark = pytest.mark.e2e


def sign_in(server: ServerProcess, email: str) -> str:
    answer = httpx.post(f"{server.url}/v1/sessions", json={"email": email,
                                                           "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def line_after(server: ServerProcess, to: str, label: str) -> str:
    for mail in reversed(server.mail(to)):
        found = re.search(rf"^{label}:\n(\S+)$", mail["body"], re.MULTILINE)
        if found:
            return found.group(1)
    raise AssertionError(f"no {label} mailed to {to}")


def test_a_buyer_checks_accepts_resets_and_activates(any_server: ServerProcess,
                                                     tmp_path: Path) -> None:
    server = any_server
    phone = provision(server, tmp_path, "PHONE-SOLD")
    assert phone.activate()["status"] == "activated"
    register(server, "seller@example.com")
    phone.bind(phone.sign_in("seller@example.com", PASSWORD))

    checked = server.cli("status", phone.identity.imeis[0], "--server", server.url)
    assert "activation lock: ON" in checked.stdout and "seller" not in checked.stdout

    seller = sign_in(server, "seller@example.com")
    started = httpx.post(f"{server.url}/v1/me/devices/PHONE-SOLD/transfers",
                         json={"to_email": "buyer@example.org"},
                         headers={"Authorization": f"Bearer {seller}"})
    assert started.status_code == 201, started.text
    register(server, "buyer@example.org")
    buyer = sign_in(server, "buyer@example.org")
    accepted = httpx.post(f"{server.url}/v1/transfers/{started.json()['transfer_id']}/accept",
                          json={"code": line_after(server, "buyer@example.org", "Code")},
                          headers={"Authorization": f"Bearer {buyer}"})
    assert accepted.status_code == 200, accepted.text
    assert phone.checkin()["owner"] == {"hint": "b***@e***.org"}

    phone.factory_reset()
    locked = phone.activate(seller)
    assert locked["status"] == "locked" and locked["locks"][0]["hint"] == "b***@e***.org"
    assert locked["locks"][0]["status_url"].endswith("/v1/public/status?device_id=PHONE-SOLD")
    assert "Check this device:" in phone.lock_screen()
    mine = phone.activate(phone.sign_in("buyer@example.org", PASSWORD))
    assert mine["status"] == "activated" and mine["owner"] == {"hint": "b***@e***.org"}

    wrote = httpx.post(f"{server.url}/v1/public/messages",
                       json={"device_id": "PHONE-SOLD", "from": "finder@example.net",
                             "message": "Is this phone still for sale?"})
    assert wrote.status_code == 202, wrote.text
    confirmed = httpx.post(f"{server.url}/v1/public/messages/confirm",
                           json={"token": line_after(server, "finder@example.net", "Token")})
    assert confirmed.status_code == 202
    relayed = server.mail("buyer@example.org")[-1]
    assert "Is this phone still for sale?" in relayed["body"]
    assert "finder@example.net" not in relayed["body"]
    senders = server.cli("relay", "senders")
    assert re.search(r"^finder@example\.net\t1\t1\t1\t0\t", senders.stdout, re.MULTILINE)
