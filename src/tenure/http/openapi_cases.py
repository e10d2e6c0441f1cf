"""OpenAPI operations of appeal cases and support (merged into openapi_paths.PATHS)."""

from __future__ import annotations

from typing import Any

ACCOUNT: list[dict[str, list[str]]] = [{"accountToken": []}]
API_KEY: list[dict[str, list[str]]] = [{"apiKey": []}]
JSON = "application/json"
CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}
EVIDENCE_ID = {"name": "evidence_id", "in": "path", "required": True,
               "schema": {"type": "string"}}
STATES = ["open", "approved", "objection-window", "objected", "granted", "refused"]
KINDS = ["activation-lock", "territory", "organization", "creditor"]
REASONS = ["insufficient-evidence", "evidence-inconsistent", "not-the-device",
           "claim-upheld", "objection-upheld", "duplicate-case"]
STRING = {"type": "string"}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


def _ok(description: str, schema: dict[str, Any] | None = None,
        media: str = JSON) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {media: {"schema": schema}}
    return response


HISTORY = {"type": "array", "items": _obj(
    {"at": {"type": "integer"}, "state": {"enum": STATES}, "reason": {"enum": REASONS}},
    ("at", "state"))}
CASE = _obj({"case_id": STRING, "kind": {"enum": KINDS}, "state": {"enum": STATES},
             "rules": {"type": "array", "items": STRING}, "history": HISTORY},
            ("case_id", "kind", "state", "history"))
SUPPORT_CASE = {"allOf": [CASE, _obj({
    "evidence": {"type": "array", "items": _obj(
        {"evidence_id": STRING, "content_type": {"enum": ["application/pdf", "image/jpeg",
                                                          "image/png"]},
         "size": {"type": "integer"}, "sha256": STRING},
        ("evidence_id", "content_type", "size", "sha256"))},
    "decisions": {"type": "array", "items": _obj(
        {"at": {"type": "integer"}, "agent": STRING,
         "decision": {"enum": ["approve", "refuse"]}, "reason": {"type": ["string", "null"]},
         "round": {"type": "integer"}}, ("at", "agent", "decision", "round"))},
    "objections": {"type": "array", "items": {"type": "object"}},
    "registered_sale": {"type": ["object", "null"], "description":
                        "The device's sale registered by a retailer, if any."},
    "duplicates": {"type": "array", "items": STRING}}, ("evidence", "decisions"))]}
FILE = {"type": "string", "format": "binary"}
SUPPORT_AUTH = {"401": ["unauthorized"], "403": ["forbidden"]}

CASE_PATHS: dict[str, dict[str, dict[str, Any]]] = {
    "/v1/cases": {"post": {
        "operationId": "openCase", "tags": ["appeals"], "security": ACCOUNT,
        "summary": "Open an appeal case against a held claim (docs/redress.md)",
        "requestBody": {"required": True, "content": {JSON: {"schema": _obj({
            "device_id": STRING, "imei": STRING, "kind": {"enum": KINDS},
            "statement": {"type": "string", "minLength": 1, "maxLength": 5000},
            "purchase": _obj({"date": {"type": "string", "format": "date"},
                              "seller": STRING,
                              "price": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
                              "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}},
                             ("date", "seller", "price", "currency")),
            "appeal_token": STRING},
            ("kind", "statement", "purchase", "appeal_token"))}}},
        "responses": {"201": _ok("Opened.", _obj({"case_id": STRING, "state": {"const": "open"}},
                                                 ("case_id", "state")))},
        "problems": {"400": ["malformed", "invalid-appeal-token"], "401": ["unauthorized"],
                     "404": ["not-found"], "409": ["device-held", "idempotency-key-in-use"],
                     "413": ["too-large"], "422": ["invalid-input"]},
    }},
    "/v1/cases/{case_id}": {"get": {
        "operationId": "getCase", "tags": ["appeals"], "security": ACCOUNT,
        "summary": "The applicant's case and its history (anyone else: 404)",
        "parameters": [CASE_ID],
        "responses": {"200": _ok("The case.", CASE)},
        "problems": {"401": ["unauthorized"]},
    }},
    "/v1/cases/{case_id}/evidence": {"post": {
        "operationId": "addEvidence", "tags": ["appeals"], "security": ACCOUNT,
        "summary": "Add a PDF, JPEG or PNG (by content), at most 10 MiB",
        "parameters": [CASE_ID],
        "requestBody": {"required": True, "content": {"multipart/form-data": {
            "schema": _obj({"file": FILE}, ("file",))}}},
        "responses": {"201": _ok("Stored.", _obj({"evidence_id": STRING, "sha256": STRING},
                                                 ("evidence_id", "sha256")))},
        "problems": {"400": ["malformed"], "401": ["unauthorized"], "409": ["case-closed"],
                     "413": ["too-large"], "415": ["unsupported-evidence"]},
    }},
    "/v1/cases/{case_id}/evidence/{evidence_id}": {"get": {
        "operationId": "getMyEvidence", "tags": ["appeals"], "security": ACCOUNT,
        "summary": "An evidence file, for the applicant (as an attachment)",
        "parameters": [CASE_ID, EVIDENCE_ID],
        "responses": {"200": _ok("The file.", FILE, "application/octet-stream")},
        "problems": {"401": ["unauthorized"]},
    }},
    "/v1/cases/{case_id}/objection": {"post": {
        "operationId": "objectToCase", "tags": ["appeals"], "security": ACCOUNT,
        "summary": "The owner objects in the objection window: back with support",
        "parameters": [CASE_ID],
        "requestBody": {"required": True, "content": {JSON: {"schema": _obj(
            {"statement": {"type": "string", "minLength": 1, "maxLength": 5000}},
            ("statement",))}}},
        "responses": {"200": _ok("Objected.", _obj(
            {"case_id": STRING, "kind": {"enum": KINDS}, "state": {"enum": STATES}},
            ("case_id", "kind", "state")))},
        "problems": {"400": ["malformed"], "401": ["unauthorized"], "409": ["case-closed"],
                     "413": ["too-large"], "422": ["invalid-input"]},
    }},
    "/v1/support/cases": {"get": {
        "operationId": "listCases", "tags": ["support"], "security": ACCOUNT,
        "summary": "The case queue (support agents signed in with a second factor)",
        "parameters": [{"name": "state", "in": "query", "required": False,
                        "schema": {"enum": STATES}}],
        "responses": {"200": _ok("The cases, oldest first.", _obj({"cases": {
            "type": "array", "items": _obj({"case_id": STRING, "kind": {"enum": KINDS},
                                            "state": {"enum": STATES},
                                            "opened_at": {"type": "integer"}},
                                           ("case_id", "kind", "state", "opened_at"))}},
            ("cases",)))},
        "problems": {**SUPPORT_AUTH, "422": ["invalid-input"]},
    }},
    "/v1/support/cases/{case_id}": {"get": {
        "operationId": "getSupportCase", "tags": ["support"], "security": ACCOUNT,
        "summary": "A case with its evidence, decisions and objections",
        "parameters": [CASE_ID],
        "responses": {"200": _ok("The case.", SUPPORT_CASE)},
        "problems": SUPPORT_AUTH,
    }},
    "/v1/support/cases/{case_id}/evidence/{evidence_id}": {"get": {
        "operationId": "getEvidence", "tags": ["support"], "security": ACCOUNT,
        "summary": "An evidence file, as an attachment with its recognised type",
        "parameters": [CASE_ID, EVIDENCE_ID],
        "responses": {"200": _ok("The file.", FILE, "application/octet-stream")},
        "problems": SUPPORT_AUTH,
    }},
    "/v1/support/cases/{case_id}/decisions": {"post": {
        "operationId": "decideCase", "tags": ["support"], "security": ACCOUNT,
        "summary": "Approve or refuse (fresh token); two approvals by different agents "
                   "approve a case",
        "parameters": [CASE_ID],
        "requestBody": {"required": True, "content": {JSON: {"schema": _obj(
            {"decision": {"enum": ["approve", "refuse"]},
             "reason": {"type": "string", "description": "A refusal: one of "
                        + ", ".join(REASONS) + "; an approval: an optional note."}},
            ("decision",))}}},
        "responses": {"200": _ok("The case after the decision.", SUPPORT_CASE)},
        "problems": {"400": ["malformed"],
                     "401": ["unauthorized", "reauthentication-required"],
                     "403": ["forbidden"], "409": ["case-closed"], "413": ["too-large"],
                     "422": ["invalid-input"]},
    }},
    **{f"/v1/{prefix}/cases/{{case_id}}/objection": {"post": {
        "operationId": f"objectToCaseAs{name}", "tags": ["appeals"], "security": API_KEY,
        "summary": f"The {kind} holding the case's claim objects in the objection window",
        "parameters": [CASE_ID],
        "requestBody": {"required": True, "content": {JSON: {"schema": _obj(
            {"statement": {"type": "string", "minLength": 1, "maxLength": 5000}},
            ("statement",))}}},
        "responses": {"200": _ok("Objected.", _obj(
            {"case_id": STRING, "kind": {"enum": KINDS}, "state": {"enum": STATES}},
            ("case_id", "kind", "state")))},
        "problems": {"400": ["malformed"], "401": ["unauthorized"], "403": ["forbidden"],
                     "409": ["case-closed"], "413": ["too-large"], "422": ["invalid-input"]},
    }} for prefix, kind, name in (("org", "organization", "Organization"),
                                  ("creditor", "creditor", "Creditor"))},
}
