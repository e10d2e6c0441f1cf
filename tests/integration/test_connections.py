"""A device request holds one database connection, even when the policy cache refreshes.

Taking a second connection from the pool while the request's transaction holds the
first could exhaust the pool under load (every request waiting for a connection that
only a waiting request can free)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from tenure.bootstrap import Services, bootstrap
from tenure.clock import FixedClock
from tenure.config import Settings
from tenure.http.app import create_app

from .helpers import Device, provision


@pytest.fixture
def always_refreshing(settings: Settings, clock: FixedClock) -> Iterator[Services]:
    runtime = bootstrap(dataclasses.replace(settings, policy_refresh_seconds=0),
                            clock=clock)
    yield runtime
    runtime.close()


def test_a_check_in_uses_one_connection_while_the_policy_refreshes(
        always_refreshing: Services) -> None:
    runtime = always_refreshing
    client = TestClient(create_app(runtime))
    device = Device(client, runtime)
    provision(runtime, device)
    device.activate().record()

    # Connections checked out at once, seen at each checkout (the device lane keeps its
    # connection between requests, decision 0021: the activation's may be used again).
    checkouts: list[int] = []
    listener = lambda *_: checkouts.append(runtime.uow.engine.pool.checkedout())  # type: ignore[attr-defined]  # noqa: E731
    event.listen(runtime.uow.engine, "checkout", listener)
    try:
        reply = device.checkin()
    finally:
        event.remove(runtime.uow.engine, "checkout", listener)
    assert reply.record()["status"] == "activated"
    assert all(at_once == 1 for at_once in checkouts), checkouts
