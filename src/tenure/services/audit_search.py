"""The operator reading the audit trail (`/console/audit`): filtered, newest first, a
page at a time; exported in bounded chunks; one stream's hash chain checked on the way.

The trail is one hash chain per stream (store/audit.py). Checking every chain is
`tenure audit verify`, a walk over the whole table; checking the one stream a filter
names costs a read of that stream, so the page does it whenever a stream is chosen (up
to VERIFY_LIMIT events). Operator only: a key with the `admin` role.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from tenure.clock import Clock
from tenure.domain.errors import InvalidInput
from tenure.domain.provisioning import is_device_id, is_imei

from .console_access import require_operator
from .ports import AuditEntry, AuditFilter, ChainCheck, Tx, UnitOfWork

PAGE = 50
EXPORT_CHUNK = 1000
MAX_EXPORT = 100_000  # events in one CSV export; narrow the filters for older ones
VERIFY_LIMIT = 100_000
MAX_FIELD = 200
STREAM_KINDS = ("device:", "account:", "tenant:")
BARE_STREAMS = ("system", "policy", "provisioning", "relay")


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    stream: str | None  # the stream the filter named, as resolved (an IMEI → its device)
    chain: ChainCheck | None  # that stream's chain, walked
    next_before: tuple[int, str, int] | None  # where the next (older) page starts


def read_filter(params: Mapping[str, str]) -> AuditFilter:
    """The filter a form asks for: `stream` (a stream, a device id or an IMEI), `action`
    (a prefix), `actor`, `from` and `to` (UTC days, both included), `before` (a page
    cursor). Empty fields filter nothing."""
    values = {}
    for name in ("stream", "action", "actor", "from", "to", "before"):
        value = params.get(name, "")
        value = value.strip() if isinstance(value, str) else ""
        if len(value) > MAX_FIELD or "\x00" in value:
            raise InvalidInput(f"'{name}' is too long.")
        values[name] = value
    since = _day(values["from"], "from")
    until = _day(values["to"], "to")
    if until is not None:
        until += 86400
    if since is not None and until is not None and until <= since:
        raise InvalidInput("'to' is before 'from'.")
    return AuditFilter(stream=values["stream"] or None, action=values["action"] or None,
                       actor=values["actor"] or None, since=since, until=until,
                       before=_cursor(values["before"]))


def cursor_text(before: tuple[int, str, int]) -> str:
    at, stream, seq = before
    return f"{at}.{seq}.{stream}"


class AuditSearch:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def page(self, operator_key: str | None, where: AuditFilter) -> AuditPage:
        with self.uow(readonly=True) as tx:
            require_operator(tx, operator_key, "admin")
            where = _resolved(tx, where)
            found = tx.audit.search(where, PAGE + 1)
            chain = (tx.audit.verify_stream(where.stream, VERIFY_LIMIT)
                     if where.stream is not None else None)
        entries = found[:PAGE]
        last = entries[-1] if len(found) > PAGE else None
        return AuditPage(entries, where.stream, chain,
                         (last.at, last.stream, last.seq) if last else None)

    def chunk(self, operator_key: str | None, where: AuditFilter,
              limit: int = EXPORT_CHUNK) -> list[AuditEntry]:
        """The next events of an export (continue with `before` = the last one's place);
        the key is checked for every chunk, so a revoked key stops an export."""
        with self.uow(readonly=True) as tx:
            require_operator(tx, operator_key, "admin")
            return tx.audit.search(_resolved(tx, where), min(limit, EXPORT_CHUNK))


def _resolved(tx: Tx, where: AuditFilter) -> AuditFilter:
    """A stream given as a device id or an IMEI becomes that device's stream."""
    stream = where.stream
    if stream is None or stream.startswith(STREAM_KINDS) or stream in BARE_STREAMS:
        return where
    if is_imei(stream):
        device_id = tx.devices.existing_imeis([stream]).get(stream)
        stream = f"device:{device_id or stream}"
    elif is_device_id(stream):
        stream = f"device:{stream}"
    return AuditFilter(stream, where.action, where.actor, where.since, where.until,
                       where.before)


def _day(value: str, name: str) -> int | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"'{name}' must be a day as YYYY-MM-DD.") from exc
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def _cursor(value: str) -> tuple[int, str, int] | None:
    if not value:
        return None
    at, _, rest = value.partition(".")
    seq, _, stream = rest.partition(".")
    if not (at.isdigit() and seq.isdigit() and stream):
        raise InvalidInput("'before' is not a page of this listing.")
    return int(at), stream, int(seq)
