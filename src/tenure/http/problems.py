"""RFC 9457 problem documents with `type` = urn:tenure:problem:<code>."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from tenure.domain.errors import TenureError

PROBLEM_TYPE = "application/problem+json"


def problem(code: str, status: int, title: str, detail: str,
            headers: dict[str, str] | None = None, **extensions: Any) -> Response:
    body = {"type": f"urn:tenure:problem:{code}", "title": title, "status": status,
            "detail": detail, **extensions}
    return Response(json.dumps(body), status_code=status, media_type=PROBLEM_TYPE,
                    headers=headers)


def from_error(error: TenureError, headers: dict[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    extensions = dict(error.extensions)
    if "retry_after" in extensions and error.status == 429:
        headers["Retry-After"] = str(max(1, int(extensions.pop("retry_after"))))
    return problem(error.code, error.status, error.title, error.detail, headers, **extensions)


def internal(headers: dict[str, str] | None = None) -> Response:
    return problem("internal", 500, "Internal error",
                   "The server could not complete the request; nothing was changed. "
                   "Retry later.", headers)
