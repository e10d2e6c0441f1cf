"""Policy versions, device whereabouts and device commands."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, union_all, update

from tenure.domain.in_use import TerritoryState
from tenure.services.ports.rows import CommandRow, PolicyVersion

from . import tables as t
from .driver_sql import ADD_TERRITORY, PENDING_COMMANDS, PUT_TERRITORY


def _version(row: Any) -> PolicyVersion:
    return PolicyVersion(row.version, row.document, row.sha256, row.author, row.reason,
                         row.created_at, row.rollback_of)


class PolicyRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def latest_number(self) -> int:
        return int(self.conn.execute(
            select(func.coalesce(func.max(t.policy_versions.c.version), 0))).scalar_one())

    def get(self, version: int) -> PolicyVersion | None:
        row = self.conn.execute(
            select(t.policy_versions).where(t.policy_versions.c.version == version)).first()
        return None if row is None else _version(row)

    def history(self) -> list[PolicyVersion]:
        rows = self.conn.execute(
            select(t.policy_versions).order_by(t.policy_versions.c.version.desc()))
        return [_version(r) for r in rows]

    def add(self, entry: PolicyVersion) -> None:
        """Versions are numbered densely; a racing apply collides on the key and retries."""
        self.conn.execute(insert(t.policy_versions).values(
            version=entry.version, document=entry.document, sha256=entry.sha256,
            author=entry.author, reason=entry.reason, created_at=entry.created_at,
            rollback_of=entry.rollback_of))


# The dry-run's counts: folded totals and appended changes read as one table.
_COUNTS = union_all(
    select(t.territory_counts.c.model, t.territory_counts.c.sku, t.territory_counts.c.market,
           t.territory_counts.c.territory, t.territory_counts.c.in_use,
           t.territory_counts.c.devices),
    select(t.territory_count_changes.c.model, t.territory_count_changes.c.sku,
           t.territory_count_changes.c.market, t.territory_count_changes.c.territory,
           t.territory_count_changes.c.in_use, t.territory_count_changes.c.devices),
).subquery("counted")
_FOLD_LOCK = 0x7465_6E75  # "tenu": one fold at a time among a deployment's processes


class TerritoryRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def put(self, device_id: str, state: TerritoryState, now: int,
            first: bool = False) -> None:
        """`first`: the device read found no whereabouts, so the insert goes first (on
        PostgreSQL a round trip fewer on a first activation); an upsert either way."""
        values = {"device_id": device_id, "territory": state.territory, "since": state.since,
                  "warned_at": state.warned_at, "warned_rule": state.warned_rule,
                  "updated_at": now}
        if first or PUT_TERRITORY.rowcount(self.conn, **values) == 0:
            ADD_TERRITORY.rowcount(self.conn, **values)

    def exempt(self, device_id: str, rules: Sequence[str], now: int) -> None:
        """Add territory rules the device is exempt from (a granted appeal); the rest of
        its whereabouts is kept."""
        c = t.device_territory.c
        current = self.conn.execute(select(c.exempt_rules).where(c.device_id == device_id)
                                    ).scalar_one_or_none()
        merged = sorted(set(json.loads(current) if current else ()) | set(rules))
        value = json.dumps(merged)
        from .repositories import insert_ignoring_duplicates

        statement = (update(t.device_territory).where(c.device_id == device_id)
                     .values(exempt_rules=value))
        if not self.conn.execute(statement).rowcount and not insert_ignoring_duplicates(
                self.conn, t.device_territory, {
                    "device_id": device_id, "territory": None, "since": None,
                    "warned_at": None, "warned_rule": None, "updated_at": now,
                    "exempt_rules": value}):
            self.conn.execute(statement)  # a check-in made the row meanwhile

    def groups(self) -> list[tuple[str, str, str, str, bool, int]]:
        """(model, sku, market, territory, in use, devices): the dry-run's input, as the
        database's triggers keep it (migration 0014): the folded counts plus the changes
        not folded yet, one snapshot, exact whatever else commits meanwhile."""
        rows = self.conn.execute(
            select(_COUNTS.c.model, _COUNTS.c.sku, _COUNTS.c.market, _COUNTS.c.territory,
                   _COUNTS.c.in_use, func.sum(_COUNTS.c.devices).label("n"))
            .group_by(_COUNTS.c.model, _COUNTS.c.sku, _COUNTS.c.market, _COUNTS.c.territory,
                      _COUNTS.c.in_use)
            .having(func.sum(_COUNTS.c.devices) != 0))
        return [(r.model, r.sku, r.market, r.territory, bool(r.in_use), int(r.n)) for r in rows]

    def count_changes_pending(self) -> bool:
        """Whether there are count changes to fold (a read: no write lock taken)."""
        c = t.territory_count_changes
        return self.conn.execute(select(c.c.devices).limit(1)).first() is not None

    def fold_counts(self) -> int:
        """Fold the appended count changes into the counts (the maintenance round);
        the number of changes folded. Changes committed meanwhile stay for the next
        fold; a concurrent fold on PostgreSQL makes this one skip its turn."""
        c, k = t.territory_count_changes, t.territory_counts
        if not self.count_changes_pending():
            return 0
        keys = "model, sku, market, territory, in_use"
        if self.conn.dialect.name == "postgresql":
            if not self.conn.exec_driver_sql(
                    f"SELECT pg_try_advisory_xact_lock({_FOLD_LOCK})").scalar_one():
                return 0
            folded = self.conn.exec_driver_sql(f"""
                WITH moved AS (DELETE FROM territory_count_changes RETURNING *),
                summed AS (INSERT INTO territory_counts ({keys}, devices)
                           SELECT {keys}, sum(devices) FROM moved GROUP BY {keys}
                           ON CONFLICT ({keys}) DO UPDATE
                           SET devices = territory_counts.devices + EXCLUDED.devices
                           RETURNING 1)
                SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM summed)
            """).one()[0]
        else:  # one writer at a time: sum, then empty the changes
            folded = self.conn.execute(select(func.count()).select_from(c)).scalar_one()
            self.conn.exec_driver_sql(f"""
                INSERT INTO territory_counts ({keys}, devices)
                SELECT {keys}, sum(devices) FROM territory_count_changes WHERE true
                GROUP BY {keys}
                ON CONFLICT ({keys}) DO UPDATE SET devices = devices + excluded.devices
            """)
            self.conn.execute(delete(c))
        self.conn.execute(delete(k).where(k.c.devices == 0))
        return int(folded)

    def locked_groups(self) -> list[tuple[str, str, str, str, int]]:
        """(model, sku, market, territory, devices) with an active territory claim."""
        d, c = t.devices, t.claims
        rows = self.conn.execute(
            select(d.c.model, d.c.sku, d.c.market, c.c.territory, func.count().label("n"))
            .select_from(c.join(d, d.c.device_id == c.c.device_id))
            .where(c.c.kind == "territory", c.c.released_at.is_(None))
            .group_by(d.c.model, d.c.sku, d.c.market, c.c.territory))
        return [(r.model, r.sku, r.market, r.territory, int(r.n)) for r in rows]


class CommandRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, device_id: str, kind: str, body: dict[str, Any], now: int,
            issued_by: str | None = None) -> str:
        command_id = secrets.token_hex(8)
        self.conn.execute(insert(t.device_commands).values(
            command_id=command_id, device_id=device_id, kind=kind, body=json.dumps(body),
            created_at=now, issued_by=issued_by))
        return command_id

    def ack(self, device_id: str, command_ids: list[str], now: int) -> None:
        """A cancelled command the device had already received and then carried out is
        acknowledged all the same: the owner's list then says what really happened."""
        if command_ids:
            self.conn.execute(
                update(t.device_commands)
                .where(t.device_commands.c.device_id == device_id,
                       t.device_commands.c.command_id.in_(command_ids),
                       t.device_commands.c.acked_at.is_(None))
                .values(acked_at=now))

    def pending_count(self, device_id: str) -> int:
        c = t.device_commands.c
        return int(self.conn.execute(
            select(func.count()).select_from(t.device_commands)
            .where(c.device_id == device_id, c.acked_at.is_(None), c.cancelled_at.is_(None))
        ).scalar_one())

    def issued_by_account(self, account_id: str, device_ids: Sequence[str], since: int
                          ) -> dict[str, list[CommandRow]]:
        """The account's commands to these devices: every one still pending and the rest
        made since `since`, oldest first — one statement for the whole list."""
        c = t.device_commands.c
        out: dict[str, list[CommandRow]] = {d: [] for d in device_ids}
        if not device_ids:
            return out
        rows = self.conn.execute(
            select(c.command_id, c.device_id, c.kind, c.created_at, c.acked_at,
                   c.cancelled_at)
            .where(c.issued_by == account_id, c.device_id.in_(list(device_ids)),
                   or_(c.created_at >= since,
                       and_(c.acked_at.is_(None), c.cancelled_at.is_(None))))
            .order_by(c.created_at, c.command_id))
        for r in rows:
            out.setdefault(r.device_id, []).append(CommandRow(
                r.command_id, r.device_id, r.kind, r.created_at, r.acked_at, r.cancelled_at))
        return out

    def cancel_issued(self, account_id: str, kind: str, now: int) -> list[tuple[str, str]]:
        """Cancel the account's pending commands of this kind; (command id, device id)
        of each, for the audit trail."""
        c = t.device_commands.c
        pending = (c.issued_by == account_id, c.kind == kind, c.acked_at.is_(None),
                   c.cancelled_at.is_(None))
        found = [(r.command_id, r.device_id) for r in self.conn.execute(
            select(c.command_id, c.device_id).where(*pending).order_by(c.command_id))]
        if found:
            self.conn.execute(update(t.device_commands).where(*pending)
                              .values(cancelled_at=now))
        return found

    def pending(self, device_id: str) -> list[dict[str, Any]]:
        rows = PENDING_COMMANDS.rows(self.conn, device_id=device_id)
        return [{"id": command_id, "type": kind, **json.loads(body)}
                for command_id, kind, body in rows]

    def cancel_pending(self, device_id: str, now: int) -> int:
        """Cancel every command the device has not acknowledged (it changed hands: the
        seller's ring or wipe must not reach the buyer)."""
        c = t.device_commands.c
        return int(self.conn.execute(
            update(t.device_commands)
            .where(c.device_id == device_id, c.acked_at.is_(None), c.cancelled_at.is_(None))
            .values(cancelled_at=now)).rowcount)
