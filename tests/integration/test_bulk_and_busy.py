"""Long writes never stall device traffic.

An import stages its rows without taking the shared write lock and switches them in
at once (nothing half-imported is ever visible); a device request that cannot get
the database within TENURE_DATABASE_WAIT_SECONDS answers a fast 503 with Retry-After
and a fresh nonce; /healthz does not queue for the write lock.
"""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.domain.errors import ImportConflict
from tenure.services import provision as provision_module
from tenure.services.provision import ImportReport
from tenure.store import tables as t

from .helpers import Device, audit, count, import_file, provisioning_csv


@contextmanager
def database_locked(database_url: str) -> Iterator[None]:
    """Another client holds what a check-in needs: SQLite's write lock, or on
    PostgreSQL an exclusive lock on the table of used nonces."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    url = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as pg:
        pg.execute("LOCK TABLE used_nonces IN EXCLUSIVE MODE")
        yield
        pg.rollback()


def test_a_device_that_cannot_get_the_database_gets_a_fast_503(
        client: TestClient, device: Device, database_url: str) -> None:
    device.activate().record()
    with database_locked(database_url):
        started = time.monotonic()
        reply = device.checkin()
        elapsed = time.monotonic() - started
        body = reply.problem("unavailable", 503)
        assert reply.response.headers["retry-after"] == "1"
        assert "retry" in body["detail"]
        assert elapsed < 2.0, elapsed  # the bound is 1 s (TENURE_DATABASE_WAIT_SECONDS)
        started = time.monotonic()
        health = client.get("/healthz")
        assert health.status_code == 200 and time.monotonic() - started < 0.5
    # the fresh nonce of the 503 works once the database is free
    assert device.checkin().record()["status"] == "activated"


def rows_of(devices: list[Device]) -> bytes:
    return provisioning_csv(d.row() for d in devices)


def test_staged_rows_are_invisible_and_hold_no_lock_until_switched_in(
        runtime: Services, new_devices: Callable[[int], list[Device]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provision_module, "BATCH", 2)
    devices = new_devices(6)
    seen: list[int] = []

    def progress(report: ImportReport) -> None:
        # a writer gets the database at once while the import runs (wait=0: no waiting
        # for SQLite's write lock at all), and sees none of the staged rows
        with runtime.uow(wait=0) as tx:
            seen.append(tx.devices.count())

    report = provision_module.Importer(runtime.uow, runtime.clock).run(
        io.BytesIO(rows_of(devices)), "csv", "test", progress=progress)
    assert report.committed and report.imported == 6
    # after each chunk of two, after the last and as the switch-in begins: none visible
    assert seen == [0, 0, 0, 0, 0]
    assert count(runtime, t.devices) == 6 and count(runtime, t.device_imeis) == 6
    for dev in devices:
        assert dev.activate().record()["status"] == "activated"


def test_an_import_overtaken_by_another_imports_nothing(
        runtime: Services, new_devices: Callable[[int], list[Device]],
        monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """SQLite: another import switches in a device this one staged meanwhile; this
    one's switch-in then fails on the unique key and imports nothing."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL: the later import waits for the earlier (next test)")
    monkeypatch.setattr(provision_module, "BATCH", 2)
    devices = new_devices(4)
    overtaken: list[ImportReport] = []

    def progress(report: ImportReport) -> None:
        if not overtaken:  # after the first chunk: another import gets a staged device in
            overtaken.append(import_file(runtime, rows_of(devices[:1])))

    with pytest.raises(ImportConflict, match="nothing was imported"):
        provision_module.Importer(runtime.uow, runtime.clock).run(
            io.BytesIO(rows_of(devices)), "csv", "test", progress=progress)
    assert overtaken[0].committed
    assert count(runtime, t.devices) == 1 and count(runtime, t.device_imeis) == 1
    assert len(audit(runtime, "provisioning")) == 1
    # importing the file again sorts it out: the overtaken row is unchanged
    again = import_file(runtime, rows_of(devices))
    assert (again.committed, again.imported, again.unchanged) == (True, 3, 1)


def test_of_two_imports_of_one_device_the_later_waits_and_imports_nothing(
        runtime: Services, new_devices: Callable[[int], list[Device]],
        monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """PostgreSQL: an import copies its rows into the shared tables as it goes, unseen
    until it commits. Another import of one of those devices waits for it on the
    unique key, then imports nothing; the first is not disturbed."""
    if backend != "postgresql":
        pytest.skip("SQLite: the other import is not held up (previous test)")
    monkeypatch.setattr(provision_module, "BATCH", 2)
    devices = new_devices(4)
    later: list[BaseException | ImportReport] = []
    threads: list[threading.Thread] = []

    def other() -> None:
        try:
            later.append(import_file(runtime, rows_of(devices[:1])))
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test reads
            later.append(exc)

    def progress(report: ImportReport) -> None:
        if not threads:  # after the first chunk: another import of a copied device
            threads.append(threading.Thread(target=other))
            threads[0].start()
            time.sleep(0.3)  # it reaches the row and waits
            assert not later

    report = provision_module.Importer(runtime.uow, runtime.clock).run(
        io.BytesIO(rows_of(devices)), "csv", "test", progress=progress)
    threads[0].join(timeout=30)
    assert report.committed and report.imported == 4
    [outcome] = later
    assert isinstance(outcome, ImportConflict), outcome
    assert count(runtime, t.devices) == 4 and count(runtime, t.device_imeis) == 4
    assert len(audit(runtime, "provisioning")) == 1
    again = import_file(runtime, rows_of(devices[:1]))
    assert (again.committed, again.imported, again.unchanged) == (True, 0, 1)


@pytest.fixture
def new_devices(client: TestClient, runtime: Services) -> Callable[[int], list[Device]]:
    return lambda n: [Device(client, runtime) for _ in range(n)]
