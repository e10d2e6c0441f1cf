"""Nonces kept in Redis (TENURE_REDIS_URL): single use across replicas, and a check-in
that writes nothing to the database."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from tenure.bootstrap import Services, bootstrap
from tenure.clock import FixedClock
from tenure.config import Settings
from tenure.http.app import create_app
from tenure.store import tables as t

from .helpers import Device, provision

REDIS_ENV = "TENURE_TEST_REDIS_URL"


@pytest.fixture
def redis_settings(settings: Settings) -> Settings:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"Redis tests need {REDIS_ENV} (e.g. redis://127.0.0.1:6379/15)")
    import redis

    # Nothing is wiped: nonces are random, and tests in other workers share this database.
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as exc:
        pytest.skip(f"cannot reach Redis at {url}: {exc}")
    return dataclasses.replace(settings, redis_url=url)


@pytest.fixture
def replicas(redis_settings: Settings, clock: FixedClock) -> Iterator[tuple[Services, Services]]:
    first = bootstrap(redis_settings, clock=clock)
    second = bootstrap(redis_settings, clock=clock)
    yield first, second
    first.close()
    second.close()


def used_rows(runtime: Services) -> int:
    with runtime.uow(readonly=True) as tx:
        return int(tx.conn.execute(select(func.count()).select_from(t.used_nonces)).scalar_one())


def test_a_nonce_is_used_once_across_replicas_and_never_touches_the_table(
        replicas: tuple[Services, Services]) -> None:
    first, second = replicas
    with TestClient(create_app(first)) as a, TestClient(create_app(second)) as b:
        device = Device(a, first)
        provision(first, device)
        jws, _ = device.sign("/v1/device/activation", {})
        body = json.dumps(jws)
        headers = {"Content-Type": "application/jose+json"}
        assert b.post("/v1/device/activation", content=body, headers=headers).status_code == 200
        for client in (a, b):
            replay = client.post("/v1/device/activation", content=body, headers=headers)
            assert replay.status_code == 400
            assert replay.json()["type"] == "urn:tenure:problem:bad-nonce"
        assert used_rows(first) == 0


def test_a_refused_request_still_used_its_nonce(replicas: tuple[Services, Services]) -> None:
    first, _ = replicas
    with TestClient(create_app(first)) as client:
        device = Device(client, first)
        provision(first, device)
        jws, _ = device.sign("/v1/device/bind", {"account_token": "not-a-token"})
        body = json.dumps(jws)
        headers = {"Content-Type": "application/jose+json"}
        refused = client.post("/v1/device/bind", content=body, headers=headers)
        assert refused.status_code in (401, 409)
        replay = client.post("/v1/device/bind", content=body, headers=headers)
        assert replay.json()["type"] == "urn:tenure:problem:bad-nonce"


def test_redis_not_answering_refuses_device_requests_with_503(settings: Settings,
                                                               clock: FixedClock) -> None:
    """Behind a load balancer the device retries a 503 later (or on another replica);
    a 500 would read as a server bug. Nothing is written: the nonce stays unused."""
    runtime = bootstrap(dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0"),
                        clock=clock)
    try:
        with TestClient(create_app(runtime)) as client:
            device = Device(client, runtime)
            provision(runtime, device)
            jws, _ = device.sign("/v1/device/activation", {})
            answer = client.post("/v1/device/activation", content=json.dumps(jws),
                                 headers={"Content-Type": "application/jose+json"})
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "1"
            assert answer.json()["type"] == "urn:tenure:problem:unavailable"
            with runtime.uow(readonly=True) as tx:
                assert tx.conn.execute(select(t.devices.c.activated_at).where(
                    t.devices.c.device_id == device.device_id)).scalar_one() is None
    finally:
        runtime.close()
