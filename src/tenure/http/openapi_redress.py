"""The OpenAPI operations of redress (docs/protocol.md Part 2 "Buyers and redress" and
"Accounts", and our extensions marked so): transfers, deleting an account, the message
relay and the second factor's leftovers. Merged with openapi_paths.PATHS by openapi.py."""

from __future__ import annotations

from typing import Any

from .openapi_paths import ACCOUNT, DEVICE_ID, _json, _obj, _ok

TRANSFER_ID = {"name": "transfer_id", "in": "path", "required": True,
               "schema": {"type": "string"}}
MESSAGE_ID = {"name": "message_id", "in": "path", "required": True,
              "schema": {"type": "string"}}
WEAKENING = {"401": ["unauthorized", "reauthentication-required"],
             "403": ["credential-cooldown"]}
CODE_BODY = _json(_obj({"code": {"type": "string", "description":
                                 "A current authenticator code or an unused recovery code."}},
                       ("code",)))
RECOVERY = _obj({"recovery_codes": {"type": "array", "items": {"type": "string"},
                                    "minItems": 10, "maxItems": 10}}, ("recovery_codes",))
MESSAGE = {"type": "string", "minLength": 1, "maxLength": 1000}

REDRESS_PATHS: dict[str, dict[str, Any]] = {
    "/v1/me": {"delete": {
        "operationId": "deleteAccount", "tags": ["account"], "security": ACCOUNT,
        "summary": "Delete the account (fresh token, outside the cool-down); refused while "
                   "it holds any claim",
        "responses": {"204": _ok("Gone: sessions, password, email, second factor, mail "
                                 "history (docs/redress.md).")},
        "problems": {**WEAKENING, "409": ["claims-held"]},
    }},
    "/v1/me/totp": {"delete": {
        "operationId": "disableTotp", "tags": ["account"], "security": ACCOUNT,
        "summary": "Turn the second factor off (our extension; fresh token + a code)",
        "requestBody": CODE_BODY,
        "responses": {"204": _ok("Off.")},
        "problems": {"400": ["malformed"], "401": ["unauthorized", "reauthentication-required"],
                     "404": ["not-found"], "413": ["too-large"], "422": ["invalid-input"]},
    }},
    "/v1/me/totp/recovery-codes": {"post": {
        "operationId": "regenerateRecoveryCodes", "tags": ["account"], "security": ACCOUNT,
        "summary": "10 new recovery codes, shown once; the old ones stop working (our "
                   "extension; fresh token + a code)",
        "requestBody": CODE_BODY,
        "responses": {"200": _ok("The new codes.", RECOVERY)},
        "problems": {"400": ["malformed"], "401": ["unauthorized", "reauthentication-required"],
                     "404": ["not-found"], "413": ["too-large"], "422": ["invalid-input"]},
    }},
    "/v1/me/devices/{device_id}/transfers": {"post": {
        "operationId": "startTransfer", "tags": ["account"], "security": ACCOUNT,
        "summary": "Transfer the device to the account of `to_email` (fresh token, outside "
                   "the cool-down); the buyer is mailed a code (after `Code:`)",
        "parameters": [DEVICE_ID],
        "requestBody": _json(_obj({"to_email": {"type": "string"}}, ("to_email",))),
        "responses": {"201": _ok("Pending for 7 days.", _obj(
            {"transfer_id": {"type": "string"}, "expires_at": {"type": "integer"}},
            ("transfer_id", "expires_at")))},
        "problems": {"400": ["malformed"], **WEAKENING, "404": ["not-found"],
                     "409": ["device-held", "transfer-pending"], "413": ["too-large"],
                     "422": ["invalid-input"]},
    }},
    "/v1/me/devices/{device_id}/transfers/{transfer_id}": {"delete": {
        "operationId": "cancelTransfer", "tags": ["account"], "security": ACCOUNT,
        "summary": "The seller cancels a pending transfer",
        "parameters": [DEVICE_ID, TRANSFER_ID],
        "responses": {"204": _ok("Cancelled; the code no longer works.")},
        "problems": {"401": ["unauthorized"], "404": ["not-found"]},
    }},
    "/v1/transfers/{transfer_id}/accept": {"post": {
        "operationId": "acceptTransfer", "tags": ["account"], "security": ACCOUNT,
        "summary": "The buyer (the `to_email` account) accepts with the mailed code; "
                   "five wrong codes void the transfer",
        "parameters": [TRANSFER_ID],
        "requestBody": _json(_obj({"code": {"type": "string"}}, ("code",))),
        "responses": {"200": _ok("The owner claim is the buyer's.", _obj(
            {"transfer_id": {"type": "string"}, "device_id": {"type": "string"},
             "state": {"const": "accepted"},
             "owner": _obj({"hint": {"type": "string"}}, ("hint",))},
            ("transfer_id", "device_id", "state", "owner")))},
        "problems": {"400": ["malformed"], "401": ["unauthorized"], "404": ["not-found"],
                     "409": ["device-held"], "413": ["too-large"], "422": ["invalid-input"]},
    }},
    "/v1/me/messages/{message_id}/reply": {"post": {
        "operationId": "replyToMessage", "tags": ["account"], "security": ACCOUNT,
        "summary": "Answer a relayed message (our extension): the sender is mailed the "
                   "words, never the owner's address",
        "parameters": [MESSAGE_ID],
        "requestBody": _json(_obj({"message": MESSAGE}, ("message",))),
        "responses": {"202": _ok("Mailed to the sender.")},
        "problems": {"400": ["malformed"], "401": ["unauthorized"], "404": ["not-found"],
                     "413": ["too-large"], "422": ["invalid-input"], "429": ["rate-limited"]},
    }},
    "/v1/public/messages": {"post": {
        "operationId": "sendMessage", "tags": ["public"],
        "summary": "Write to whoever holds a device; `from` is mailed a confirmation token "
                   "(after `Token:`)",
        "description": "Exactly one of `imei` and `device_id`. Limited per client address "
                       "(IPv6 /64), per sender address and per device.",
        "requestBody": _json(_obj({"imei": {"type": "string", "pattern": "^[0-9]{15}$"},
                                   "device_id": {"type": "string"},
                                   "from": {"type": "string"}, "message": MESSAGE},
                                  ("from", "message"))),
        "responses": {"202": _ok("The token is on its way to `from`.")},
        "problems": {"400": ["malformed"], "404": ["unknown-device"], "413": ["too-large"],
                     "422": ["invalid-input"], "429": ["rate-limited"]},
    }},
    "/v1/public/messages/confirm": {"post": {
        "operationId": "confirmMessage", "tags": ["public"],
        "summary": "Confirm with the mailed token: the message goes to every holder",
        "requestBody": _json(_obj({"token": {"type": "string"}}, ("token",))),
        "responses": {"202": _ok("Relayed (the answer says nothing of who holds it).")},
        "problems": {"400": ["malformed", "invalid-token"], "413": ["too-large"],
                     "422": ["invalid-input"]},
    }},
}
