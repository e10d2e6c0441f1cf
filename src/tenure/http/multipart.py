"""Reading a `multipart/form-data` body, within a size cap.

The body is read as it streams and refused with `413` as soon as it passes the cap, so
a client cannot make the server hold more than the cap; the (bounded) body is then
split on its boundary (RFC 7578). Only what the evidence upload and the appeal form
need: named fields and their bytes; no nested multipart, no temporary files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request

from tenure.domain.errors import Malformed

from .bodies import read_capped

_BOUNDARY = re.compile(r'boundary="?([0-9A-Za-z\'()+_,\-./:=? ]{1,70})"?')
_NAME = re.compile(rb'\bname="([^"]*)"')
_FILENAME = re.compile(rb'\bfilename="([^"]*)"')
MAX_PARTS = 64


@dataclass(frozen=True, slots=True)
class Part:
    """One field: its name, the file name a browser sent with a file (None for a plain
    field) and its bytes."""

    name: str
    filename: str | None
    content: bytes


async def read_parts(request: Request, limit: int) -> list[Part]:
    """Every named part of the body, in order (at most MAX_PARTS)."""
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
    if len(parts) - 2 > MAX_PARTS:
        raise Malformed(f"A form may have at most {MAX_PARTS} fields.")
    out = []
    for part in parts[1:-1]:
        if not part.startswith(b"\r\n"):
            raise Malformed("A multipart part does not start on a new line.")
        head, sep, content = part[2:].partition(b"\r\n\r\n")
        if not sep or not content.endswith(b"\r\n"):
            raise Malformed("A multipart part has no header block or no line end.")
        disposition = next((line for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-disposition:")), b"")
        name = _NAME.search(disposition)
        if name is None:
            continue
        filename = _FILENAME.search(disposition)
        out.append(Part(name.group(1).decode("latin-1"),
                        filename.group(1).decode("utf-8", "replace") if filename else None,
                        content[:-2]))
    return out


async def read_file_field(request: Request, field: str, limit: int) -> bytes | None:
    """The bytes of form field `field`, or None when the form has no such field."""
    for part in await read_parts(request, limit):
        if part.name == field:
            return part.content
    return None
