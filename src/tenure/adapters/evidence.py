"""Evidence files of appeal cases, on disk under the data directory, named by SHA-256.

Outside the database on purpose: a receipt scan is up to 10 MiB, and the database keeps
only its hash, type and size. Files are written whole to a temporary name and renamed,
readable by the server's user only (0600, in a 0700 directory); the same content is
stored once. A file left behind by a transaction that rolled back is harmless (nothing
points at it) and is overwritten by the same content next time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from pathlib import Path

_SHA256 = re.compile(r"[0-9a-f]{64}")


class FileEvidence:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.directory / digest
        if target.exists():
            return digest
        temporary = self.directory / f".{digest}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        return digest

    def read(self, sha256: str) -> bytes | None:
        if not _SHA256.fullmatch(sha256):
            return None
        try:
            return (self.directory / sha256).read_bytes()
        except FileNotFoundError:
            return None
