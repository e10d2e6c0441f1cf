"""The creditor's operations of the OpenAPI document (device financing,
docs/financing.md), kept apart from openapi_paths.py to keep each module readable."""

from __future__ import annotations

from typing import Any

from .openapi_paths import API_KEY, DEVICE_ID, IDEMPOTENCY_KEY, _json, _obj, _ok

STATE = {"enum": ["enrolled", "in-force", "locked", "completing"]}
AUTH = {"401": ["unauthorized"], "403": ["forbidden"]}
HELD = {**AUTH, "404": ["not-found"]}
BODY = {"400": ["malformed"], "413": ["too-large"], "422": ["invalid-input"]}


def _op(op_id: str, summary: str, responses: dict[str, Any], problems: dict[str, list[str]],
        body: dict[str, Any] | None = None, idempotent: bool = False,
        on_device: bool = True) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": op_id, "tags": ["creditor"], "security": API_KEY,
                          "summary": summary, "responses": responses, "problems": problems}
    params: list[dict[str, Any]] = [DEVICE_ID] if on_device else []
    if idempotent:
        params.append(IDEMPOTENCY_KEY)
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = _json(body)
    return op


CREDITOR_PATHS: dict[str, dict[str, dict[str, Any]]] = {
    "/v1/creditor/devices": {"post": _op(
        "creditorEnroll",
        "Enroll a device assigned to this creditor or consented by its owner; the device "
        "shows the enrollment notice, whose acceptance puts the claim in force",
        {"201": _ok("Enrolled.", _obj({"state": {"const": "enrolled"}}, ("state",)))},
        {**BODY, **AUTH, "404": ["not-found"],
         "409": ["duplicate-loan", "already-financed", "idempotency-key-in-use"]},
        _obj({"device_id": {"type": "string"},
              "loan_id": {"type": "string", "minLength": 1, "maxLength": 64},
              "contact": {"type": "string", "description": "A phone number or an email "
                                                           "address; a lock always lets "
                                                           "the user call it."},
              "offline_lock_days": {"type": "integer", "minimum": 14, "maximum": 200,
                                    "default": 30}},
             ("device_id", "loan_id", "contact")),
        idempotent=True, on_device=False)},
    "/v1/creditor/devices/{device_id}": {"get": _op(
        "creditorDevice", "A financed device's loan and state",
        {"200": _ok("The device.", _obj({
            "device_id": {"type": "string"}, "loan_id": {"type": "string"}, "state": STATE,
            "notice_acknowledged_at": {"type": ["integer", "null"]},
            "locked_at": {"type": ["integer", "null"]},
            "last_checkin": {"type": ["integer", "null"]}},
            ("device_id", "loan_id", "state", "notice_acknowledged_at", "locked_at",
             "last_checkin")))},
        HELD)},
    "/v1/creditor/devices/{device_id}/reminders": {"post": _op(
        "creditorRemind",
        "Send a payment reminder (a message command); its acknowledgement by the device "
        "is what allows a lock 72 hours to 30 days later",
        {"202": _ok("Queued.", _obj({"command_id": {"type": "string"}}, ("command_id",)))},
        {**BODY, **HELD, "409": ["creditor-state", "idempotency-key-in-use"]},
        _obj({"message": {"type": "string", "minLength": 1, "maxLength": 200}},
             ("message",)), idempotent=True)},
    "/v1/creditor/devices/{device_id}/lock": {"post": _op(
        "creditorLock",
        "Lock the device (emergency calls, calling the creditor and network settings "
        "keep working); shown at the next record",
        {"202": _ok("Locked.", _obj({"state": {"const": "locked"}}, ("state",)))},
        {**BODY, **HELD,
         "409": ["notice-not-acknowledged", "no-prior-reminder", "creditor-state"]},
        _obj({"message": {"type": "string", "minLength": 1, "maxLength": 350}},
             ("message",)))},
    "/v1/creditor/devices/{device_id}/unlock": {"post": _op(
        "creditorUnlock", "Lift the lock; the device unlocks at its next check-in",
        {"200": _ok("In force.", _obj({"state": {"const": "in-force"}}, ("state",)))},
        {**HELD, "409": ["creditor-state"]})},
    "/v1/creditor/devices/{device_id}/complete": {
        "post": _op(
            "creditorComplete",
            "The loan is paid: the claim is released for good after 48 hours unless "
            "cancelled; the device is not locked meanwhile",
            {"202": _ok("Completing.", _obj({"state": {"const": "completing"},
                                             "complete_at": {"type": "integer"}},
                                            ("state", "complete_at")))},
            {**HELD, "409": ["creditor-state"]}),
        "delete": _op(
            "creditorCancelCompletion",
            "Cancel a completion within its 48 hours: back to the state it came from",
            {"200": _ok("Cancelled.", _obj({"state": STATE}, ("state",)))},
            {**HELD, "409": ["creditor-state"]}),
    },
}
