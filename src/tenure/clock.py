"""Clocks passed to services, so that tests can move through a 72-hour window."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int: ...


class SystemClock:
    def now(self) -> int:
        return int(time.time())


class FixedClock:
    """For unit and integration tests: time moves only when told to."""

    def __init__(self, start: int = 1_763_700_000) -> None:
        self.current = start

    def now(self) -> int:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += int(seconds)


class OffsetFileClock:
    """System time plus an offset read from a file: lets end-to-end tests move a running
    server's clock. Enabled only by TENURE_CLOCK_OFFSET_FILE; never set it in production."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> int:
        try:
            offset = float(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            offset = 0.0
        return int(time.time() + offset)
