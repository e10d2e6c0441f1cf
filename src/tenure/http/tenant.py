"""What every tenant router shares (http/org.py, and the creditor's): the 1 MiB body
limit of tenant calls (device endpoints keep 64 KiB) and the bearer API key.

Authorization is the services' (services/tenant_access.py): a route passes the presented
key along with what the request carries, and renders the answer.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from .bodies import bearer, read_json_object

TENANT_MAX_BODY = 1024 * 1024  # docs/protocol.md Part 2: tenant request bodies up to 1 MiB


async def tenant_json(request: Request) -> dict[str, Any]:
    """The request's JSON object, read within the tenant body limit."""
    return await read_json_object(request, TENANT_MAX_BODY)


def api_key(request: Request) -> str | None:
    """The `Authorization: Bearer <api key>` a tenant call carries, if any."""
    return bearer(request)
