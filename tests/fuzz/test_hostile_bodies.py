"""Bodies a generator rarely makes but an attacker sends first, to every operation that
takes a body, with the audience's credential: nesting thousands deep, integers past
Python's 4300-digit limit, unpaired surrogates, NUL — raw and inside a JWS for device
endpoints. Each must get a documented problem (never a 5xx) and change nothing.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tenure.http.openapi import document

from .conftest import FuzzTarget
from .test_fuzz_api import audience

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz]

FIELDS = ("email", "password", "token", "new_password", "message", "contact",
          "bootloader_token", "account_token", "version", "reason")
JSON_BODIES: dict[str, bytes] = {
    "deep-array": b"[" * 5000 + b"]" * 5000,
    "deep-object": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "deep-member": b'{"email": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "huge-integer": json.dumps({f: 0 for f in FIELDS}).replace("0", "1" * 5000).encode(),
    "lone-surrogate": json.dumps({f: "\ud800 aaaaaaaaaaaa@example.com" for f in FIELDS}
                                 ).encode(),
    "nul": json.dumps({f: "a\u0000aaaaaaaaaaaa@example.com" for f in FIELDS}).encode(),
}
TEXT_BODIES: dict[str, bytes] = {
    "deep-array": b"x = " + b"[" * 5000 + b"]" * 5000,
    "huge-integer": b"x = " + b"1" * 5000,
    "lone-surrogate": "x = '\ud800'".encode("utf-8", "surrogatepass"),
    "nul": b"x = 'a\x00b'\ndevice_id,imei\n\x00,\x00\n",
    "not-utf8": b"\xff\xfe\xfd",
}


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jws(payload: bytes) -> bytes:
    header = json.dumps({"alg": "Ed25519", "kid": "FUZZ-1", "nonce": "x", "url": "/"})
    return json.dumps({"protected": _b64u(header.encode()), "payload": _b64u(payload),
                       "signature": _b64u(b"\0" * 64)}).encode()


def _probes(text: bool) -> list[tuple[str, str, str, str, bytes]]:
    """(method, path, media type, probe name, body) for each body-taking operation."""
    out = []
    for path, methods in document()["paths"].items():
        for method, op in methods.items():
            for media in op.get("requestBody", {}).get("content", {}):
                is_json = "json" in media and media != "application/jsonl"
                if text == is_json:
                    continue
                bodies = TEXT_BODIES if text else JSON_BODIES
                for name, body in bodies.items():
                    out.append((method, path, media, name, body))
                    if media == "application/jose+json":
                        out.append((method, path, media, f"jws-{name}", _jws(body)))
    return out


def _send_all(target: FuzzTarget, probes: list[tuple[str, str, str, str, bytes]]) -> str:
    """Send every probe; return one line per answer the contract does not allow."""
    doc, findings = document(), []
    for method, path, media, name, body in probes:
        concrete = path.replace("{device_id}", "FUZZ-1")
        token = target.credentials.get(audience(path) or "")
        headers = {"Content-Type": media, **({"Authorization": f"Bearer {token}"}
                                             if token else {})}
        query = {"reason": "fuzz"} if path == "/v1/admin/policy" else {}
        before = target.fingerprint()
        answer = httpx.request(method.upper(), target.url + concrete, content=body,
                               headers=headers, params=query, timeout=60)
        allowed: dict[str, Any] = doc["paths"][path][method]["x-problem-types"]
        problem_type = (answer.json().get("type") if answer.headers.get("content-type")
                        == "application/problem+json" else None)
        where = f"{method.upper()} {path} [{name}]"
        if answer.status_code >= 500 or problem_type not in allowed.get(
                str(answer.status_code), []):
            findings.append(f"{where}: {answer.status_code} {problem_type}")
        elif target.fingerprint() != before:
            findings.append(f"{where}: {answer.status_code} changed the database")
    return "\n".join(findings)


def test_hostile_text_bodies_are_documented_problems(fuzz_target: FuzzTarget) -> None:
    """Policy TOML and import files (admin.py / services/policy.py)."""
    findings = _send_all(fuzz_target, _probes(text=True))
    assert not findings, findings


def test_hostile_json_bodies_are_documented_problems(fuzz_target: FuzzTarget) -> None:
    findings = _send_all(fuzz_target, _probes(text=False))
    assert not findings, findings
