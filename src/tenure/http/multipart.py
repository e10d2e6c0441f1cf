"""Reading one file field of a `multipart/form-data` body, within a size cap.

The body is read as it streams and refused with `413` as soon as it passes the cap, so
a client cannot make the server hold more than the cap; the (bounded) body is then
split on its boundary (RFC 7578). Only what the evidence upload needs: one named field,
its bytes; no nested multipart, no temporary files.
"""

from __future__ import annotations

import re

from starlette.requests import Request

from tenure.domain.errors import Malformed

from .bodies import read_capped

_BOUNDARY = re.compile(r'boundary="?([0-9A-Za-z\'()+_,\-./:=? ]{1,70})"?')
_NAME = re.compile(rb'\bname="([^"]*)"')


async def read_file_field(request: Request, field: str, limit: int) -> bytes | None:
    """The bytes of form field `field`, or None when the form has no such field."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise Malformed("Send the file as multipart/form-data with the field 'file'.")
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise Malformed("The multipart Content-Type has no boundary.")
    body = await read_capped(request, limit)
    delimiter = b"--" + found.group(1).strip().encode()
    parts = body.split(delimiter)
    if len(parts) < 3:
        raise Malformed("The multipart body is not closed by its boundary.")
    for part in parts[1:-1]:
        if not part.startswith(b"\r\n"):
            raise Malformed("A multipart part does not start on a new line.")
        head, sep, content = part[2:].partition(b"\r\n\r\n")
        if not sep or not content.endswith(b"\r\n"):
            raise Malformed("A multipart part has no header block or no line end.")
        disposition = next((line for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-disposition:")), b"")
        name = _NAME.search(disposition)
        if name is not None and name.group(1).decode("latin-1") == field:
            return content[:-2]
    return None
