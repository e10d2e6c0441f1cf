"""Counters that must hold under concurrency: the sign-in throttle, fixed-window rate
limits, and the queue of password-reset requests.

Every count is one atomic statement (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`,
SQLite ≥ 3.35 and PostgreSQL): concurrent requests on any worker or replica each see
their own number, never a value read before another request wrote.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Connection, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from . import tables as t


def _upsert(conn: Connection) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert


class ThrottleRepo:
    """Consecutive sign-in attempts per key (`email:<address>` or `ip:<address>`)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def admit(self, key: str, now: int, forget_before: int) -> int | None:
        """Count one attempt and return the count including it — or None, counting
        nothing, while the key is paused. A count whose last attempt is older than
        `forget_before` starts again at one."""
        lt = t.login_throttle
        statement = _upsert(self.conn)(lt).values(
            key=key, failures=1, blocked_until=0, last_failure_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=[lt.c.key],
            set_={"failures": case((lt.c.last_failure_at < forget_before, 1),
                                   else_=lt.c.failures + 1),
                  "last_failure_at": now},
            where=lt.c.blocked_until <= now,
        ).returning(lt.c.failures)
        row = self.conn.execute(statement).first()
        return None if row is None else int(row.failures)

    def blocked_until(self, key: str) -> int:
        found = self.conn.execute(select(t.login_throttle.c.blocked_until)
                                  .where(t.login_throttle.c.key == key)).scalar()
        return int(found or 0)

    def failures(self, key: str) -> int:
        found = self.conn.execute(select(t.login_throttle.c.failures)
                                  .where(t.login_throttle.c.key == key)).scalar()
        return int(found or 0)

    def block(self, key: str, until: int) -> None:
        self.conn.execute(
            update(t.login_throttle).where(t.login_throttle.c.key == key)
            .values(blocked_until=until))

    def forgive(self, key: str, blocked_until: int | None) -> None:
        """Take back one admitted attempt that succeeded, and the pause it set, if any."""
        lt = t.login_throttle
        values: dict[str, Any] = {"failures": lt.c.failures - 1}
        if blocked_until is not None:
            values["blocked_until"] = case((lt.c.blocked_until == blocked_until, 0),
                                           else_=lt.c.blocked_until)
        self.conn.execute(update(lt).where(lt.c.key == key, lt.c.failures > 0).values(**values))

    def clear(self, key: str) -> None:
        self.conn.execute(delete(t.login_throttle).where(t.login_throttle.c.key == key))


class RateLimitRepo:
    """Fixed-window hit counters (`<limit>:<subject>` keys)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def hit(self, key: str, window_start: int) -> int:
        """Count one hit in the window starting at `window_start`; return the count."""
        rl = t.rate_limits
        statement = _upsert(self.conn)(rl).values(key=key, window_start=window_start, hits=1)
        statement = statement.on_conflict_do_update(
            index_elements=[rl.c.key],
            set_={"hits": case((rl.c.window_start == window_start, rl.c.hits + 1), else_=1),
                  "window_start": window_start},
        ).returning(rl.c.hits)
        return int(self.conn.execute(statement).scalar_one())

    def purge(self, before: int) -> None:
        self.conn.execute(delete(t.rate_limits).where(t.rate_limits.c.window_start < before))


class ResetRequestRepo:
    """Password-reset requests waiting for the background worker (one row each, the same
    whether or not the address has an account)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, email: str, now: int) -> None:
        self.conn.execute(t.reset_requests.insert().values(
            request_id=secrets.token_hex(16), email=email, created_at=now))

    def due(self, limit: int) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            select(t.reset_requests.c.request_id, t.reset_requests.c.email)
            .order_by(t.reset_requests.c.created_at).limit(limit))
        return [(r.request_id, r.email) for r in rows]

    def take(self, request_id: str) -> bool:
        """Remove the request; False when another worker took it first."""
        return self.conn.execute(delete(t.reset_requests).where(
            t.reset_requests.c.request_id == request_id)).rowcount == 1
