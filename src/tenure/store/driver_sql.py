"""Statements of the device hot path, written once and run at driver level.

Building a SQLAlchemy expression, finding its compiled form and wrapping the result
cost more than the point lookup itself (60-70 µs a statement, measured); these few
statements are plain portable SQL with `:name` parameters, translated once for
psycopg's `%(name)s`, and run on the DBAPI cursor of the unit of work's connection —
the same transaction — returning plain tuples.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection


class DriverSQL:
    def __init__(self, text: str, postgresql: str | None = None) -> None:
        self.sqlite = " ".join(text.split())
        self.postgresql = re.sub(r":(\w+)", r"%(\1)s", " ".join((postgresql or text).split()))

    def _cursor(self, conn: Connection, params: dict[str, Any]) -> Any:
        sql = self.postgresql if conn.dialect.name == "postgresql" else self.sqlite
        if not sql:  # a statement written for one database only, run on the other
            raise RuntimeError(f"no {conn.dialect.name} form of this statement")
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(sql, params)
        return cursor

    def rows(self, conn: Connection, **params: Any) -> list[tuple[Any, ...]]:
        cursor = self._cursor(conn, params)
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def first(self, conn: Connection, **params: Any) -> tuple[Any, ...] | None:
        cursor = self._cursor(conn, params)
        try:
            row = cursor.fetchone()
            return tuple(row) if row is not None else None
        finally:
            cursor.close()

    def rowcount(self, conn: Connection, **params: Any) -> int:
        cursor = self._cursor(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()


# A device request's whole read: the device, its whereabouts and bootloader state, its
# active claims and its pending commands (as JSON arrays, ordered by the caller) and the
# head of its audit stream ("seq hash", for the activation's audit event) — one round
# trip instead of four, which matters most on PostgreSQL.
_DEVICE = """
    SELECT d.device_id, d.model, d.sku, d.market, d.key_type, d.public_key,
           d.activated_at, d.last_checkin_at,
           dt.territory, dt.since, dt.warned_at, dt.warned_rule, db.state AS bootloader,
           (SELECT {agg}({arr}(c.claim_id, c.device_id, c.kind, c.holder, c.holder_hint,
                               c.message, c.contact, c.territory, c.created_at))
            FROM claims c WHERE c.device_id = d.device_id AND c.released_at IS NULL),
           (SELECT {agg}({arr}(m.command_id, m.kind, m.body, m.created_at))
            FROM device_commands m WHERE m.device_id = d.device_id AND m.acked_at IS NULL
              AND m.cancelled_at IS NULL),
           dt.exempt_rules, dt.device_id IS NOT NULL,
           (SELECT a.seq || ' ' || a.hash FROM audit_events a WHERE a.stream = :stream
            ORDER BY a.seq DESC LIMIT 1)
    FROM devices d
    LEFT JOIN device_territory dt ON dt.device_id = d.device_id
    LEFT JOIN device_bootloader db ON db.device_id = d.device_id
    WHERE d.device_id = :device_id
"""
DEVICE = DriverSQL(_DEVICE.format(agg="json_group_array", arr="json_array"),
                   _DEVICE.format(agg="json_agg", arr="json_build_array"))

# PostgreSQL only: the read with the nonce's use folded in, one round trip instead of two
# (decision 0021). A data-modifying WITH runs once and to completion whether or not the
# query reads it; with no such device there is no row, and the caller's rollback (an
# unknown device is refused) takes the insert back.
DEVICE_USING_NONCE = DriverSQL("", """
    WITH used AS (INSERT INTO used_nonces (nonce, expires_at) VALUES (:nonce, :expires_at)
                  ON CONFLICT DO NOTHING RETURNING 1)
""" + _DEVICE.format(agg="json_agg", arr="json_build_array").replace(
    "FROM devices d", ", (SELECT count(*) FROM used) FROM devices d", 1))

USE_NONCE = DriverSQL("""
    INSERT INTO used_nonces (nonce, expires_at) VALUES (:nonce, :expires_at)
    ON CONFLICT DO NOTHING
""")

ACTIVE_CLAIMS = DriverSQL("""
    SELECT claim_id, device_id, kind, holder, holder_hint, message, contact, territory,
           created_at
    FROM claims WHERE device_id = :device_id AND released_at IS NULL
    ORDER BY created_at, claim_id
""")

PENDING_COMMANDS = DriverSQL("""
    SELECT command_id, kind, body FROM device_commands
    WHERE device_id = :device_id AND acked_at IS NULL AND cancelled_at IS NULL
    ORDER BY created_at, command_id
""")

# Writes of every activation (and of each audited device action): the device's
# activation time, its territory memory, and the audit event with its stream's head.
SET_ACTIVATED = DriverSQL("UPDATE devices SET activated_at = :at WHERE device_id = :device_id")

PUT_TERRITORY = DriverSQL("""
    UPDATE device_territory SET territory = :territory, since = :since,
           warned_at = :warned_at, warned_rule = :warned_rule, updated_at = :updated_at
    WHERE device_id = :device_id
""")

# A device's first whereabouts (its first activation): after PUT_TERRITORY found no row,
# or at once when the device read found none.
# This upsert for every put would save that UPDATE, but on SQLite it cost more where the
# row exists (every later put): activations again, in-process with 8 in flight, 455-505
# µs against 350-370. The insert's trigger, or on a conflict the update's, counts the
# change (migration 0014), on both databases.
ADD_TERRITORY = DriverSQL("""
    INSERT INTO device_territory (device_id, territory, since, warned_at, warned_rule,
                                  updated_at)
    VALUES (:device_id, :territory, :since, :warned_at, :warned_rule, :updated_at)
    ON CONFLICT (device_id) DO UPDATE SET territory = excluded.territory,
           since = excluded.since, warned_at = excluded.warned_at,
           warned_rule = excluded.warned_rule, updated_at = excluded.updated_at
""")

AUDIT_HEAD = DriverSQL("""
    SELECT seq, hash FROM audit_events WHERE stream = :stream ORDER BY seq DESC LIMIT 1
""")

_AUDIT_APPEND = """
    INSERT INTO audit_events (stream, seq, at, actor, action, data, prev_hash, hash)
    VALUES (:stream, :seq, :at, :actor, :action, :data, :prev_hash, :hash)
"""
AUDIT_APPEND = DriverSQL(_AUDIT_APPEND)
# After a head read earlier in the transaction: no row when another transaction has
# appended since (PostgreSQL waits for it to end), and the caller reads the head again.
AUDIT_APPEND_IF_HEAD = DriverSQL(_AUDIT_APPEND + " ON CONFLICT DO NOTHING")
