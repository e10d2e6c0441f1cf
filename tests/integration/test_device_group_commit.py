"""Group commit (decision 0018): device requests that arrive together share one COMMIT,
and none is answered before that COMMIT; one request's failure costs the others nothing."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from tenure.bootstrap import Services
from tenure.domain.errors import Forbidden
from tenure.http.app import create_app
from tenure.store import tables as t

from .helpers import Device, count

CHECKIN = "/v1/device/checkin"
BIND = "/v1/device/bind"
JOSE = {"Content-Type": "application/jose+json"}


def _commits(runtime: Services) -> list[int]:
    """Counts COMMITs of the app's engine (what an fsync on SQLite is)."""
    seen = [0]

    def on_commit(_: Any) -> None:
        seen[0] += 1

    event.listen(runtime.uow.engine, "commit", on_commit)
    return seen


def _post_together(runtime: Services, posts: list[tuple[str, str]],
                   apart: float = 0.0) -> list[httpx.Response]:
    """Send every (path, body) at once into the app on one event loop, as a server's
    connections would arrive (or one every `apart` seconds); the answers in order."""
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://tenure") as client:
            async def post(i: int, path: str, body: str) -> httpx.Response:
                await asyncio.sleep(i * apart)
                return await client.post(path, content=body, headers=JOSE)
            return list(await asyncio.gather(*(post(i, path, body)
                                               for i, (path, body) in enumerate(posts))))
    # A loop of its own in a thread of its own: the browser tests' Playwright keeps an
    # event loop running in this worker's main thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def _activated(make_device: Callable[..., Device], n: int) -> list[Device]:
    devices = [make_device() for _ in range(n)]
    for device in devices:
        device.activate().record()
    return devices


def _checkin_body(device: Device) -> tuple[str, str]:
    jws, _ = device.sign(CHECKIN, device.agent.checkin_payload(acks=[], report_bootloader=False))
    return CHECKIN, json.dumps(jws)


def test_concurrent_checkins_share_commits_and_every_nonce_is_used_durably(
        runtime: Services, make_device: Callable[..., Device]) -> None:
    devices = _activated(make_device, 12)
    posts = [_checkin_body(d) for d in devices]
    nonces_before = count(runtime, t.used_nonces)
    commits = _commits(runtime)
    answers = _post_together(runtime, posts)
    assert [a.status_code for a in answers] == [200] * 12
    assert all(a.headers["replay-nonce"] for a in answers)
    # all twelve nonces are in the database once the answers are out...
    assert count(runtime, t.used_nonces) == nonces_before + 12
    # ...with fewer commits than requests
    assert 1 <= commits[0] < 12
    # and each body is refused when replayed
    replays = _post_together(runtime, posts)
    assert {r.json()["type"] for r in replays} == {"urn:tenure:problem:bad-nonce"}


def test_checkins_arriving_while_a_long_write_holds_sqlite_wait_for_it_and_are_all_answered(
        runtime: Services, make_device: Callable[..., Device], backend: str) -> None:
    """Sixteen check-ins, one every 20 ms, each in a turn of the loop of its own, while
    another connection holds SQLite's write lock for half a second (as the maintenance
    round or an import's switch-in does): every one is answered once the lock is free,
    none with 503, and they share a few COMMITs (they waited in one lane, not each
    in a thread contending for the lock)."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL has no database-wide write lock to wait for")
    devices = _activated(make_device, 16)
    posts = [_checkin_body(d) for d in devices]
    holder = sqlite3.connect(runtime.uow.engine.url.database or "", isolation_level=None,
                             check_same_thread=False)
    commits = _commits(runtime)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, holder.execute, ["COMMIT"])
    release.start()
    try:
        answers = _post_together(runtime, posts, apart=0.02)
    finally:
        release.join()
        holder.close()
    assert [a.status_code for a in answers] == [200] * 16, [a.text for a in answers]
    assert commits[0] <= 4
    replays = _post_together(runtime, posts)
    assert {r.json()["type"] for r in replays} == {"urn:tenure:problem:bad-nonce"}


def test_a_refused_request_in_a_batch_keeps_nothing_but_its_nonce_and_costs_the_others_nothing(
        runtime: Services, make_device: Callable[..., Device]) -> None:
    devices = _activated(make_device, 4)
    jws, _ = devices[0].sign(BIND, {"account_token": "not-a-token"})
    refused = (BIND, json.dumps(jws))
    posts = [_checkin_body(devices[0]), refused, *(_checkin_body(d) for d in devices[1:])]
    commits = _commits(runtime)
    answers = _post_together(runtime, posts)
    statuses = [a.status_code for a in answers]
    assert statuses[0] == 200 and statuses[2:] == [200, 200, 200]
    assert answers[1].status_code in (401, 409)
    assert commits[0] < 5
    # every nonce is used, the refused one too (in its own savepoint after the rollback)
    replays = _post_together(runtime, posts)
    assert {r.json()["type"] for r in replays} == {"urn:tenure:problem:bad-nonce"}
    # and the refused bind bound nothing
    assert count(runtime, t.claims, t.claims.c.kind == "owner") == 0


def test_the_same_body_twice_in_one_batch_is_answered_once(
        runtime: Services, make_device: Callable[..., Device]) -> None:
    (device,) = _activated(make_device, 1)
    post = _checkin_body(device)
    answers = _post_together(runtime, [post, post])
    assert sorted(a.status_code for a in answers) == [200, 400]
    assert any(a.status_code == 400 and a.json()["type"] == "urn:tenure:problem:bad-nonce"
               for a in answers)


def test_a_failed_work_is_rolled_back_to_its_savepoint_and_the_others_commit(
        runtime: Services) -> None:
    """The unit of work's batch itself: the middle work writes, then fails."""
    def use(nonce: str, fail: bool = False) -> Callable[[Any], None]:
        def work(tx: Any) -> None:
            tx.nonces.use(nonce, 2_000_000_000)
            if fail:
                raise Forbidden("refused after writing")
        return work

    results = runtime.uow.batch([use("batch-a"), use("batch-b", fail=True), use("batch-c")])
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], Forbidden)
    kept = {row[0] for row in _nonces(runtime)}
    assert {"batch-a", "batch-c"} <= kept
    assert "batch-b" not in kept


def _nonces(runtime: Services) -> list[Any]:
    with runtime.uow(readonly=True) as tx:
        return list(tx.conn.execute(select(t.used_nonces.c.nonce)))
