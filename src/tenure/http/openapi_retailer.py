"""OpenAPI operations of the retailer router (merged into openapi_paths.PATHS);
docs/retailers.md is the prose."""

from __future__ import annotations

from typing import Any

JSON = "application/json"
API_KEY: list[dict[str, list[str]]] = [{"apiKey": []}]
STRING = {"type": "string"}
REASONS = ["invalid-row", "bad-date", "future-date", "bad-territory", "not-registrable",
           "duplicate"]
AUTH_PROBLEMS = {"401": ["unauthorized"], "403": ["forbidden"], "503": ["unavailable"]}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


SALE_ROW = _obj({"device_id": STRING, "imei": {"type": "string", "pattern": "^[0-9]{15}$"},
                 "sold_on": {"type": "string", "format": "date"},
                 "territory": {"type": "string", "description": "ISO 3166-1 or -2 code"}},
                ("sold_on", "territory"))
REPORT = _obj({"registered": {"type": "integer"},
               "refused": {"type": "array", "items": _obj(
                   {"index": {"type": "integer"}, "reason": {"enum": REASONS}},
                   ("index", "reason"))}}, ("registered", "refused"))
SALE = _obj({"device_id": STRING, "sold_on": {"type": "string", "format": "date"},
             "territory": STRING, "licensed": {"type": "boolean"},
             "registered_at": {"type": "integer"}},
            ("device_id", "sold_on", "territory", "licensed", "registered_at"))

RETAILER_PATHS: dict[str, dict[str, dict[str, Any]]] = {
    "/v1/retailer/sales": {"post": {
        "operationId": "registerSales", "tags": ["retailer"], "security": API_KEY,
        "summary": "Register sales of devices the operator assigned to this retailer "
                   "(up to 10,000 a call; JSON or CSV)",
        "description": "Each row names a device by `device_id` or `imei`, its sale date and "
                       "territory. Valid rows are registered, the others refused by index "
                       "with one reason each. Repeating a report is harmless; a new sale "
                       "of a device replaces the retailer's earlier one (docs/retailers.md).",
        "requestBody": {"required": True, "content": {
            JSON: {"schema": _obj({"sales": {"type": "array", "maxItems": 10000,
                                             "items": SALE_ROW}}, ("sales",))},
            "text/csv": {"schema": {"type": "string", "description":
                                    "header device_id,imei,sold_on,territory"}}}},
        "responses": {"200": {"description": "What was registered and what was refused.",
                              "content": {JSON: {"schema": REPORT}}}},
        "problems": {**AUTH_PROBLEMS, "400": ["malformed"], "413": ["too-large"]},
    }},
    "/v1/retailer/sales/{device_id}": {"get": {
        "operationId": "showSale", "tags": ["retailer"], "security": API_KEY,
        "summary": "This retailer's registered sale of a device (404 for any other)",
        "parameters": [{"name": "device_id", "in": "path", "required": True,
                        "schema": STRING}],
        "responses": {"200": {"description": "The sale.",
                              "content": {JSON: {"schema": SALE}}}},
        "problems": {**AUTH_PROBLEMS, "404": ["not-found"]},
    }},
}
