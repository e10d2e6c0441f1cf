"""`tenure status IMEI|DEVICE_ID`: a buyer's check of a device before paying.

It asks the server for a signed statement with a fresh nonce of its own, verifies it
against the server's published keys (signature, `typ`, expiry, that it is about the
device asked and answers this very request), and prints what it says in plain words.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from typing import Any

import httpx

from tenure import protocol
from tenure.agent.device import ProtocolError
from tenure.agent.records import RecordRejected, pinned_keys, verify_token
from tenure.domain.provisioning import is_imei

NAMES = ("status",)
TIMEOUT = 10.0


def _get(client: httpx.Client, url: str, params: dict[str, str] | None = None) -> Any:
    response = client.get(url, params=params)
    if response.status_code != 200:
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        raise ProtocolError(response.status_code,
                            problem if isinstance(problem, dict) else {})
    return response.json()


def check(payload: dict[str, Any], asked: dict[str, str], nonce: str, issuer: str | None,
          now: float) -> None:
    """What the signature alone does not prove: that the statement is current, about
    the device asked, and made for this request."""
    if payload.get("nonce") != nonce:
        raise RecordRejected("the statement does not carry this request's nonce (a replay?)")
    exp = payload.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool) or exp <= now:
        raise RecordRejected("the statement has expired")
    for name, value in asked.items():
        key = "sub" if name == "device_id" else name
        if payload.get(key) != value:
            raise RecordRejected(f"the statement is about {key} {payload.get(key)!r}, "
                                 f"not {value!r}")
    if issuer is not None and payload.get("iss") != issuer:
        raise RecordRejected(f"issued by {payload.get('iss')!r}, not {issuer!r}")
    for name in ("activation_lock", "lost", "financed", "organization"):
        if not isinstance(payload.get(name), bool):
            raise RecordRejected(f"the statement has no yes/no '{name}'")
    if not isinstance(payload.get("territory_restrictions"), list):
        raise RecordRejected("the statement has no territory_restrictions list")


def describe(payload: dict[str, Any]) -> list[str]:
    def yes(value: bool, said: str, unsaid: str) -> str:
        return said if value else unsaid

    places = payload["territory_restrictions"]
    where = ", ".join("everywhere else" if p == "*" else p for p in places)
    return [
        f"device {payload['sub']} (IMEI {payload.get('imei') or 'none'}), "
        f"checked by {payload.get('iss')}",
        yes(payload["activation_lock"], "activation lock: ON - an owner holds this device",
            "activation lock: off"),
        yes(payload["lost"], "reported lost: YES", "reported lost: no"),
        yes(payload["financed"], "financed: YES - a creditor holds this device",
            "financed: no"),
        yes(payload["organization"], "managed by an organization: YES",
            "managed by an organization: no"),
        f"refused or locked in: {where}" if places else "refused or locked in: nowhere",
    ]


def cmd_status(args: argparse.Namespace) -> int:
    from tenure.config import load_agent_settings

    server = (args.server or load_agent_settings().server_url).rstrip("/")
    asked = ({"imei": args.target} if is_imei(args.target)
             else {"device_id": args.target})
    nonce = secrets.token_urlsafe(24)
    with httpx.Client(timeout=TIMEOUT) as client:
        keys = pinned_keys(_get(client, f"{server}/v1/keys").get("keys", []))
        body = _get(client, f"{server}/v1/public/status", {**asked, "nonce": nonce})
    try:
        payload = verify_token(str(body.get("statement")), protocol.STATUS_TYP, keys)
        check(payload, asked, nonce, args.issuer, time.time())
    except RecordRejected as exc:
        print(f"tenure: error: the statement does not verify: {exc}", file=sys.stderr)
        return 3
    for line in describe(payload):
        print(line)
    return 0


def register(commands: Any) -> None:
    p = commands.add_parser(
        "status", help="check a device's status before buying it",
        description="Ask a Tenure server for a signed statement about a device (by IMEI "
                    "or device id) with a fresh nonce, verify it against the server's "
                    "published keys, and print whether it is locked, lost, financed or "
                    "managed, and where its maker's policy refuses or locks it. Exits 3 "
                    "when the statement does not verify, 1 when the server refuses.")
    p.add_argument("target", metavar="IMEI|DEVICE_ID",
                   help="the device's IMEI (15 digits, as *#06# shows) or its device id")
    p.add_argument("--server", metavar="URL",
                   help="the Tenure server (default: TENURE_SERVER_URL or "
                        "http://127.0.0.1:8080)")
    p.add_argument("--issuer", metavar="NAME",
                   help="refuse a statement whose `iss` is not NAME (the server's "
                        "TENURE_ISSUER; default: shown, not checked)")
    p.set_defaults(handler=cmd_status, parser=p)
