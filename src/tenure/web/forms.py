"""Reading HTML forms: bounded, and checked for the CSRF token before anything else.

Forms post ordinary fields (`application/x-www-form-urlencoded`), so the pages work
without JavaScript and with any HTTP client; file uploads post `multipart/form-data`
through the same bounded parser as the API (http/multipart.py)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from tenure.domain.errors import Malformed
from tenure.http.bodies import read_capped
from tenure.http.multipart import read_parts

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


async def read_multipart_form(request: Request, limit: int, files: tuple[str, ...] = ("file",)
                              ) -> tuple[dict[str, str], dict[str, bytes]]:
    """A form with file uploads (`multipart/form-data`): its text fields and the files
    chosen, after the same CSRF check as `read_form` (the token is one of the fields).

    A file input left empty arrives as a part with an empty file name and no bytes; it
    is left out, so `files` holds only what the person chose. Text fields must be
    UTF-8; the last of a repeated field counts, as in `read_form`."""
    fields: dict[str, str] = {}
    chosen: dict[str, bytes] = {}
    for part in await read_parts(request, limit):
        if part.name in files:
            if part.filename or part.content:
                chosen[part.name] = part.content
            continue
        if len(part.content) > MAX_FORM_BYTES:
            raise Malformed(f"The field {part.name!r} is too long.")
        try:
            value = part.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Malformed("The form could not be read.") from exc
        if "\x00" not in value:
            fields[part.name] = value
    check_csrf(request, fields)
    return fields, chosen
