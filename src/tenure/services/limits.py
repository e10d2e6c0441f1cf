"""Fixed-window rate limits kept in the database, so every worker and replica counts
into the same number (one atomic upsert per hit; see store/limits_repo.py)."""

from __future__ import annotations

from dataclasses import dataclass

from .ports import Tx


@dataclass(frozen=True, slots=True)
class Limit:
    name: str  # the key prefix, e.g. "reset-ip"
    hits: int  # allowed per window; 0 turns the limit off
    window: int  # seconds

    def over(self, tx: Tx, subject: str, now: int) -> int | None:
        """Count one hit for `subject`; None while within the limit, else the seconds
        until the window ends (the Retry-After)."""
        if self.hits <= 0:
            return None
        start = now - now % self.window
        if tx.rate_limits.hit(f"{self.name}:{subject}", start) <= self.hits:
            return None
        return max(1, start + self.window - now)
