"""A progress display for long commands, on stderr (stdout stays for the result).

On a terminal, one line redrawn in place (at most ten times a second): a bar, the
share done, counts, the rate and the time left. Elsewhere (a pipe, a log file, CI) a
plain line now and then, so that a log shows the command is alive without filling up.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24
REDRAW_SECONDS = 0.1
LOG_SECONDS = 10.0


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    def __init__(self, stream: TextIO | None = None, interactive: bool | None = None,
                 log_seconds: float = LOG_SECONDS) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.every = REDRAW_SECONDS if self.interactive else log_seconds
        self.started = time.monotonic()
        self.shown = self.started
        self.drawn = False
        self.logged = False

    def update(self, done: float, detail: str, count: int = 0, unit: str = "rows",
               force: bool = False) -> None:
        """`done`: the share finished (0..1); `count` of `unit` so far, for the rate.
        `force`: show it now (a new stage) — in a log only if the command has logged
        before: a short run leaves no progress lines at all."""
        now = time.monotonic()
        due = now - self.shown >= self.every
        if not (due or (force and (self.interactive or self.logged))):
            return
        self.shown = now
        done = min(1.0, max(0.0, done))
        elapsed = now - self.started
        rate = f", {count / elapsed:,.0f} {unit}/s" if count and elapsed > 0 else ""
        left = (f", {_duration(elapsed * (1 - done) / done)} left"
                if 0.02 < done < 1 and elapsed > 1 else "")
        if self.interactive:
            filled = int(BAR_WIDTH * done)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.stream.write(f"\r[{bar}] {done:4.0%} {detail}{rate}{left}\x1b[K")
            self.drawn = True
        else:
            self.stream.write(f"{done:.0%} {detail}{rate}{left}\n")
            self.logged = True
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line, so that what follows starts on its own."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
