"""The machine-readable contract: an OpenAPI 3.1 document of every route the server has.

Written once, by hand, next to the routers (not derived from them) so that it states
what the wire answers — request bodies, responses, and for each status the exact
problem `type`s an endpoint may give — rather than what a framework can infer.
`tests/unit/test_openapi.py` keeps it from drifting: the set of (method, path) here
must equal the app's routes, and the document must validate as OpenAPI 3.1.
The schemas follow docs/protocol.md; members a client may ignore are left open
(`additionalProperties` allowed) because the protocol lets the server add them.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from .openapi_creditor import CREDITOR_PATHS
from .openapi_paths import PATHS as BASE_PATHS
from .openapi_redress import REDRESS_PATHS

_PARTS = (BASE_PATHS, REDRESS_PATHS, CREDITOR_PATHS)
PATHS = {path: {method: op for part in _PARTS for method, op in part.get(path, {}).items()}
         for part in _PARTS for path in part}

PROBLEM_MEDIA = "application/problem+json"
PROBLEM_PREFIX = "urn:tenure:problem:"

# Problems any route can give before its own code runs: an unknown path or a method the
# path does not take (Starlette's 404/405, answered as problems by app.py).
ROUTING_PROBLEMS = {"404": ["not-found"], "405": ["method-not-allowed"]}

COMPONENTS: dict[str, Any] = {
    "securitySchemes": {
        "accountToken": {"type": "http", "scheme": "bearer",
                         "description": "A session token from POST /v1/sessions."},
        "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "tnr_...",
                   "description": "An API key (`tenure apikey create`) of the role each "
                                  "operation names: an operator's, or a tenant's "
                                  "(`--role organization --tenant ID`)."},
    },
    "schemas": {
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem document. Extension members (e.g. "
                           "`retry_after`, `problems`) may be present.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string", "pattern": "^urn:tenure:problem:[a-z-]+$"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
            },
        },
        "JWS": {
            "type": "object",
            "description": "Flattened JWS JSON serialization (RFC 7515 §7.2.2) signed by "
                           "the device key; the protected header holds alg, kid, nonce, url.",
            "required": ["protected", "payload", "signature"],
            "properties": {
                "protected": {"type": "string", "description": "b64u(header JSON)"},
                "payload": {"type": "string", "description": "b64u(payload JSON)"},
                "signature": {"type": "string", "description": "b64u(signature)"},
            },
        },
        "Record": {
            "type": "object", "required": ["record"],
            "properties": {"record": {
                "type": "string",
                "description": "Compact JWS, typ tenure-record+jwt, signed by the server "
                               "key ring; payload as in docs/protocol.md (Records)."}},
        },
        "Jwks": {
            "type": "object", "required": ["keys"],
            "properties": {"keys": {"type": "array", "items": {
                "type": "object", "required": ["kty", "crv", "x", "kid", "alg", "use"],
                "properties": {
                    "kty": {"enum": ["OKP", "EC"]}, "crv": {"enum": ["Ed25519", "P-256"]},
                    "x": {"type": "string"}, "y": {"type": "string"},
                    "kid": {"type": "string"}, "alg": {"enum": ["Ed25519", "ES256"]},
                    "use": {"const": "sig"}}}}},
        },
        "Claim": {
            "type": "object", "required": ["kind", "since"],
            "properties": {
                "kind": {"enum": ["owner", "lost", "organization", "creditor", "territory"]},
                "since": {"type": "integer"}, "message": {"type": "string"}},
        },
        "OwnedDevice": {
            "type": "object", "required": ["device_id", "model", "claims", "last_checkin"],
            "properties": {
                "device_id": {"type": "string"}, "model": {"type": "string"},
                "claims": {"type": "array", "items": {"$ref": "#/components/schemas/Claim"}},
                "last_checkin": {"type": ["integer", "null"]},
                "commands": {
                    "type": "array",
                    "description": "The account's ring and wipe commands to the device: "
                                   "every pending one and the others of the last 30 days.",
                    "items": {
                        "type": "object",
                        "required": ["command_id", "type", "state", "created_at",
                                     "acknowledged_at"],
                        "properties": {
                            "command_id": {"type": "string"},
                            "type": {"type": "string", "enum": ["ring", "wipe"]},
                            "state": {"type": "string",
                                      "enum": ["pending", "acknowledged", "cancelled"]},
                            "created_at": {"type": "integer"},
                            "acknowledged_at": {"type": ["integer", "null"]}}}},
                "unlock": {
                    "type": "object",
                    "description": "When a bootloader unlock becomes possible and what "
                                   "blocks it.",
                    "properties": {
                        "eligible_from": {"type": "integer"},
                        "quota_left": {"type": "integer"},
                        "quota_frees_at": {"type": ["integer", "null"]},
                        "blocked_by": {"type": "array", "items": {"type": "string"}},
                        "bootloader": {"type": "string"}}},
            },
        },
        "ImportReport": {
            "type": "object",
            "required": ["rows", "imported", "unchanged", "invalid", "committed", "errors",
                         "errors_truncated"],
            "properties": {
                "rows": {"type": "integer"}, "imported": {"type": "integer"},
                "unchanged": {"type": "integer"}, "invalid": {"type": "integer"},
                "committed": {"type": "boolean"},
                "errors": {"type": "array", "items": {
                    "type": "object", "required": ["line", "problem"],
                    "properties": {"line": {"type": "integer"},
                                   "problem": {"type": "string"}}}},
                "errors_truncated": {"type": "boolean"}},
        },
        "PolicyImpact": {
            "type": "object", "required": ["from_version", "rows", "totals"],
            "properties": {
                "from_version": {"type": "integer"},
                "rows": {"type": "array", "items": {"type": "object"}},
                "totals": {"type": "object"}},
        },
    },
}


def _problem_response(status: str, codes: list[str]) -> dict[str, Any]:
    """A problem response whose `type` is one of `codes` (and `status` the status)."""
    return {
        "description": ", ".join(codes),
        "content": {PROBLEM_MEDIA: {"schema": {"allOf": [
            {"$ref": "#/components/schemas/Problem"},
            {"properties": {"type": {"enum": [PROBLEM_PREFIX + c for c in codes]},
                            "status": {"const": int(status)}}},
        ]}}},
    }


def _expand(operation: dict[str, Any]) -> dict[str, Any]:
    """Turn the compact `problems` table of an operation into OpenAPI responses."""
    op = copy.deepcopy(operation)
    problems: dict[str, list[str]] = {**ROUTING_PROBLEMS, **op.pop("problems", {})}
    for status, codes in problems.items():
        if status in op["responses"]:
            raise ValueError(f"{op['operationId']}: {status} is both a success and a problem")
        op["responses"][status] = _problem_response(status, codes)
        if status in ("429", "503"):
            op["responses"][status]["headers"] = {"Retry-After": {
                "description": "Seconds to wait.", "schema": {"type": "string"}}}
    op["x-problem-types"] = {status: [PROBLEM_PREFIX + c for c in codes]
                             for status, codes in sorted(problems.items())}
    return op


@functools.cache
def _document() -> dict[str, Any]:
    paths = {path: {method: _expand(op) for method, op in methods.items()}
             for path, methods in PATHS.items()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tenure",
            "version": "1",
            "summary": "Activation-lock service: device protocol, owner accounts, admin.",
            "description": "Every error is an RFC 9457 problem document "
                           "(application/problem+json) whose `type` is "
                           "`urn:tenure:problem:<name>`; each response below lists the "
                           "types it can carry. The prose contract is docs/protocol.md.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": paths,
        "components": COMPONENTS,
    }


def document() -> dict[str, Any]:
    """A fresh copy of the document (callers may not change the shared one)."""
    return copy.deepcopy(_document())


def operations() -> set[tuple[str, str]]:
    """(METHOD, path) of every documented operation."""
    return {(m.upper(), p) for p, methods in PATHS.items() for m in methods}
