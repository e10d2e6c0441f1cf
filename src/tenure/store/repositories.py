"""Repositories: point lookups and writes on one connection (the unit of work's)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Table,
    and_,
    any_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from tenure.domain.in_use import TerritoryState
from tenure.domain.model import Claim, ClaimKind, Device, claim_order
from tenure.services.ports.rows import (
    AccountRow,
    ClaimEntry,
    OwnedDevice,
    SessionRow,
    StoredDevice,
)

from . import tables as t
from .audit import GENESIS, AuditHeads
from .driver_sql import ACTIVE_CLAIMS, DEVICE, DEVICE_USING_NONCE, SET_ACTIVATED, USE_NONCE


def insert_ignoring_duplicates(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was new.

    Used where a duplicate is an answer (a replayed nonce), not an error: an
    IntegrityError would abort the whole PostgreSQL transaction.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing()
    # INSERT row counts are only reported on request (psycopg answers -1 otherwise).
    result = conn.execute(statement, execution_options={"preserve_rowcount": True})
    return result.rowcount == 1


def _among(conn: Connection, column: Any, values: Sequence[str]) -> Any:
    """`column IN values`; on PostgreSQL as `= ANY(array)`, one parameter instead of
    thousands (the batch lookups of an import), written as one array literal: the
    driver's list adapter checks every element with a regular expression, which cost
    an import more than the lookups themselves."""
    if conn.dialect.name == "postgresql":
        return column == any_(cast(bindparam(None, _array_literal(values), type_=String),
                                   postgresql.ARRAY(String)))
    return column.in_(values)


def _array_literal(values: Sequence[str]) -> str:
    """`{"a","b"}`: every element quoted, so only a quote or backslash needs escaping."""
    if not values:
        return "{}"
    joined = '","'.join(values)
    if "\\" in joined or joined.count('"') != 2 * (len(values) - 1):
        joined = '","'.join(v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return '{"' + joined + '"}'


_NOTE_CHECKIN = (
    update(t.devices)
    .where(t.devices.c.device_id == bindparam("b_device_id"),
           or_(t.devices.c.last_checkin_at.is_(None),
               t.devices.c.last_checkin_at < bindparam("b_at")))
    .values(last_checkin_at=bindparam("b_at"))
)

DEVICE_COLUMNS = ("device_id", "model", "sku", "market", "key_type", "public_key",
                  "provisioned_at")


class DeviceRepo:
    def __init__(self, conn: Connection, audit_heads: AuditHeads | None = None) -> None:
        self.conn = conn
        self.audit_heads = {} if audit_heads is None else audit_heads

    def get(self, device_id: str) -> StoredDevice | None:
        """The device with its whereabouts and bootloader state: one indexed lookup."""
        stream = f"device:{device_id}"
        found = DEVICE.rows(self.conn, device_id=device_id, stream=stream)
        return self._stored(stream, found[0]) if found else None

    def _stored(self, stream: str, row: tuple[Any, ...]) -> StoredDevice:
        """The device; the head of its audit stream goes to the transaction's audit log,
        which then appends without reading it again (store/audit.py)."""
        head = row[-1]
        if head is None:
            self.audit_heads[stream] = (0, GENESIS)
        else:
            seq, digest = str(head).split(" ", 1)
            self.audit_heads[stream] = (int(seq), digest)
        return _stored_device(row[:-1])

    def get_using_nonce(self, device_id: str, nonce: str,
                        expires_at: int) -> tuple[StoredDevice | None, bool]:
        """`get`, and the nonce recorded as used: (the device, whether the nonce was
        unused). On PostgreSQL one statement (a round trip saved on every device
        request); SQLite has no round trips to save and no INSERT inside WITH."""
        if self.conn.dialect.name != "postgresql":
            fresh = USE_NONCE.rowcount(self.conn, nonce=nonce, expires_at=expires_at) == 1
            return self.get(device_id), fresh
        stream = f"device:{device_id}"
        found = DEVICE_USING_NONCE.rows(self.conn, device_id=device_id, nonce=nonce,
                                        expires_at=expires_at, stream=stream)
        if not found:
            return None, True
        return self._stored(stream, found[0][:-1]), found[0][-1] == 1

    def set_activated(self, device_id: str, at: int | None) -> None:
        SET_ACTIVATED.rowcount(self.conn, device_id=device_id, at=at)

    def existing_ids(self, device_ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """Stored devices among these ids, with every field a re-import must match:
        (model, sku, market, public key, sorted IMEIs)."""
        rows = self.conn.execute(
            select(t.devices.c.device_id, t.devices.c.model, t.devices.c.sku,
                   t.devices.c.market, t.devices.c.public_key)
            .where(_among(self.conn, t.devices.c.device_id, device_ids))
        ).all()
        imeis: dict[str, list[str]] = {r.device_id: [] for r in rows}
        if imeis:
            for r in self.conn.execute(
                select(t.device_imeis.c.device_id, t.device_imeis.c.imei)
                .where(_among(self.conn, t.device_imeis.c.device_id, list(imeis)))
            ):
                imeis[r.device_id].append(r.imei)
        return {r.device_id: (r.model, r.sku, r.market, bytes(r.public_key),
                              tuple(sorted(imeis[r.device_id]))) for r in rows}

    def existing_imeis(self, imeis: Sequence[str]) -> dict[str, str]:
        rows = self.conn.execute(
            select(t.device_imeis.c.imei, t.device_imeis.c.device_id)
            .where(_among(self.conn, t.device_imeis.c.imei, imeis))
        )
        return {r.imei: r.device_id for r in rows}

    def imeis_of(self, device_id: str) -> list[str]:
        """The device's IMEIs, sorted (the status statement names the first)."""
        return list(self.conn.execute(
            select(t.device_imeis.c.imei).where(t.device_imeis.c.device_id == device_id)
            .order_by(t.device_imeis.c.imei)).scalars())

    def insert_many(self, devices: list[tuple[Any, ...]], imeis: list[tuple[str, str]]) -> None:
        """Bulk insert, inside the unit of work's transaction: COPY on PostgreSQL, one
        executemany on SQLite. Rows are tuples in the order of DEVICE_COLUMNS and
        (imei, device_id)."""
        raw = self.conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            if self.conn.dialect.name == "postgresql":
                for table, columns, rows in (("devices", DEVICE_COLUMNS, devices),
                                             ("device_imeis", ("imei", "device_id"), imeis)):
                    if rows:
                        with cursor.copy(f"COPY {table} ({', '.join(columns)}) "
                                         "FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
            else:
                if devices:
                    cursor.executemany(
                        f"INSERT INTO devices ({', '.join(DEVICE_COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(DEVICE_COLUMNS))})", devices)
                if imeis:
                    cursor.executemany(
                        "INSERT INTO device_imeis (imei, device_id) VALUES (?, ?)", imeis)
        finally:
            cursor.close()

    def owned_by(self, account_id: str) -> list[OwnedDevice]:
        """The devices this account owns, with what the portal lists: one query."""
        d, c, b = t.devices, t.claims, t.device_bootloader
        rows = self.conn.execute(
            select(d.c.device_id, d.c.model, d.c.last_checkin_at, b.c.state,
                   c.c.created_at)
            .select_from(c.join(d, d.c.device_id == c.c.device_id)
                         .outerjoin(b, b.c.device_id == d.c.device_id))
            .where(c.c.holder == account_id, c.c.kind == ClaimKind.OWNER.value,
                   c.c.released_at.is_(None))
            .order_by(c.c.created_at, c.c.claim_id))
        return [OwnedDevice(r.device_id, r.model, r.last_checkin_at, r.state, r.created_at)
                for r in rows]

    def note_checkins(self, seen: Mapping[str, int]) -> None:
        """Write batched last check-in times; an older time never overwrites a newer one."""
        if seen:
            self.conn.execute(_NOTE_CHECKIN, [{"b_device_id": d, "b_at": at}
                                              for d, at in seen.items()])

    def count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.devices)).scalar_one())


def _json_rows(value: Any) -> list[Any]:
    """SQLite hands back aggregated JSON as text, psycopg already decoded (or None)."""
    if value is None:
        return []
    return list(json.loads(value) if isinstance(value, str | bytes) else value)


def _claim_from_tuple(row: tuple[Any, ...] | list[Any]) -> Claim:
    claim_id, device_id, kind, holder, hint, message, contact, territory, created_at = row
    return Claim(claim_id=claim_id, device_id=device_id, kind=ClaimKind(kind), holder=holder,
                 created_at=created_at, holder_hint=hint, message=message, contact=contact,
                 territory=territory)


class ClaimRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def active(self, device_id: str) -> tuple[Claim, ...]:
        rows = ACTIVE_CLAIMS.rows(self.conn, device_id=device_id)
        return tuple(sorted(map(_claim_from_tuple, rows), key=claim_order))

    def active_for_devices(self, device_ids: Sequence[str]) -> dict[str, list[Claim]]:
        found: dict[str, list[Claim]] = {d: [] for d in device_ids}
        if not device_ids:
            return found
        c = t.claims.c
        rows = self.conn.execute(
            select(c.claim_id, c.device_id, c.kind, c.holder, c.holder_hint, c.message,
                   c.contact, c.territory, c.created_at)
            .where(_among(self.conn, c.device_id, list(device_ids)), c.released_at.is_(None))
            .order_by(c.created_at, c.claim_id)
        )
        for row in rows:
            claim = _claim_from_tuple(tuple(row))
            found[claim.device_id].append(claim)
        return {device_id: sorted(claims, key=claim_order) for device_id, claims in found.items()}

    def add(self, claim: Claim) -> None:
        self.conn.execute(insert(t.claims).values(
            claim_id=claim.claim_id, device_id=claim.device_id, kind=claim.kind.value,
            holder=claim.holder, holder_hint=claim.holder_hint, message=claim.message,
            contact=claim.contact, territory=claim.territory, created_at=claim.created_at,
        ))

    def add_many(self, claims: Sequence[Claim]) -> None:
        """Insert many claims in one statement (a fleet claim)."""
        if claims:
            self.conn.execute(insert(t.claims), [{
                "claim_id": c.claim_id, "device_id": c.device_id, "kind": c.kind.value,
                "holder": c.holder, "holder_hint": c.holder_hint, "message": c.message,
                "contact": c.contact, "territory": c.territory, "created_at": c.created_at,
            } for c in claims])

    def release(self, claim_id: str, at: int, by: str) -> bool:
        result = self.conn.execute(
            update(t.claims)
            .where(t.claims.c.claim_id == claim_id, t.claims.c.released_at.is_(None))
            .values(released_at=at, released_by=by)
        )
        return result.rowcount == 1

    def set_text(self, claim_id: str, message: str, contact: str) -> bool:
        """Change what a held claim shows (an owner editing their lost-mode message)."""
        result = self.conn.execute(
            update(t.claims)
            .where(t.claims.c.claim_id == claim_id, t.claims.c.released_at.is_(None))
            .values(message=message, contact=contact)
        )
        return result.rowcount == 1

    def held_by(self, holder: str) -> list[Claim]:
        """Every held claim of one holder (a tenant being disabled), oldest first."""
        c = t.claims.c
        rows = self.conn.execute(
            select(c.claim_id, c.device_id, c.kind, c.holder, c.holder_hint, c.message,
                   c.contact, c.territory, c.created_at)
            .where(c.holder == holder, c.released_at.is_(None))
            .order_by(c.created_at, c.claim_id))
        return [_claim_from_tuple(tuple(r)) for r in rows]

    def history(self, device_id: str) -> list[ClaimEntry]:
        """Every claim ever made on the device, held or released, in the order made."""
        c = t.claims.c
        rows = self.conn.execute(
            select(c.claim_id, c.device_id, c.kind, c.holder, c.holder_hint, c.message,
                   c.contact, c.territory, c.created_at, c.released_at, c.released_by)
            .where(c.device_id == device_id).order_by(c.created_at, c.claim_id))
        return [ClaimEntry(_claim_from_tuple(tuple(r)[:9]), r.released_at, r.released_by)
                for r in rows]

    def active_device_ids_held_by(self, holder: str, kind: ClaimKind) -> list[str]:
        rows = self.conn.execute(
            select(t.claims.c.device_id)
            .where(t.claims.c.holder == holder, t.claims.c.kind == kind.value,
                   t.claims.c.released_at.is_(None))
            .order_by(t.claims.c.created_at)
        )
        return [r.device_id for r in rows]


ERASED = "!"  # no password hash has this form: nothing verifies against it


class AccountRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _one(self, condition: Any) -> AccountRow | None:
        row = self.conn.execute(select(t.accounts).where(condition)).first()
        return None if row is None else AccountRow(
            row.account_id, row.email, row.password_hash, row.password_changed_at,
            row.created_at, row.locale)

    def by_email(self, email: str) -> AccountRow | None:
        return self._one(t.accounts.c.email == email)

    def by_id(self, account_id: str) -> AccountRow | None:
        return self._one(t.accounts.c.account_id == account_id)

    def create(self, account_id: str, email: str, password_hash: str, now: int,
               locale: str | None = None) -> bool:
        return insert_ignoring_duplicates(self.conn, t.accounts, {
            "account_id": account_id, "email": email, "password_hash": password_hash,
            "password_changed_at": None, "created_at": now, "locale": locale,
        })

    def lock(self, account_id: str) -> None:
        """Hold the account row until the transaction ends (FOR UPDATE on PostgreSQL;
        SQLite's BEGIN IMMEDIATE already serialises writers), so that a read-decide-write
        on the account's behalf (the unlock quota) cannot interleave with another."""
        self.conn.execute(select(t.accounts.c.account_id)
                          .where(t.accounts.c.account_id == account_id).with_for_update())

    def set_password(self, account_id: str, password_hash: str, now: int) -> None:
        self.conn.execute(
            update(t.accounts).where(t.accounts.c.account_id == account_id)
            .values(password_hash=password_hash, password_changed_at=now)
        )

    def erase(self, account_id: str, now: int) -> None:
        """A deleted account (docs/redress.md): the row stays as a tombstone with its
        opaque id only, so that audit events and released claims that name it stay
        valid; the email becomes `deleted:<id>` (never a valid address, and the real
        one is free to register again) and the password hash is blanked, so nothing
        can sign in as it."""
        self.conn.execute(
            update(t.accounts).where(t.accounts.c.account_id == account_id)
            .values(email=f"deleted:{account_id}", password_hash=ERASED, password_changed_at=now))

    def rehash(self, account_id: str, password_hash: str) -> None:
        """Upgrade hash parameters without counting as a password change."""
        self.conn.execute(
            update(t.accounts).where(t.accounts.c.account_id == account_id)
            .values(password_hash=password_hash)
        )


class SessionRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, token_hash: str, account_id: str, now: int, expires_at: int,
               factor: str = "password") -> None:
        self.conn.execute(insert(t.sessions).values(
            token_hash=token_hash, account_id=account_id, authenticated_at=now,
            expires_at=expires_at, factor=factor))

    def get(self, token_hash: str) -> SessionRow | None:
        row = self.conn.execute(
            select(t.sessions).where(t.sessions.c.token_hash == token_hash)).first()
        return None if row is None else SessionRow(
            row.account_id, row.authenticated_at, row.expires_at, row.revoked_at, row.factor)

    def revoke_all(self, account_id: str, now: int) -> None:
        self.conn.execute(
            update(t.sessions)
            .where(t.sessions.c.account_id == account_id, t.sessions.c.revoked_at.is_(None))
            .values(revoked_at=now))

    def revoke(self, token_hash: str, now: int) -> None:
        self.conn.execute(
            update(t.sessions)
            .where(t.sessions.c.token_hash == token_hash, t.sessions.c.revoked_at.is_(None))
            .values(revoked_at=now))

    def delete_all(self, account_id: str) -> None:
        self.conn.execute(delete(t.sessions).where(t.sessions.c.account_id == account_id))


class NonceRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def use(self, nonce: str, expires_at: int) -> bool:
        """Record a nonce as used; False when it already was (a replay)."""
        return USE_NONCE.rowcount(self.conn, nonce=nonce, expires_at=expires_at) == 1

    def purge(self, now: int) -> int:
        return self.conn.execute(
            delete(t.used_nonces).where(t.used_nonces.c.expires_at < now)).rowcount


class ResetRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, token_hash: str, account_id: str, now: int, expires_at: int) -> None:
        self.conn.execute(insert(t.password_resets).values(
            token_hash=token_hash, account_id=account_id, created_at=now, expires_at=expires_at))

    def redeem(self, token_hash: str, now: int) -> str | None:
        """Mark an unexpired, unused token used; return its account, or None."""
        row = self.conn.execute(
            select(t.password_resets.c.account_id).where(
                and_(t.password_resets.c.token_hash == token_hash,
                     t.password_resets.c.used_at.is_(None),
                     t.password_resets.c.expires_at > now))).first()
        if row is None:
            return None
        done = self.conn.execute(
            update(t.password_resets)
            .where(t.password_resets.c.token_hash == token_hash,
                   t.password_resets.c.used_at.is_(None))
            .values(used_at=now))
        return row.account_id if done.rowcount == 1 else None

    def invalidate_for(self, account_id: str, now: int) -> None:
        self.conn.execute(
            update(t.password_resets)
            .where(t.password_resets.c.account_id == account_id,
                   t.password_resets.c.used_at.is_(None))
            .values(used_at=now))

    def delete_all(self, account_id: str) -> None:
        self.conn.execute(
            delete(t.password_resets).where(t.password_resets.c.account_id == account_id))


def _stored_device(row: tuple[Any, ...]) -> StoredDevice:
    (device_id, model, sku, market, key_type, public_key, activated_at, last_checkin_at,
     territory, since, warned_at, warned_rule, bootloader, claims, commands,
     exempt_rules, whereabouts_stored) = row
    device = Device(device_id, model, sku, market, activated_at=activated_at)
    claim_rows = _json_rows(claims)
    command_rows = sorted(_json_rows(commands), key=lambda r: (r[3], r[0]))
    return StoredDevice(
        device, key_type, bytes(public_key), last_checkin_at,
        TerritoryState(territory, since, warned_at, warned_rule), bootloader,
        tuple(sorted(map(_claim_from_tuple, claim_rows), key=claim_order)),
        tuple({"id": c, "type": k, **json.loads(b)} for c, k, b, _ in command_rows),
        tuple(json.loads(exempt_rules)) if exempt_rules else (), bool(whereabouts_stored))
