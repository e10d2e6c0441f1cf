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
    def __init__(self, text: str) -> None:
        self.sqlite = " ".join(text.split())
        self.postgresql = re.sub(r":(\w+)", r"%(\1)s", self.sqlite)

    def _cursor(self, conn: Connection, params: dict[str, Any]) -> Any:
        sql = self.postgresql if conn.dialect.name == "postgresql" else self.sqlite
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(sql, params)
        return cursor

    def rows(self, conn: Connection, **params: Any) -> list[tuple[Any, ...]]:
        cursor = self._cursor(conn, params)
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def rowcount(self, conn: Connection, **params: Any) -> int:
        cursor = self._cursor(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()


DEVICE = DriverSQL("""
    SELECT d.device_id, d.model, d.sku, d.market, d.key_type, d.public_key,
           d.activated_at, d.last_checkin_at,
           dt.territory, dt.since, dt.warned_at, dt.warned_rule, db.state AS bootloader
    FROM devices d
    LEFT JOIN device_territory dt ON dt.device_id = d.device_id
    LEFT JOIN device_bootloader db ON db.device_id = d.device_id
    WHERE d.device_id = :device_id
""")

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
    WHERE device_id = :device_id AND acked_at IS NULL
    ORDER BY created_at, command_id
""")
