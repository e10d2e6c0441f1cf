"""Fuzzing fixtures: a real `tenure serve` on each backend, credentials for every audience,
and a fingerprint of the database to prove that a refused request changed nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Select, create_engine, select
from sqlalchemy.engine import Engine

from tenure.store.database import normalise_url
from tenure.store.tables import metadata
from tests.e2e.conftest import ServerProcess, _backend_url, _server

# Rows a refused (4xx) request writes on purpose, so the fingerprint leaves them out:
# - login_throttle: a wrong password is counted before it is refused (the throttle);
# - rate_limits: a sign-up (and a status lookup) is counted against its address's limit
#   before it is checked further, so a refused one (email-taken, unknown-device,
#   rate-limited) still counts (docs/security.md);
# - idempotency_keys: a 4xx sent with an Idempotency-Key is stored so a retry replays it;
# - audit events of refusals the audit trail exists to show (a paused sign-in, a refused
#   bootloader unlock) and the mail telling an owner their sign-in is paused;
# - outbox delivery columns, which the background dispatcher updates at any time;
# - queued password resets (`reset_requests`), which the background turns at any time
#   into a token, an audit event and a mail: the queue is left out, and so are the
#   tokens not used yet (a refused confirm must still not use one), that audit event and
#   that mail;
# - transfers: a wrong transfer code is counted before it is refused (the fifth voids the
#   transfer, with its audit event and the seller's mail).
BY_DESIGN_TABLES = {"login_throttle", "rate_limits", "idempotency_keys", "reset_requests",
                    "transfers"}
BY_DESIGN_AUDIT = {"account.sign_in_paused", "bootloader.unlock_refused",
                   "account.password_reset_requested", "transfer.voided"}
BY_DESIGN_MAIL = {"Failed sign-in attempts on your account", "Reset your password"}
DELIVERY_COLUMNS = {"sent_at", "attempts", "next_attempt_at", "last_error"}


def _watched() -> dict[str, Select[Any]]:
    """Per table, the rows a refused request must leave as they were."""
    queries = {}
    for table in metadata.sorted_tables:
        if table.name in BY_DESIGN_TABLES:
            continue
        columns = [c for c in table.columns
                   if not (table.name == "outbox" and c.name in DELIVERY_COLUMNS)]
        query = select(*columns)
        if table.name == "audit_events":
            query = query.where(table.c.action.not_in(BY_DESIGN_AUDIT))
        if table.name == "outbox":
            query = query.where(table.c.subject.not_in(BY_DESIGN_MAIL))
        if table.name == "password_resets":
            query = query.where(table.c.used_at.is_not(None))
        queries[table.name] = query
    return queries


class Fingerprint:
    """A digest per table of every row a refused request must leave as it was."""

    def __init__(self, database_url: str) -> None:
        self.engine: Engine = create_engine(normalise_url(database_url))
        self.queries = _watched()
        self._in_postgres = (_in_postgres(self.engine, self.queries)
                             if self.engine.dialect.name == "postgresql" else None)

    def __call__(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            if self._in_postgres is not None:
                return dict(conn.exec_driver_sql(self._in_postgres).mappings().one())
            digests = {}
            for name, query in self.queries.items():
                rows = sorted(json.dumps([repr(v) for v in row]) for row in conn.execute(query))
                digests[name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        return digests

    def close(self) -> None:
        self.engine.dispose()


def _in_postgres(engine: Engine, queries: dict[str, Select[Any]]) -> str:
    """The same per-table digests computed by PostgreSQL in one statement: a digest of
    each row's text, sorted and digested again. The authorization matrix takes a
    fingerprint after every refused call, and three dozen round trips each were most
    of its time on PostgreSQL."""
    parts = []
    for name, query in queries.items():
        sql = query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
        parts.append(f"(SELECT md5(coalesce(string_agg(d, '' ORDER BY d), '')) FROM "
                     f"(SELECT md5(CAST(r AS text)) AS d FROM ({sql}) AS r) AS s) AS \"{name}\"")
    return "SELECT " + ", ".join(parts)


@dataclass
class FuzzTarget:
    server: ServerProcess
    database_url: str
    credentials: dict[str, str]  # audience -> bearer token
    fingerprint: Fingerprint

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def fuzz_target(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    """A server with an account (fresh session), a factory key, a policy key and an
    organization's key; one per
    module and backend (starting one costs seconds; every check compares against the
    state just before its own request, so tests do not depend on each other)."""
    backend_url = _backend_url(request)
    for server in _server(tmp_path_factory.mktemp("fuzz"), backend_url):
        database_url = backend_url or f"sqlite:///{(server.data_dir / 'tenure.db').resolve()}"
        credentials = {role: server.cli("apikey", "create", "--role", role).stdout.strip()
                       for role in ("factory", "policy")}
        tenant = server.cli("tenant", "create", "--kind", "organization",
                            "--name", "Fuzz Fleet").stdout.strip()
        credentials["organization"] = server.cli(
            "apikey", "create", "--role", "organization", "--tenant", tenant).stdout.strip()
        account = {"email": "fuzz-owner@example.com", "password": "a long fuzzing password"}
        assert httpx.post(f"{server.url}/v1/accounts", json=account).status_code == 201
        session = httpx.post(f"{server.url}/v1/sessions", json=account)
        credentials["account"] = session.json()["token"]
        fingerprint = Fingerprint(database_url)
        try:
            yield FuzzTarget(server, database_url, credentials, fingerprint)
        finally:
            fingerprint.close()
