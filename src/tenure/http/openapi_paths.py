"""The operations of the OpenAPI document (see openapi.py), one entry per route.

Each operation lists its successful responses under `responses` and, under `problems`,
the problem `type` names it can answer per status (404/405 for routing are added to
every one). Keep this in step with the routers and docs/protocol.md.
"""

from __future__ import annotations

from typing import Any

from .openapi_cases import CASE_PATHS
from .openapi_retailer import RETAILER_PATHS

JSON = "application/json"
SIGNED_PROBLEMS = {"400": ["malformed", "bad-nonce", "url-mismatch"],
                   "401": ["unknown-device", "bad-signature"], "413": ["too-large"],
                   "503": ["unavailable"]}
NONCE_HEADERS = {
    "Replay-Nonce": {"description": "A fresh nonce for the next signed request.",
                     "required": True, "schema": {"type": "string"}},
    "Cache-Control": {"schema": {"const": "no-store"}},
}
ACCOUNT: list[dict[str, list[str]]] = [{"accountToken": []}]
API_KEY: list[dict[str, list[str]]] = [{"apiKey": []}]
DEVICE_ID = {"name": "device_id", "in": "path", "required": True,
             "schema": {"type": "string"}}
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "Retrying with the same key and body replays the first "
                                  "answer instead of doing the work twice.",
                   "schema": {"type": "string", "minLength": 1, "maxLength": 128}}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


def _json(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def _ok(description: str, schema: dict[str, Any] | None = None, media: str = JSON,
        headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {media: {"schema": schema}}
    if headers:
        response["headers"] = headers
    return response


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _signed(op_id: str, summary: str, payload: str,
            extra: dict[str, list[str]] | None = None) -> dict[str, Any]:
    problems = {k: list(v) for k, v in SIGNED_PROBLEMS.items()}
    for status, codes in (extra or {}).items():
        problems.setdefault(status, []).extend(codes)
    return {
        "operationId": op_id, "tags": ["device"], "summary": summary,
        "description": f"Signed request (docs/protocol.md). Payload: {payload}. Every "
                       "answer, success or problem, carries a fresh Replay-Nonce.",
        "requestBody": {"required": True,
                        "content": {"application/jose+json": {"schema": _ref("JWS")}}},
        "responses": {"200": _ok("A signed record.", _ref("Record"), headers=NONCE_HEADERS)},
        "problems": problems,
    }


# What a client does next with a new account (OpenAPI links; stateful fuzzing follows them).
REGISTERED_LINKS = {
    "SignIn": {"operationId": "signIn", "requestBody": {
        "email": "$request.body#/email", "password": "$request.body#/password"}},
    "RequestPasswordReset": {"operationId": "requestPasswordReset",
                             "requestBody": {"email": "$request.body#/email"}},
}
EMAIL = {"type": "string", "format": "email"}
PASSWORD = {"type": "string", "minLength": 12, "maxLength": 128}
TOML = {"type": "string", "description": "A territory policy document (docs/policy.md)."}
POLICY_KEY = "API key with the role `policy`."

PATHS: dict[str, dict[str, dict[str, Any]]] = {
    # -- device (docs/protocol.md, signed) -------------------------------------------
    "/v1/device/nonce": {
        "get": {"operationId": "getNonce", "tags": ["device"], "summary": "A fresh nonce",
                "responses": {"200": _ok("Nonce in Replay-Nonce.", headers=NONCE_HEADERS)}},
        "head": {"operationId": "headNonce", "tags": ["device"], "summary": "A fresh nonce",
                 "responses": {"204": _ok("Nonce in Replay-Nonce.", headers=NONCE_HEADERS)}},
    },
    "/v1/device/activation": {"post": _signed(
        "activate", "Activate: apply claims and territory policy",
        '{"signals"?, "account_token"?, "bypass_code"?, "locale"?}',
        {"400": ["unknown-territory"], "429": ["too-many-attempts"]})},
    "/v1/device/bind": {"post": _signed(
        "bind", "Bind the device to an account (owner claim)", '{"account_token"}',
        {"401": ["unauthorized"], "409": ["already-bound", "not-activated"]})},
    "/v1/device/unbind": {"post": _signed(
        "unbind", "Release the owner claim from the device", '{"account_token"} (fresh)',
        {"401": ["reauthentication-required"], "403": ["credential-cooldown"],
         "409": ["device-held"]})},
    "/v1/device/checkin": {"post": _signed(
        "checkin", "Check in: status, pending commands", '{"signals"?, "acks"?, "locale"?}',
        {"400": ["unknown-territory"]})},
    # -- accounts --------------------------------------------------------------------
    "/v1/accounts": {"post": {
        "operationId": "register", "tags": ["account"], "summary": "Create an account",
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": _json(_obj({"email": EMAIL, "password": PASSWORD},
                                  ("email", "password"))),
        "responses": {"201": {**_ok("Created.", _obj(
            {"account_id": {"type": "string"}, "email": {"type": "string"}},
            ("account_id", "email"))), "links": REGISTERED_LINKS}},
        "problems": {"400": ["malformed"], "409": ["email-taken", "idempotency-key-in-use"],
                     "413": ["too-large"], "422": ["weak-password", "invalid-input"],
                     "429": ["rate-limited"], "503": ["overloaded"]},
    }},
    "/v1/sessions": {"post": {
        "operationId": "signIn", "tags": ["account"], "summary": "Sign in",
        "requestBody": _json(_obj({"email": EMAIL, "password": {"type": "string",
                                                                "minLength": 1},
                                   "totp": {"type": "string"}}, ("email", "password"))),
        "responses": {"201": _ok("A session.", _obj(
            {"token": {"type": "string"}, "expires_at": {"type": "integer"}},
            ("token", "expires_at")))},
        "problems": {"400": ["malformed"], "401": ["invalid-credentials", "totp-required"],
                     "413": ["too-large"], "422": ["invalid-input"],
                     "429": ["too-many-attempts"], "503": ["overloaded"]},
    }},
    "/v1/password-resets": {"post": {
        "operationId": "requestPasswordReset", "tags": ["account"],
        "summary": "Queue a reset token to be mailed (202 whether or not the account exists)",
        "requestBody": _json(_obj({"email": EMAIL}, ("email",))),
        "responses": {"202": _ok("Accepted, whether or not the account exists.")},
        "problems": {"400": ["malformed"], "413": ["too-large"], "422": ["invalid-input"],
                     "429": ["rate-limited"]},
    }},
    "/v1/password-resets/confirm": {"post": {
        "operationId": "confirmPasswordReset", "tags": ["account"],
        "summary": "Set a new password with the mailed token",
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": _json(_obj({"token": {"type": "string"}, "new_password": PASSWORD},
                                  ("token", "new_password"))),
        "responses": {"204": _ok("Changed; every session of the account ended.")},
        "problems": {"400": ["malformed", "invalid-token"],
                     "409": ["idempotency-key-in-use"], "413": ["too-large"],
                     "422": ["weak-password", "invalid-input"], "503": ["overloaded"]},
    }},
    "/v1/me/devices": {"get": {
        "operationId": "listMyDevices", "tags": ["account"], "security": ACCOUNT,
        "summary": "The devices the account holds an owner claim on",
        "responses": {"200": _ok("The devices.", _obj(
            {"devices": {"type": "array", "items": _ref("OwnedDevice")}}, ("devices",)))},
        "problems": {"401": ["unauthorized"]},
    }},
    "/v1/me/devices/{device_id}": {"delete": {
        "operationId": "removeMyDevice", "tags": ["account"], "security": ACCOUNT,
        "summary": "Release the owner claim (fresh token)", "parameters": [DEVICE_ID],
        "responses": {"204": _ok("Released.")},
        "problems": {"401": ["unauthorized", "reauthentication-required"],
                     "403": ["credential-cooldown"], "404": ["not-found"],
                     "409": ["device-held"]},
    }},
    "/v1/me/devices/{device_id}/lost": {
        "post": {
            "operationId": "reportLost", "tags": ["account"], "security": ACCOUNT,
            "summary": "Report the device lost, or change what it shows (fresh token)",
            "parameters": [DEVICE_ID],
            "requestBody": _json(_obj({"message": {"type": "string", "minLength": 1,
                                                   "maxLength": 350},
                                       "contact": {"type": "string", "minLength": 3,
                                                   "maxLength": 254,
                                                   "description": "A phone number or an "
                                                                  "email address."}},
                                      ("message", "contact"))),
            "responses": {"204": _ok("The device shows message and contact.")},
            "problems": {"400": ["malformed"],
                         "401": ["unauthorized", "reauthentication-required"],
                         "404": ["not-found"], "413": ["too-large"],
                         "422": ["invalid-input"]},
        },
        "delete": {
            "operationId": "reportFound", "tags": ["account"], "security": ACCOUNT,
            "summary": "Lift lost mode (fresh token, outside the cool-down)",
            "parameters": [DEVICE_ID],
            "responses": {"204": _ok("Lifted.")},
            "problems": {"401": ["unauthorized", "reauthentication-required"],
                         "403": ["credential-cooldown"], "404": ["not-found"]},
        },
    },
    "/v1/me/devices/{device_id}/consents": {"post": {
        "operationId": "consentToTenant", "tags": ["account"], "security": ACCOUNT,
        "summary": "Let a tenant (an organization or creditor) claim this device (fresh "
                   "token, outside the cool-down)",
        "parameters": [DEVICE_ID],
        "requestBody": _json(_obj({"tenant_id": {"type": "string", "minLength": 1,
                                                 "maxLength": 64}}, ("tenant_id",))),
        "responses": {"204": _ok("The tenant may now claim the device.")},
        "problems": {"400": ["malformed"],
                     "401": ["unauthorized", "reauthentication-required"],
                     "403": ["credential-cooldown"], "404": ["not-found"],
                     "413": ["too-large"], "422": ["invalid-input"]},
    }},
    "/v1/me/devices/{device_id}/commands": {"post": {
        "operationId": "sendCommand", "tags": ["account"], "security": ACCOUNT,
        "summary": "Ring or wipe the device at its next check-in (wipe: fresh token, "
                   "outside the cool-down)",
        "parameters": [DEVICE_ID],
        "requestBody": _json(_obj({"type": {"type": "string", "enum": ["ring", "wipe"]}},
                                  ("type",))),
        "responses": {"202": _ok("Queued until the device acknowledges it.", _obj(
            {"command_id": {"type": "string"}}, ("command_id",)))},
        "problems": {"400": ["malformed"],
                     "401": ["unauthorized", "reauthentication-required"],
                     "403": ["credential-cooldown"], "404": ["not-found"],
                     "413": ["too-large"], "422": ["invalid-input"], "429": ["rate-limited"]},
    }},
    "/v1/me/totp": {"post": {
        "operationId": "enrollTotp", "tags": ["account"], "security": ACCOUNT,
        "summary": "Start the second factor (fresh token): a TOTP secret, shown once "
                   "(RFC 6238, SHA-1, 6 digits, 30 s); replaces one not confirmed yet",
        "responses": {"201": _ok("A pending secret.", _obj(
            {"secret": {"type": "string"}, "otpauth_uri": {"type": "string"}},
            ("secret", "otpauth_uri")))},
        "problems": {"401": ["unauthorized", "reauthentication-required"],
                     "409": ["totp-enabled"]},
    }},
    "/v1/me/totp/confirm": {"post": {
        "operationId": "confirmTotp", "tags": ["account"], "security": ACCOUNT,
        "summary": "Turn the second factor on with a current code; 10 single-use "
                   "recovery codes, shown once (a wrong code: 422 invalid-input)",
        "requestBody": _json(_obj({"code": {"type": "string"}}, ("code",))),
        "responses": {"200": _ok("On.", _obj(
            {"recovery_codes": {"type": "array", "items": {"type": "string"},
                                "minItems": 10, "maxItems": 10}}, ("recovery_codes",)))},
        "problems": {"400": ["malformed"], "401": ["unauthorized"], "409": ["totp-enabled"],
                     "413": ["too-large"], "422": ["invalid-input"]},
    }},
    "/v1/unlocks": {"post": {
        "operationId": "unlockBootloader", "tags": ["account"], "security": ACCOUNT,
        "summary": "Bootloader unlock for the bound owner (fresh token)",
        "requestBody": _json(_obj({"bootloader_token": {"type": "string"}},
                                  ("bootloader_token",))),
        "responses": {"200": _ok("Granted.", _obj({"unlock_token": {"type": "string"}},
                                                  ("unlock_token",)))},
        "problems": {"400": ["malformed"],
                     "401": ["unauthorized", "reauthentication-required"],
                     "403": ["unlock-not-permitted", "credential-cooldown"],
                     "413": ["too-large"]},
    }},
    # -- admin (API keys) ------------------------------------------------------------
    "/v1/admin/devices/import": {"post": {
        "operationId": "importDevices", "tags": ["admin"], "security": API_KEY,
        "summary": "Factory import (role `factory`), CSV or JSON lines, all or nothing",
        "parameters": [{"name": "skip_invalid", "in": "query", "required": False,
                        "schema": {"enum": ["1", "true", "yes", "0", "false", "no"]}}],
        "requestBody": {"required": True, "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/jsonl": {"schema": {"type": "string"}}}},
        "responses": {"200": _ok("Imported.", _ref("ImportReport"))},
        "problems": {"401": ["unauthorized"], "403": ["forbidden"],
                     "409": ["import-conflict"], "413": ["too-large"],
                     "422": ["invalid-rows", "invalid-input"], "503": ["unavailable"]},
    }},
    "/v1/admin/policy": {
        "get": {
            "operationId": "getPolicy", "tags": ["admin"], "security": API_KEY,
            "summary": "The active territory policy", "description": POLICY_KEY,
            "responses": {"200": _ok("The policy in force.", _obj(
                {"version": {"type": "integer"}, "document": {"type": "string"},
                 "author": {"type": "string"}, "reason": {"type": "string"},
                 "created_at": {"type": "integer"}},
                ("version", "document", "author", "reason", "created_at")))},
            "problems": {"401": ["unauthorized"], "403": ["forbidden"],
                         "404": ["not-found"]},
        },
        "post": {
            "operationId": "applyPolicy", "tags": ["admin"], "security": API_KEY,
            "summary": "Apply a new territory policy", "description": POLICY_KEY,
            "parameters": [{"name": "reason", "in": "query", "required": True,
                            "schema": {"type": "string", "minLength": 1}}],
            "requestBody": {"required": True,
                            "content": {"application/toml": {"schema": TOML}}},
            "responses": {"201": _ok("Applied.", _obj(
                {"version": {"type": "integer"}, "sha256": {"type": "string"}},
                ("version", "sha256")))},
            "problems": {"400": ["malformed"], "401": ["unauthorized"],
                         "403": ["forbidden"], "413": ["too-large"],
                         "422": ["invalid-policy", "invalid-input"]},
        },
    },
    "/v1/admin/policy/versions": {"get": {
        "operationId": "policyVersions", "tags": ["admin"], "security": API_KEY,
        "summary": "Every policy version", "description": POLICY_KEY,
        "responses": {"200": _ok("Oldest first.", _obj(
            {"versions": {"type": "array", "items": {"type": "object"}}}, ("versions",)))},
        "problems": {"401": ["unauthorized"], "403": ["forbidden"]},
    }},
    "/v1/admin/policy/validate": {"post": {
        "operationId": "validatePolicy", "tags": ["admin"], "security": API_KEY,
        "summary": "Check a policy document", "description": POLICY_KEY,
        "requestBody": {"required": True,
                        "content": {"application/toml": {"schema": TOML}}},
        "responses": {"200": _ok("Valid.", _obj(
            {"valid": {"const": True}, "rules": {"type": "integer"},
             "markets": {"type": "array", "items": {"type": "string"}},
             "evidence": {}}, ("valid", "rules", "markets")))},
        "problems": {"400": ["malformed"], "401": ["unauthorized"], "403": ["forbidden"],
                     "413": ["too-large"], "422": ["invalid-policy"]},
    }},
    "/v1/admin/policy/dry-run": {"post": {
        "operationId": "dryRunPolicy", "tags": ["admin"], "security": API_KEY,
        "summary": "What a policy would change", "description": POLICY_KEY,
        "requestBody": {"required": True,
                        "content": {"application/toml": {"schema": TOML}}},
        "responses": {"200": _ok("The impact.", _ref("PolicyImpact"))},
        "problems": {"400": ["malformed"], "401": ["unauthorized"], "403": ["forbidden"],
                     "413": ["too-large"], "422": ["invalid-policy"]},
    }},
    "/v1/admin/policy/rollback": {"post": {
        "operationId": "rollbackPolicy", "tags": ["admin"], "security": API_KEY,
        "summary": "Make an earlier version the active one", "description": POLICY_KEY,
        "requestBody": _json(_obj({"version": {"type": "integer", "minimum": 1},
                                   "reason": {"type": "string"}}, ("version",))),
        "responses": {"201": _ok("Rolled back.", _obj(
            {"version": {"type": "integer"}, "rollback_of": {"type": "integer"}},
            ("version", "rollback_of")))},
        "problems": {"400": ["malformed"], "401": ["unauthorized"], "403": ["forbidden"],
                     "404": ["not-found"], "413": ["too-large"],
                     "422": ["invalid-input", "invalid-policy"]},
    }},
    "/v1/admin/policy/withdraw": {"post": {
        "operationId": "withdrawPolicy", "tags": ["admin"], "security": API_KEY,
        "summary": "Back to no policy (a new version without rules)",
        "description": POLICY_KEY,
        "requestBody": _json(_obj({"reason": {"type": "string"}}, ())),
        "responses": {"201": _ok("Withdrawn.", _obj(
            {"version": {"type": "integer"}, "withdrawn": {"const": True}},
            ("version", "withdrawn")))},
        "problems": {"400": ["malformed"], "401": ["unauthorized"], "403": ["forbidden"],
                     "413": ["too-large"], "422": ["invalid-input"]},
    }},
    # -- public ----------------------------------------------------------------------
    "/v1/keys": {"get": {
        "operationId": "serverKeys", "tags": ["public"], "summary": "The server's JWKS",
        "responses": {"200": _ok("Keys devices pin.", _ref("Jwks"))}}},
    "/v1/public/status": {"get": {
        "operationId": "deviceStatus", "tags": ["public"],
        "summary": "A buyer's signed statement of a device's status",
        "description": "Exactly one of `imei` and `device_id`. The statement is a compact "
                       "JWS (`typ` `tenure-status+jwt`) signed with the integrator key of "
                       "`/v1/keys`; its payload: `iss`, `sub` (device id), `imei`, `iat`, "
                       "`exp` (`iat` + 600), `nonce` (when given), the booleans "
                       "`activation_lock`, `lost`, `financed`, `organization`, and "
                       "`territory_restrictions` (territory codes; `*`: everywhere no rule "
                       "names). Limited per client address (IPv6 /64) and per device.",
        "parameters": [
            {"name": "imei", "in": "query", "required": False,
             "schema": {"type": "string", "pattern": "^[0-9]{15}$"}},
            {"name": "device_id", "in": "query", "required": False,
             "schema": {"type": "string"}},
            {"name": "nonce", "in": "query", "required": False,
             "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"}}],
        "responses": {"200": _ok("The statement; `Cache-Control: no-store`.", _obj(
            {"statement": {"type": "string"}}, ("statement",)))},
        "problems": {"400": ["malformed"], "404": ["unknown-device"],
                     "422": ["invalid-input"], "429": ["rate-limited"],
                     "503": ["unavailable"]},
    }},
    "/healthz": {"get": {
        "operationId": "healthz", "tags": ["operations"], "summary": "Database answers",
        "responses": {
            "200": _ok("Healthy.", _obj({"status": {"const": "ok"}}, ("status",))),
            "503": _ok("The database does not answer.", _obj(
                {"status": {"const": "unavailable"}, "database": {"type": "string"}},
                ("status",)))}}},
    "/readyz": {"get": {
        "operationId": "readyz", "tags": ["operations"],
        "summary": "Database answers and is migrated",
        "responses": {
            "200": _ok("Ready.", _obj({"status": {"const": "ready"}}, ("status",))),
            "503": _ok("Not ready.", _obj(
                {"status": {"const": "not ready"}, "reason": {"type": "string"}},
                ("status",)))}}},
    "/metrics": {"get": {
        "operationId": "metrics", "tags": ["operations"], "summary": "Prometheus metrics",
        "responses": {"200": _ok("Text exposition format.", {"type": "string"},
                                 "text/plain")}}},
    "/openapi.json": {"get": {
        "operationId": "openapi", "tags": ["public"], "summary": "This document",
        "responses": {"200": _ok("OpenAPI 3.1.", {"type": "object"})}}},
    "/docs": {"get": {
        "operationId": "apiDocs", "tags": ["public"],
        "summary": "This document as a readable page",
        "responses": {"200": _ok("HTML, no script.", {"type": "string"}, "text/html")}}},
    # -- organizations (API key of role `organization`; docs/organizations.md) --------------
    "/v1/org/devices": {"post": {
        "operationId": "claimOrgDevices", "tags": ["organization"], "security": API_KEY,
        "summary": "Claim devices assigned to the organization or consented by their owner "
                   "(at most 10,000 ids); devices already held count as claimed",
        "requestBody": _json(_obj({"device_ids": {
            "type": "array", "maxItems": 10_000, "items": {"type": "string"}}},
            ("device_ids",))),
        "responses": {"200": _ok("What was claimed and what was refused.", _obj({
            "claimed": {"type": "array", "items": {"type": "string"}},
            "refused": {"type": "array", "items": _obj(
                {"device_id": {"type": "string"}, "reason": {"const": "not-claimable"}},
                ("device_id", "reason"))}}, ("claimed", "refused")))},
        "problems": {"400": ["malformed"], "401": ["unauthorized"], "403": ["forbidden"],
                     "413": ["too-large"], "422": ["invalid-input"]},
    }},
    "/v1/org/devices/{device_id}": {
        "get": {
            "operationId": "getOrgDevice", "tags": ["organization"], "security": API_KEY,
            "summary": "A device the organization holds a claim on",
            "parameters": [DEVICE_ID],
            "responses": {"200": _ok("The device.", _obj({
                "device_id": {"type": "string"}, "claimed_at": {"type": "integer"},
                "last_checkin": {"type": ["integer", "null"]},
                "code_issued_at": {"type": ["integer", "null"],
                                   "description": "When the current, unspent bypass code "
                                                  "was issued; null when there is none."}},
                ("device_id", "claimed_at", "last_checkin", "code_issued_at")))},
            "problems": {"401": ["unauthorized"], "403": ["forbidden"], "404": ["not-found"]},
        },
        "delete": {
            "operationId": "releaseOrgDevice", "tags": ["organization"], "security": API_KEY,
            "summary": "Release the organization's claim (the bound owner is mailed)",
            "parameters": [DEVICE_ID],
            "responses": {"204": _ok("Released.")},
            "problems": {"401": ["unauthorized"], "403": ["forbidden"], "404": ["not-found"]},
        },
    },
    "/v1/org/devices/{device_id}/bypass-code": {"post": {
        "operationId": "issueBypassCode", "tags": ["organization"], "security": API_KEY,
        "summary": "A new activation bypass code, shown once; the previous one stops working",
        "parameters": [DEVICE_ID],
        "responses": {"201": _ok("The code.", _obj({
            "bypass_code": {"type": "string",
                            "pattern": "^[0-9ACDEFGHJKLMNPQRTUVWXYZ]{5}-[0-9ACDEFGHJKLMNPQRTUV"
                                       "WXYZ]{5}(-[0-9ACDEFGHJKLMNPQRTUVWXYZ]{4}){4}$"},
            "issued_at": {"type": "integer"}}, ("bypass_code", "issued_at")))},
        "problems": {"401": ["unauthorized"], "403": ["forbidden"], "404": ["not-found"]},
    }},
}
PATHS.update(RETAILER_PATHS)
PATHS.update(CASE_PATHS)
