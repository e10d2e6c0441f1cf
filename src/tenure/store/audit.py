"""The audit trail: append-only, hash-chained per stream, verifiable offline.

One chain per stream (`device:<id>`, `account:<id>`, `system`) rather than one global
chain: appends for different devices never contend, which keeps the schema fit for
engines that shard by device. Two appends racing on one stream collide on the
(stream, seq) key and the unit of work retries the loser.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select

from tenure.services.ports.rows import AuditEntry, AuditFilter, ChainCheck

from . import tables as t
from .driver_sql import AUDIT_APPEND, AUDIT_APPEND_IF_HEAD, AUDIT_HEAD, DriverSQL

GENESIS = "0" * 64
# The heads of streams this transaction knows (stream -> (seq, hash)): the device read
# brings its stream's (store/driver_sql.py), and each append moves it on.
AuditHeads = dict[str, tuple[int, str]]


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev_hash: str, stream: str, seq: int, at: int, actor: str, action: str,
               data: str) -> str:
    body = canonical([prev_hash, stream, seq, at, actor, action, data])
    return hashlib.sha256(body.encode()).hexdigest()


class AuditLog:
    def __init__(self, conn: Connection, heads: AuditHeads | None = None) -> None:
        self.conn = conn
        self.heads = {} if heads is None else heads

    def record(self, stream: str, action: str, actor: str, at: int, **data: Any) -> None:
        # At driver level (store/driver_sql.py): every activation appends one, after
        # the device read that brought its stream's head. That head may be stale by now
        # (another transaction appended while this one waited on a lock): then the
        # append takes no row and the head is read again, as it always was before.
        payload = canonical(data)
        known = self.heads.get(stream)
        if known is not None and self._append(AUDIT_APPEND_IF_HEAD, known, stream, at,
                                              actor, action, payload):
            return
        head = AUDIT_HEAD.first(self.conn, stream=stream)
        # Racing appends collide on (stream, seq) here, and the unit of work retries.
        self._append(AUDIT_APPEND, (int(head[0]), str(head[1])) if head else (0, GENESIS),
                     stream, at, actor, action, payload)

    def _append(self, statement: DriverSQL, head: tuple[int, str], stream: str, at: int,
                actor: str, action: str, payload: str) -> bool:
        """Append after `head`; whether the row went in (the stream's head moves on)."""
        seq, prev = head[0] + 1, head[1]
        digest = event_hash(prev, stream, seq, at, actor, action, payload)
        if not statement.rowcount(self.conn, stream=stream, seq=seq, at=at, actor=actor,
                                  action=action, data=payload, prev_hash=prev, hash=digest):
            return False
        self.heads[stream] = (seq, digest)
        return True

    def record_many(self, action: str, actor: str, at: int,
                    entries: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """One event of `action` on each (stream, data): the heads of every stream read
        in one query and the rows written in one statement (a fleet claim of thousands
        of devices). Each stream appears at most once."""
        if not entries:
            return
        ae = t.audit_events.c
        streams = [stream for stream, _ in entries]
        if len(set(streams)) != len(streams):
            raise ValueError("record_many: a stream appears twice")
        heads: dict[str, tuple[int, str]] = {}
        for start in range(0, len(streams), 5000):
            part = streams[start:start + 5000]
            last = (select(ae.stream, func.max(ae.seq).label("seq"))
                    .where(ae.stream.in_(part)).group_by(ae.stream).subquery())
            rows = self.conn.execute(
                select(ae.stream, ae.seq, ae.hash).join(
                    last, (last.c.stream == ae.stream) & (last.c.seq == ae.seq)))
            heads.update({r.stream: (r.seq, r.hash) for r in rows})
        values, moved = [], {}
        for stream, data in entries:
            seq, prev = heads.get(stream, (0, GENESIS))
            payload = canonical(data)
            digest = event_hash(prev, stream, seq + 1, at, actor, action, payload)
            values.append({"stream": stream, "seq": seq + 1, "at": at, "actor": actor,
                           "action": action, "data": payload, "prev_hash": prev,
                           "hash": digest})
            moved[stream] = (seq + 1, digest)
        self.conn.execute(insert(t.audit_events), values)
        self.heads.update(moved)

    def search(self, where: AuditFilter, limit: int) -> list[AuditEntry]:
        """Events matching `where`, newest first (then by stream and seq, so that a
        listing continued with `where.before` neither skips nor repeats one).

        With a stream the primary key finds them; without one this reads the table in
        time order, which an operator does now and then, not on a hot path."""
        ae = t.audit_events.c
        query = select(t.audit_events)
        if where.stream is not None:
            query = query.where(ae.stream == where.stream)
        if where.action:
            query = query.where(ae.action.startswith(where.action, autoescape=True))
        if where.actor is not None:
            query = query.where(ae.actor == where.actor)
        if where.since is not None:
            query = query.where(ae.at >= where.since)
        if where.until is not None:
            query = query.where(ae.at < where.until)
        if where.before is not None:
            at, stream, seq = where.before
            query = query.where(or_(ae.at < at, and_(ae.at == at, ae.stream < stream),
                                    and_(ae.at == at, ae.stream == stream, ae.seq < seq)))
        rows = self.conn.execute(query.order_by(ae.at.desc(), ae.stream.desc(),
                                                ae.seq.desc()).limit(limit))
        return [AuditEntry(r.stream, r.seq, r.at, r.actor, r.action, r.data) for r in rows]

    def verify_stream(self, stream: str, limit: int) -> ChainCheck:
        """Walk one stream's chain from its first event, at most `limit` events."""
        rows = self.conn.execute(
            select(t.audit_events).where(t.audit_events.c.stream == stream)
            .order_by(t.audit_events.c.seq).limit(limit + 1)).all()
        checked, prev = 0, GENESIS
        for row in rows[:limit]:
            broken = _broken(row, checked + 1, prev)
            if broken is not None:
                return ChainCheck(checked, broken)
            prev, checked = row.hash, checked + 1
        return ChainCheck(checked, None, complete=len(rows) <= limit)

    def events(self, stream: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            select(t.audit_events).where(t.audit_events.c.stream == stream)
            .order_by(t.audit_events.c.seq))
        return [{"seq": r.seq, "at": r.at, "actor": r.actor, "action": r.action,
                 "data": json.loads(r.data)} for r in rows]


@dataclass(frozen=True)
class Verification:
    events: int
    streams: int
    broken: str | None  # the first broken link, described for a person

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_chain(conn: Connection, progress: Any = None) -> Verification:
    """Walk every stream in order; report the first row whose link or hash is wrong."""
    count = streams = 0
    stream, expected_seq, prev = None, 1, GENESIS
    for row in _all_rows(conn):
        if row.stream != stream:
            stream, expected_seq, prev = row.stream, 1, GENESIS
            streams += 1
        broken = _broken(row, expected_seq, prev)
        if broken is not None:
            return Verification(count, streams, broken)
        prev, expected_seq = row.hash, expected_seq + 1
        count += 1
        if progress is not None and count % 100_000 == 0:
            progress(count)
    return Verification(count, streams, None)


def _broken(row: Any, expected_seq: int, prev: str) -> str | None:
    """What is wrong with this link of its stream's chain, for a person; None if intact."""
    where = f"stream {row.stream!r} event {row.seq}"
    if row.seq != expected_seq:
        return f"{where}: expected event {expected_seq} (an event is missing)"
    if row.prev_hash != prev:
        return f"{where}: does not link to the event before it"
    recomputed = event_hash(row.prev_hash, row.stream, row.seq, row.at, row.actor,
                            row.action, row.data)
    if recomputed != row.hash:
        return f"{where} ({row.action}): content does not match its hash (the row was edited)"
    return None


def _all_rows(conn: Connection) -> Iterator[Any]:
    result = conn.execution_options(yield_per=10_000).execute(
        select(t.audit_events).order_by(t.audit_events.c.stream, t.audit_events.c.seq))
    yield from result
