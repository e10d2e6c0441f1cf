"""Reading HTML forms: bounded, and checked for the CSRF token before anything else.

Forms post ordinary fields (`application/x-www-form-urlencoded`), so the pages work
without JavaScript and with any HTTP client; file uploads post `multipart/form-data`
through the same bounded parser as the API (http/multipart.py)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from tenure.domain.errors import Malformed
from tenure.http.bodies import read_capped

from .security import check_csrf

MAX_FORM_BYTES = 64 * 1024
MAX_FIELDS = 64


async def read_form(request: Request, limit: int = MAX_FORM_BYTES) -> dict[str, str]:
    """The form's fields (the last value of a repeated one), after the CSRF check."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await read_capped(request, limit)
    if media not in ("application/x-www-form-urlencoded", ""):
        raise Malformed("This page expects an ordinary form (application/x-www-form-urlencoded).")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                          max_num_fields=MAX_FIELDS, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed("The form could not be read.") from exc
    form = {key: value for key, value in pairs if "\x00" not in value}
    check_csrf(request, form)
    return form
