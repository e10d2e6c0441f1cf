"""The device lane keeps its database connection between requests (decision 0021).

A connection PostgreSQL dropped (a restart, an administrator's pg_terminate_backend)
must not turn into 500s or lost requests: a request caught on it is answered 503 with
Retry-After and commits nothing, and the lane takes a fresh connection for the next."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from tenure.bootstrap import Services
from tenure.store import tables as t
from tenure.store import uow

from .helpers import Device, count


@pytest.fixture
def backend_pids(runtime: Services, backend: str) -> Iterator[list[int]]:
    """The server process of each transaction's connection, in order."""
    if backend != "postgresql":
        pytest.skip("only a database server drops connections; SQLite's are in-process")
    pids: list[int] = []

    def on_begin(conn: Any) -> None:
        pids.append(conn.connection.dbapi_connection.info.backend_pid)

    event.listen(runtime.uow.engine, "begin", on_begin)
    yield pids
    event.remove(runtime.uow.engine, "begin", on_begin)


def _terminate(database_url: str, pid: int) -> None:
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


def test_check_ins_reuse_one_connection(runtime: Services, backend_pids: list[int],
                                        make_device: Callable[..., Device]) -> None:
    device = make_device()
    device.activate().record()
    for _ in range(3):
        assert device.checkin().record()["status"] == "activated"
    assert len(set(backend_pids[-3:])) == 1


def test_a_check_in_on_a_dropped_connection_is_a_503_and_the_next_one_succeeds(
        runtime: Services, backend_pids: list[int], database_url: str,
        make_device: Callable[..., Device]) -> None:
    device = make_device()
    device.activate().record()
    assert device.checkin().record()["status"] == "activated"
    _terminate(database_url, backend_pids[-1])
    nonces = count(runtime, t.used_nonces)

    caught = device.checkin()
    caught.problem("unavailable", 503)
    assert caught.response.headers["retry-after"] == "1"
    assert count(runtime, t.used_nonces) == nonces  # nothing of it was committed

    assert device.checkin().record()["status"] == "activated"
    assert backend_pids[-1] != backend_pids[0]


def test_after_a_pause_a_dropped_connection_is_noticed_before_use(
        runtime: Services, backend_pids: list[int], database_url: str,
        make_device: Callable[..., Device], monkeypatch: pytest.MonkeyPatch) -> None:
    """Idle past HELD_IDLE_SECONDS, the lane's connection goes back through the pool,
    whose ping finds it dead and connects again: no request sees the drop."""
    monkeypatch.setattr(uow, "HELD_IDLE_SECONDS", 0.0)
    device = make_device()
    device.activate().record()
    _terminate(database_url, backend_pids[-1])
    assert device.checkin().record()["status"] == "activated"
