"""Integration fixtures: the real app in-process over the real database of each backend.

`database_url`, `settings`, `runtime` and `clock` come from tests/conftest.py (SQLite
always; PostgreSQL when TENURE_TEST_POSTGRES_URL is set). The app is used without its
lifespan, so the background mail dispatcher does not run: a test dispatches the outbox
itself when it wants mail delivered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.http.app import create_app

from .helpers import Accounts, Device, provision


@pytest.fixture
def backend(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgres") else "sqlite"


@pytest.fixture
def client(runtime: Services) -> Iterator[TestClient]:
    test_client = TestClient(create_app(runtime))
    yield test_client
    test_client.close()


@pytest.fixture
def accounts(client: TestClient) -> Accounts:
    return Accounts(client)


@pytest.fixture
def make_device(client: TestClient, runtime: Services) -> Callable[..., Device]:
    """A device with a fresh key pair, provisioned unless `provisioned=False`."""

    def make(key_type: Any = "Ed25519", provisioned: bool = True, **kwargs: Any) -> Device:
        device = Device(client, runtime, key_type=key_type, **kwargs)
        if provisioned:
            provision(runtime, device)
        return device

    return make


@pytest.fixture
def device(make_device: Callable[..., Device]) -> Device:
    """One provisioned Ed25519 device, never activated."""
    return make_device()
