"""The load generator: separate processes, each with a few threads, each thread with its
own keep-alive connection (bench.http1: a minimal HTTP/1.1 client, or an httpx.Client),
speaking PROTOCOL.md.

Two modes:
- closed loop ("saturation"): every thread sends its next request as soon as the last
  one is answered; throughput is what the server sustains with that many in flight.
- open loop ("fixed rate"): requests are due on a fixed schedule (rate / processes per
  process); a free thread takes the next due request, waits for its time and sends it.
  Latency is measured from the scheduled time, not the send time, so a server that
  stalls is charged for the requests that queued behind the stall (no coordinated
  omission).

Every process measures only inside the phase's window [t0, t1] (CLOCK_MONOTONIC is
shared by all processes), so the orchestrator can read the server's CPU time at t0 and
t1 and divide by the requests answered in between.
"""

from __future__ import annotations

import array
import itertools
import json
import os
import random
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from . import fleet, http1
from .protocol import JOSE, RecordInvalid, jwks_keys, signed_body, verify_record

CHECKIN = "/v1/device/checkin"
ACTIVATION = "/v1/device/activation"


@dataclass
class PhaseSpec:
    name: str
    path: str
    base_url: str
    seed: bytes
    jwks: dict[str, Any]
    mode: str  # "closed" | "open"
    t_start: float
    t0: float  # measurement window start
    t1: float  # measurement window end; no request starts after it (open: none scheduled)
    threads: int
    rate: float = 0.0  # open loop: requests/s for this process
    pool: array.array[int] | None = None  # random picks from these device indices
    walk: array.array[int] | None = None  # or each of these once, in order (then random picks)
    fleet_size: int = 0
    verify_every: int = 50  # verify one record in this many (2 %)
    drain: float = 10.0  # open loop: give up on the backlog this long after t1
    stop_after_walk: bool = False  # closed loop: end when the walk list is done
    seed_rng: int = 0
    client: str = "raw"  # "raw" | "httpx" (bench.http1)
    offset: float = 0.0  # open loop: this process's schedule starts this many intervals late


@dataclass
class WorkerResult:
    ok: int = 0  # 200 answers completed inside the window
    served: int = 0  # HTTP answers to POSTs completed inside the window (any status)
    latencies_ms: list[float] = field(default_factory=list)  # window requests, 200 or not
    # open loop, the same requests as latencies_ms, split: the time from the scheduled
    # send to the request's start (the generator's lag: its thread was busy or waiting),
    # and the time inside the POSTs' round trips (the server, the kernel, and the
    # generator's thread waking up)
    lags_ms: list[float] = field(default_factory=list)
    trips_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)  # whole phase
    bad_nonce_retries: int = 0
    verified: int = 0
    verify_failures: list[str] = field(default_factory=list)
    activated: list[int] = field(default_factory=list)  # walk: devices answered 200
    locked: int = 0  # records with status "locked"
    dropped: int = 0  # open loop: scheduled requests never sent (backlog at the deadline)
    late_sends: int = 0  # open loop: sent more than 1 ms after their scheduled time
    client_cpu: float = 0.0  # this process's CPU seconds inside the window
    requests_total: int = 0
    errors: list[str] = field(default_factory=list)


class _Device:
    """One simulated device talking: the keep-alive connection and the last nonce."""

    def __init__(self, spec: PhaseSpec, result: WorkerResult, lock: threading.Lock,
                 answered: itertools.count[int]) -> None:
        self.spec = spec
        self.answered = answered  # shared by the process's threads: verify 1 in N
        self.result = result
        self.lock = lock
        self.http = http1.make(spec.client, spec.base_url)
        self.nonce: str | None = None
        self.pinned = jwks_keys(spec.jwks)
        self.trip = 0.0  # seconds inside the last request's POSTs

    def close(self) -> None:
        self.http.close()

    def _nonce(self) -> str:
        if self.nonce is None:
            self.nonce = self.http.request("HEAD", "/v1/device/nonce").headers["replay-nonce"]
        nonce, self.nonce = self.nonce, None
        return nonce

    def request(self, index: int) -> tuple[int, int, dict[str, Any] | None]:
        """Send one signed request for device `index`; (final status, answers, record).
        A broken connection counts as status 0 and is opened again for the next request."""
        try:
            return self._request(index)
        except (OSError, EOFError, ValueError, KeyError) as exc:
            with self.lock:
                self.result.statuses[f"0 {type(exc).__name__}"] += 1
                if len(self.result.errors) < 5:
                    self.result.errors.append(f"{fleet.device_id(index)}: {exc!r}")
            self.http.close()
            self.nonce = None
            time.sleep(0.05)
            return 0, 0, None

    def _request(self, index: int) -> tuple[int, int, dict[str, Any] | None]:
        key = fleet.private_key(self.spec.seed, index)
        kid = fleet.device_id(index)
        payload: dict[str, Any] = {"signals": fleet.signals(index)}
        if self.spec.path == CHECKIN:
            payload["acks"] = []
        answers = 0
        self.trip = 0.0
        for attempt in (0, 1):
            nonce = self._nonce()
            body = signed_body(key, kid, nonce, self.spec.path, payload)
            posted = time.monotonic()
            response = self.http.request("POST", self.spec.path, body, JOSE)
            self.trip += time.monotonic() - posted
            answers += 1
            self.nonce = response.headers.get("replay-nonce")
            if response.status == 200:
                record = json.loads(response.body)["record"]
                if next(self.answered) % self.spec.verify_every == 0:
                    try:
                        verified = verify_record(record, self.pinned, kid, nonce, time.time())
                        with self.lock:
                            self.result.verified += 1
                        return 200, answers, verified
                    except (RecordInvalid, ValueError, KeyError) as exc:
                        with self.lock:
                            self.result.verify_failures.append(f"{kid}: {exc}")
                return 200, answers, None
            problem = _problem_type(response)
            if attempt == 0 and problem == "bad-nonce":
                with self.lock:
                    self.result.bad_nonce_retries += 1
                continue
            with self.lock:
                self.result.statuses[f"{response.status} {problem}"] += 1
                if len(self.result.errors) < 5:
                    self.result.errors.append(f"{kid}: {response.status} "
                                              f"{response.body[:300]!r}")
            return response.status, answers, None
        raise AssertionError("unreachable")


def _problem_type(response: http1.Answer) -> str:
    try:
        return str(json.loads(response.body).get("type", "")).removeprefix("urn:tenure:problem:")
    except (ValueError, AttributeError):
        return ""


class _Picker:
    """Device indices: the walk list once in order, then uniform picks from the pool or fleet."""

    def __init__(self, spec: PhaseSpec, rng: random.Random) -> None:
        self.walk = iter(spec.walk) if spec.walk is not None else None
        self.stop_after_walk = spec.stop_after_walk
        self.pool = spec.pool
        self.fleet_size = spec.fleet_size
        self.rng = rng
        self.lock = threading.Lock()

    def next(self) -> tuple[int, bool] | None:
        """(index, from the walk); None when the walk is done and nothing else is wanted."""
        if self.walk is not None:
            with self.lock:
                index = next(self.walk, None)
            if index is not None:
                return index, True
            if self.stop_after_walk:
                return None
        with self.lock:
            if self.pool is not None and len(self.pool):
                return self.pool[self.rng.randrange(len(self.pool))], False
            return self.rng.randrange(self.fleet_size), False


def _closed(spec: PhaseSpec, result: WorkerResult, picker: _Picker, lock: threading.Lock,
            answered: itertools.count[int]) -> None:
    device = _Device(spec, result, lock, answered)
    try:
        _wait_until(spec.t_start)
        while time.monotonic() < spec.t1:
            picked = picker.next()
            if picked is None:
                return
            index, walked = picked
            sent = time.monotonic()
            status, answers, record = device.request(index)
            done = time.monotonic()
            _account(spec, result, lock, index, walked, status, answers, record, sent, done)
    finally:
        device.close()


def _open(spec: PhaseSpec, result: WorkerResult, picker: _Picker, lock: threading.Lock,
          answered: itertools.count[int], due: itertools.count[int]) -> None:
    device = _Device(spec, result, lock, answered)
    interval = 1.0 / spec.rate
    deadline = spec.t1 + spec.drain
    try:
        device.nonce = device.http.request("HEAD", "/v1/device/nonce").headers["replay-nonce"]
        while True:
            scheduled = spec.t_start + (next(due) + spec.offset) * interval
            if scheduled >= spec.t1:
                return
            now = time.monotonic()
            if now > deadline:
                with lock:
                    result.dropped += 1
                continue
            if scheduled > now:
                time.sleep(scheduled - now)
            elif now - scheduled > 0.001:
                with lock:
                    result.late_sends += 1
            picked = picker.next()
            if picked is None:
                return
            index, walked = picked
            began = time.monotonic()
            status, answers, record = device.request(index)
            done = time.monotonic()
            _account(spec, result, lock, index, walked, status, answers, record, scheduled,
                     done, (began - scheduled, device.trip))
    finally:
        device.close()


def _account(spec: PhaseSpec, result: WorkerResult, lock: threading.Lock, index: int,
             walked: bool, status: int, answers: int, record: dict[str, Any] | None,
             started: float, done: float, split: tuple[float, float] | None = None) -> None:
    """`split`: open loop, (lag before sending, time in the round trips) in seconds."""
    with lock:
        result.requests_total += answers
        if status == 200:
            result.statuses["200"] += 1
        if status == 200 and walked:
            result.activated.append(index)
        if record is not None and record.get("status") == "locked":
            result.locked += 1
        in_window = spec.t0 <= done <= spec.t1 + (spec.drain if spec.mode == "open" else 0)
        if spec.mode == "open":
            # latency of every request scheduled inside the window, however late it ends
            if started >= spec.t0:
                result.latencies_ms.append((done - started) * 1000)
                if split is not None:  # the same index as its latency
                    result.lags_ms.append(split[0] * 1000)
                    result.trips_ms.append(split[1] * 1000)
            if spec.t0 <= done <= spec.t1:
                result.served += answers
                result.ok += status == 200
        elif in_window:
            result.served += answers
            result.ok += status == 200
            result.latencies_ms.append((done - started) * 1000)


def _wait_until(at: float) -> None:
    delay = at - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def run_worker(spec: PhaseSpec, number: int, out: Connection) -> None:
    """Entry point of one load-generator process; sends a WorkerResult back."""
    result = WorkerResult()
    try:
        lock = threading.Lock()
        picker = _Picker(spec, random.Random(spec.seed_rng * 1000 + number))
        answered = itertools.count(number)
        due = itertools.count()
        threads = [
            threading.Thread(target=_closed if spec.mode == "closed" else _open,
                             args=(spec, result, picker, lock, answered)
                             + (() if spec.mode == "closed" else (due,)), daemon=True)
            for _ in range(spec.threads)
        ]
        for thread in threads:
            thread.start()
        if not spec.stop_after_walk:
            # this process's own CPU inside the window (thread start-up excluded)
            _wait_until(spec.t0)
            cpu_before = time.process_time()
            _wait_until(spec.t1)
            result.client_cpu = time.process_time() - cpu_before
        hard_stop = spec.t1 + spec.drain + 40
        for thread in threads:
            thread.join(max(0.0, hard_stop - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            result.errors.append("a load thread did not finish in time")
    except BaseException as exc:  # noqa: BLE001 - reported to the orchestrator
        result.errors.append(f"worker {number} failed: {exc!r}\n{traceback.format_exc()}")
    out.send(result)
    out.close()
    os._exit(0)  # daemon threads, if any, end with the process


def describe_statuses(statuses: Counter[str]) -> str:
    """The failures (everything but 200), e.g. `500 internal: 3, 0 TimeoutError: 2`."""
    return ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()) if k != "200") or "none"


def dump(value: object) -> str:
    return json.dumps(value, default=str)
