"""Scale-out on one machine (docs/scale-out.md): three `tenure serve` replicas on one
PostgreSQL database and Redis, behind HAProxy from Debian (round-robin, health checks on
/healthz, `option forwardfor` with TENURE_TRUSTED_PROXIES=127.0.0.1).

What a deployment relies on, checked against the real processes: a nonce is single-use
whichever replicas see it, throttles and limits count into one number and by the
address HAProxy forwards, and a replica killed under load loses nothing it acknowledged
while HAProxy takes it out and the clients' retries land on the others.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest
from bench.balancer import INSTALL_HINT, HAProxy, haproxy_path
from sqlalchemy import create_engine, text

from tenure.store.database import normalise_url

from .conftest import ServerProcess, _server
from .independent_client import (
    ACTIVATION_PATH,
    CHECKIN_PATH,
    DeviceIdentity,
    TenureClient,
    is_problem,
    write_provisioning_csv,
)
from .test_activation_lock import PASSWORD

# one cluster of replicas per run: its tests share one worker (make test: --dist loadgroup)
pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.xdist_group("scale-out")]
REDIS_ENV = "TENURE_TEST_REDIS_URL"
SIGNUP_LIMIT = 3
LOAD_DEVICES = 150


@dataclass
class Cluster:
    server: ServerProcess  # the three replicas share its data dir (key ring) and env
    replicas: list[str]  # their own URLs, r1..r3 in HAProxy's stats
    balancer: HAProxy
    database_url: str
    devices: list[DeviceIdentity]  # provisioned, never activated yet

    @property
    def url(self) -> str:
        return self.balancer.url

    def process(self, name: str) -> subprocess.Popen[bytes]:
        """The `tenure serve` process HAProxy calls `name` (r1, r2, r3)."""
        port = str(urlsplit(self.replicas[int(name[1:]) - 1]).port)
        return next(p for p in self.server.processes if port in map(str, p.args))  # type: ignore[arg-type]

    def served(self) -> dict[str, int]:
        """Requests HAProxy has sent to each replica so far."""
        return {name: int(row["stot"]) for name, row in self.balancer.stats().items()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres_database: str
            ) -> Iterator[Cluster]:
    """One cluster for the module (starting three replicas is most of its time); the
    test that kills a replica runs last."""
    if haproxy_path() is None:
        pytest.skip(f"the scale-out test needs HAProxy: {INSTALL_HINT}")
    redis_url = os.environ.get(REDIS_ENV)
    if not redis_url:
        pytest.skip(f"the scale-out test needs Redis: set {REDIS_ENV} "
                    "(e.g. redis://127.0.0.1:6379/15)")
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"cannot reach Redis at {redis_url}: {exc}")
    from tests.conftest import _truncate

    _truncate(postgres_database)
    tmp_path = tmp_path_factory.mktemp("scale-out")
    replicas = _server(tmp_path, postgres_database, {
        "TENURE_REDIS_URL": redis_url, "TENURE_TRUSTED_PROXIES": "127.0.0.1",
        "TENURE_SIGNUP_ADDRESS_LIMIT": str(SIGNUP_LIMIT)})
    server = next(replicas)
    balancer = None
    try:
        urls = [server.url, server.start(), server.start()]
        balancer = HAProxy(tmp_path / "haproxy", [int(urlsplit(u).port or 0) for u in urls])
        balancer.start()
        devices = [DeviceIdentity.generate() for _ in range(1 + LOAD_DEVICES)]
        server.cli("provision", "import",
                   str(write_provisioning_csv(tmp_path / "devices.csv", devices)))
        yield Cluster(server, urls, balancer, postgres_database, devices)
    finally:
        if balancer is not None:
            balancer.stop()
        replicas.close()  # stops every replica


def test_a_nonce_is_used_once_whichever_replicas_see_it(cluster: Cluster) -> None:
    """A nonce issued by replica 1 and used through replica 2 is refused by replica 3
    and by the balancer: the use is in Redis, which every replica asks."""
    device = cluster.devices[0]
    first, second, third = (TenureClient(url) for url in cluster.replicas)
    with first, second, third, TenureClient(cluster.url) as balanced:
        balanced.activation(device)
        nonce = first.fetch_nonce()  # issued by replica 1
        payload = {"signals": {}, "acks": []}
        used = second.signed_request(device, CHECKIN_PATH, payload, nonce=nonce,
                                     retry_bad_nonce=False)  # used through replica 2
        assert used.response.status_code == 200, used.response.text
        replayed = third.post_raw(CHECKIN_PATH, used.body)  # the same request, replica 3
        assert is_problem(replayed, "bad-nonce", 400), replayed.text
        for _ in range(3):  # and through the balancer, whichever replica it picks
            assert is_problem(balanced.post_raw(CHECKIN_PATH, used.body), "bad-nonce", 400)


def test_the_sign_in_throttle_counts_one_burst_across_replicas(cluster: Cluster) -> None:
    """20 simultaneous wrong passwords, spread round-robin over three replicas: exactly
    five are checked (401), the rest refused (429), as on one process
    (tests/e2e/test_hardening.py)."""
    answer = httpx.post(f"{cluster.url}/v1/accounts",
                        json={"email": "victim@example.com", "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    before = cluster.served()
    barrier = threading.Barrier(20)

    def attempt(i: int) -> int:
        barrier.wait()
        return httpx.post(f"{cluster.url}/v1/sessions", timeout=120, json={
            "email": "victim@example.com", "password": f"guess-number-{i:04d}"}).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = sorted(pool.map(attempt, range(20)))
    assert statuses == [401] * 5 + [429] * 15
    after = cluster.served()
    assert all(after[name] > before[name] for name in after), (before, after)


def _client_from(address: str) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x.y.z is loopback)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60)


def test_limits_count_the_address_haproxy_forwards_not_one_the_client_claims(
        cluster: Cluster) -> None:
    """TENURE_SIGNUP_ADDRESS_LIMIT=3: sign-ups from 127.0.0.2 are counted together on
    every replica; a header the client adds itself changes nothing; 127.0.0.3 is
    another client."""

    def sign_up(client: httpx.Client, n: int, **headers: str) -> int:
        return client.post(f"{cluster.url}/v1/accounts", headers=headers, json={
            "email": f"user{n}@example.com", "password": PASSWORD}).status_code

    with _client_from("127.0.0.2") as mallory, _client_from("127.0.0.3") as other:
        assert [sign_up(mallory, n) for n in range(SIGNUP_LIMIT)] == [201] * SIGNUP_LIMIT
        assert sign_up(mallory, 10) == 429
        assert sign_up(mallory, 11, **{"X-Forwarded-For": "198.51.100.7"}) == 429
        assert sign_up(other, 12) == 201


@dataclass
class Load:
    """Devices each activated once and checked in twice through the balancer, by
    threads that retry whatever was not answered 200 with a fresh nonce."""

    cluster: Cluster
    devices: list[DeviceIdentity]
    acknowledged: list[tuple[str, str, bytes]] = field(default_factory=list)  # id, path, body
    retried: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        return 3 * len(self.devices)

    def _until_acknowledged(self, client: TenureClient, device: DeviceIdentity, path: str,
                            payload: dict[str, object]) -> None:
        for _ in range(30):
            try:
                exchange = client.signed_request(device, path, payload)
            except httpx.TransportError as exc:
                status = f"connection: {type(exc).__name__}"
            else:
                response = exchange.response
                if response.status_code == 200:
                    with self.lock:
                        self.acknowledged.append((device.device_id, path, exchange.body))
                    return
                status = f"{response.status_code} {response.text[:80]!r}"
                if response.status_code not in (502, 503, 504) and not is_problem(
                        response, "bad-nonce", 400):
                    raise AssertionError(f"{device.device_id} {path}: {status}")
            with self.lock:
                self.retried[status] += 1
            client.nonce = None  # the balancer's own error page carries no Replay-Nonce
            time.sleep(0.05)
        raise AssertionError(f"{device.device_id} {path}: never acknowledged")

    def worker(self, todo: queue.Queue[DeviceIdentity]) -> None:
        with TenureClient(self.cluster.url, timeout=30) as client:
            while True:
                try:
                    device = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    self._until_acknowledged(client, device, ACTIVATION_PATH, {"signals": {}})
                    for _ in range(2):
                        self._until_acknowledged(client, device, CHECKIN_PATH,
                                                 {"signals": {}, "acks": []})
                except AssertionError as exc:
                    with self.lock:
                        self.errors.append(str(exc))

    def run(self, threads: int, kill_after: int, victim: subprocess.Popen[bytes]) -> int:
        """Run the load; SIGKILL `victim` once `kill_after` requests were acknowledged;
        return how many were acknowledged at that moment."""
        todo: queue.Queue[DeviceIdentity] = queue.Queue()
        for device in self.devices:
            todo.put(device)
        workers = [threading.Thread(target=self.worker, args=(todo,)) for _ in range(threads)]
        for thread in workers:
            thread.start()
        deadline = time.monotonic() + 60
        while len(self.acknowledged) < kill_after and time.monotonic() < deadline:
            time.sleep(0.002)
        at_kill = len(self.acknowledged)
        victim.send_signal(signal.SIGKILL)
        for thread in workers:
            thread.join(timeout=90)
        assert not any(thread.is_alive() for thread in workers), "the load did not finish"
        return at_kill


def test_a_replica_killed_under_load_loses_nothing_it_acknowledged(cluster: Cluster) -> None:
    """150 devices, each activated and checked in twice (450 requests, 12 at a time);
    replica 2 is killed with SIGKILL a third of the way through."""
    load = Load(cluster, cluster.devices[1:])
    at_kill = load.run(threads=12, kill_after=load.total // 3, victim=cluster.process("r2"))

    # HAProxy's health checks took the dead replica out; the others are in.
    cluster.balancer.wait_until(
        lambda r: r["r2"]["status"].startswith("DOWN") and r["r1"]["status"] == "UP" and
        r["r3"]["status"] == "UP", 10, "r2 DOWN, r1 and r3 UP")
    assert 0 < at_kill < load.total, "the replica was not killed mid-load"
    assert load.errors == []
    assert len(load.acknowledged) == load.total  # every request was acknowledged in the end
    served = cluster.served()
    assert served["r2"] > 0  # it did take part before it died
    for _ in range(9):
        assert httpx.get(f"{cluster.url}/healthz").status_code == 200
    assert cluster.served()["r2"] == served["r2"]  # and takes no part any more

    # Every acknowledged activation is in the database: the device row and its audit event.
    activated = Counter(d for d, path, _ in load.acknowledged if path == ACTIVATION_PATH)
    engine = create_engine(normalise_url(cluster.database_url))
    try:
        with engine.connect() as conn:
            rows_ = conn.execute(text(
                "SELECT d.device_id, d.activated_at IS NOT NULL, "
                "(SELECT count(*) FROM audit_events a WHERE a.stream = 'device:' || "
                "d.device_id AND a.action = 'device.activated') FROM devices d")).all()
    finally:
        engine.dispose()
    recorded = {device: (is_activated, events) for device, is_activated, events in rows_}
    for device, acknowledged in activated.items():
        is_activated, events = recorded[device]
        assert is_activated and events >= acknowledged, (device, recorded[device])

    # Every acknowledged request used its nonce for good: replayed, each is refused
    # (Redis kept the use; the surviving replicas see it).
    with httpx.Client(base_url=cluster.url, timeout=30,
                      headers={"Content-Type": "application/jose+json"}) as client, \
            ThreadPoolExecutor(6) as pool:
        answers = pool.map(lambda sent: client.post(sent[1], content=sent[2]),
                           load.acknowledged)
        replays = Counter("bad-nonce" if is_problem(answer, "bad-nonce", 400)
                          else str(answer.status_code) for answer in answers)
    assert replays == Counter({"bad-nonce": load.total})
    print(f"killed r2 after {at_kill} of {load.total} acknowledged; retried: "
          f"{dict(load.retried)}; served per replica: {served}")
