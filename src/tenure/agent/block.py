"""Where a device keeps what it knows: the persistent block and the user-data partition.

A *block* holds named documents. The persistent block survives factory resets
(identity, device key, pinned keys, last verified record, bootloader state); the
user-data partition is what a reset wipes (the signed-in session). On a real device
they are flash partitions; here a directory (the CLI) or memory (tests, embedding).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol

from tenure.crypto.keyring import write_secret_file


class Block(Protocol):
    def read(self, name: str) -> bytes | None:
        """The document's bytes, or None when there is none."""
        ...

    def write(self, name: str, data: bytes) -> None:
        """Replace the document as a whole (a crash leaves the old or the new one)."""
        ...

    def wipe(self) -> None:
        """Forget every document."""
        ...


class MemoryBlock:
    """A block in memory: a device that lives as long as its process."""

    def __init__(self) -> None:
        self._documents: dict[str, bytes] = {}

    def read(self, name: str) -> bytes | None:
        return self._documents.get(name)

    def write(self, name: str, data: bytes) -> None:
        self._documents[name] = bytes(data)

    def wipe(self) -> None:
        self._documents.clear()


class DirectoryBlock:
    """A block as a directory of files readable by their owner only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, name: str) -> bytes | None:
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, name: str, data: bytes) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_secret_file(self.path / name, data)

    def wipe(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
