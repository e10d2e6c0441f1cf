"""Baselines: what a check-in costs with no Tenure code at all, measured in the same run.

The efficiency targets compare Tenure's server CPU per check-in with the crypto floor.
Where a target is missed, these say how much of the gap is the Python HTTP stack and the
durable write themselves rather than Tenure's own work:

- the raw-ASGI app of baseline_app.py in its five modes (`http`, `crypto`, `sqlite`,
  `group`, `activation`),
  served by uvicorn with uvloop and httptools (what `tenure serve` runs) and by granian
  (a Rust HTTP stack), one worker each, driven by the load generator's HTTP client
  (`--load-processes` × `--concurrency` requests in flight, the same as the saturation
  phases); server CPU µs per request from /proc, as for Tenure;
- an fsync baseline: one SQLite insert committed with `synchronous=FULL`, in this process,
  CPU and wall-clock µs per commit, on the file system the bench works on;
- the latency of the bare group-committed check-in (uvicorn, `group`) at half of its own
  saturation throughput, in an open loop as Tenure's fixed-rate phases are measured:
  whether the stack and this machine allow the p99 target at all.

`python -m bench.baseline` runs them alone and prints the table.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import multiprocessing
import os
import queue
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import http1
from .phases import percentile
from .server import descendants, free_port, proc_cpu

REPO = Path(__file__).resolve().parent.parent
MODES = ("http", "crypto", "sqlite", "group", "activation")
SERVERS = ("uvicorn", "granian")
DEVICES = 10_000


@dataclass
class BaselineRow:
    server: str
    mode: str
    workers: int
    requests: int
    failed: int
    seconds: float
    cpu_seconds: float
    error: str = ""

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds * 1e6 / self.requests if self.requests else 0.0

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class FsyncBaseline:
    commits: int
    cpu_us: float
    wall_us: float
    # the commits' own wall-clock times: a slow fsync now and then is a latency tail
    # that no server code can avoid
    p99_ms: float = math.nan
    max_ms: float = math.nan


@dataclass
class LatencyRow:
    """An open loop at a fixed rate: latency from each request's scheduled time."""

    server: str
    mode: str
    rate: float
    answered: int
    failed: int
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    cpu_us: float = math.nan  # server CPU µs a request inside the window

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


@dataclass
class Baselines:
    in_flight: int
    window: float
    rows: list[BaselineRow] = field(default_factory=list)
    fsync: FsyncBaseline | None = None
    latency: LatencyRow | None = None

    def row(self, server: str, mode: str, workers: int = 1) -> BaselineRow | None:
        return next((r for r in self.rows if r.server == server and r.mode == mode
                     and r.workers == workers and not r.error), None)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _request_body(key: Ed25519PrivateKey) -> bytes:
    """A flattened JWS shaped like a check-in (its size and fields), signed once: the
    baseline verifies it every time but keeps no nonces, so the same body serves."""
    protected = _b64(json.dumps({"alg": "EdDSA", "kid": "device:BENCH-00042",
                                 "nonce": "q" * 43, "url": "/v1/device/checkin"}).encode())
    payload = _b64(json.dumps({"device_id": "BENCH-00042", "nonce": "q" * 43,
                               "signals": {"sim_mcc": "262", "gnss": "DE"},
                               "os_version": "14.2.1", "locale": "de"}).encode())
    signature = key.sign(f"{protected}.{payload}".encode("ascii"))
    return json.dumps({"protected": protected, "payload": payload,
                       "signature": _b64(signature)}).encode()


def _database(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE devices (device_id TEXT PRIMARY KEY, state TEXT NOT NULL, "
               "activated_at INTEGER)")
    db.execute("CREATE TABLE used_nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER)")
    db.execute("CREATE TABLE device_territory (device_id TEXT PRIMARY KEY, territory TEXT, "
               "since INTEGER)")
    db.execute("CREATE TABLE audit (stream TEXT NOT NULL, seq INTEGER NOT NULL, "
               "hash TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (stream, seq))")
    db.execute("BEGIN")
    db.executemany("INSERT INTO devices VALUES (?, 'active', NULL)",
                   ((f"BENCH-{i:05d}",) for i in range(DEVICES)))
    db.execute("COMMIT")
    db.close()


def _command(server: str, port: int, workers: int) -> list[str]:
    target = "bench.baseline_app:app"
    if server == "uvicorn":  # as tenure serve runs it (cli/server.py)
        return [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1",
                "--port", str(port), "--loop", "uvloop", "--http", "httptools",
                "--no-access-log", "--log-level", "warning", "--lifespan", "on",
                "--workers", str(workers)]
    return [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--no-ws", "--log-level",
            "warning", target]


def _drive(url: str, body: bytes, threads: int, stop_at: float, counts: object,
           failures: object, first: int) -> None:
    """One load process: `threads` keep-alive connections, each a closed loop."""

    def loop(slot: int) -> None:
        client = http1.RawClient(url)
        try:
            while time.time() < stop_at:
                try:
                    answer = client.request("POST", "/v1/device/checkin", body,
                                            "application/jose+json")
                    ok = answer.status == 200
                except OSError:
                    ok = False
                if ok:
                    counts[slot] += 1  # type: ignore[index]
                else:
                    failures[slot] += 1  # type: ignore[index]
        finally:
            client.close()

    workers = [threading.Thread(target=loop, args=(first + i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def _drive_open(url: str, body: bytes, first: int, threads: int, every: int, rate: float,
                start_at: float, measure_from: float, stop_at: float, out: Any) -> None:
    """One load process of the open loop, `threads` connections. Request k of the whole
    loop is due at start_at + k / rate, and connection `slot` (of `every` in all) sends
    those with k ≡ slot (mod every). Latency counts from the due time, so a request that
    waited behind a slow one counts its wait (no coordinated omission)."""
    latencies: list[float] = []
    failed = [0]
    lock = threading.Lock()

    def loop(slot: int, every: int) -> None:
        client = http1.RawClient(url)
        try:
            k = slot
            while (due := start_at + k / rate) < stop_at:
                now = time.time()
                if due > now:
                    time.sleep(due - now)
                try:
                    ok = client.request("POST", "/v1/device/checkin", body,
                                        "application/jose+json").status == 200
                except OSError:
                    ok = False
                done = time.time()
                if due >= measure_from:
                    with lock:
                        if ok:
                            latencies.append((done - due) * 1000)
                        else:
                            failed[0] += 1
                k += every
        finally:
            client.close()

    workers = [threading.Thread(target=loop, args=(first + i, every)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((latencies, failed[0]))


def _wait_ready(url: str, body: bytes, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the baseline server exited ({proc.returncode})")
        try:
            client = http1.RawClient(url, timeout=2)
            try:
                if client.request("POST", "/v1/device/checkin", body,
                                  "application/jose+json").status == 200:
                    return
            finally:
                client.close()
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the baseline server did not answer in 30 s")


@contextmanager
def _serving(server: str, mode: str, workdir: Path, workers: int, name: str
             ) -> Iterator[tuple[str, bytes, subprocess.Popen[bytes]]]:
    """The bare app in `mode`, served and answering: (its URL, a request body its key
    signed, the server process); stopped on leaving."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    body = _request_body(key)
    db = workdir / f"{name}.db"
    if mode in ("sqlite", "group", "activation"):
        _database(db)
    port = free_port()
    env = {**os.environ, "BASELINE_MODE": mode, "BASELINE_DEVICE_KEY": public.hex(),
           "BASELINE_DB": str(db), "PYTHONPATH": str(REPO)}
    log = (workdir / f"{name}.log").open("wb")
    proc = subprocess.Popen(_command(server, port, workers), env=env, cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, body, proc)
        yield url, body, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _tree_cpu(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds of the server process and its workers so far."""
    return sum(proc_cpu(p) for p in descendants(proc.pid, include_self=True))


def measure_one(server: str, mode: str, workdir: Path, processes: int, threads: int,
                warmup: float, window: float, workers: int = 1) -> BaselineRow:
    try:
        with _serving(server, mode, workdir, workers,
                      f"baseline-{server}-{mode}-{workers}") as (url, body, proc):
            slots = processes * threads
            counts = multiprocessing.Array("q", slots, lock=False)
            failures = multiprocessing.Array("q", slots, lock=False)
            stop_at = time.time() + warmup + window + 1.0
            drivers = [multiprocessing.Process(target=_drive, args=(
                url, body, threads, stop_at, counts, failures, i * threads))
                for i in range(processes)]
            for d in drivers:
                d.start()
            time.sleep(warmup)
            cpu0, n0, f0, t0 = _tree_cpu(proc), sum(counts), sum(failures), time.monotonic()
            time.sleep(window)
            cpu1, n1, f1, t1 = _tree_cpu(proc), sum(counts), sum(failures), time.monotonic()
            for d in drivers:
                d.join()
            return BaselineRow(server, mode, workers, n1 - n0, f1 - f0, t1 - t0, cpu1 - cpu0)
    except RuntimeError as exc:
        return BaselineRow(server, mode, workers, 0, 0, 0.0, 0.0, error=str(exc))


def measure_latency(server: str, mode: str, workdir: Path, processes: int, threads: int,
                    rate: float, warmup: float, window: float) -> LatencyRow:
    """The bare app at a fixed `rate` (an open loop, as Tenure's fixed-rate phases)."""
    with _serving(server, mode, workdir, 1, f"latency-{server}-{mode}") as (url, body, proc):
        out: Any = multiprocessing.Queue()
        start_at = time.time() + 0.5
        measure_from, stop_at = start_at + warmup, start_at + warmup + window
        every = processes * threads
        drivers = [multiprocessing.Process(target=_drive_open, args=(
            url, body, i * threads, threads, every, rate, start_at, measure_from, stop_at,
            out)) for i in range(processes)]
        for d in drivers:
            d.start()
        time.sleep(max(0.0, measure_from - time.time()))
        cpu0 = _tree_cpu(proc)
        time.sleep(max(0.0, stop_at - time.time()))
        cpu1 = _tree_cpu(proc)
        latencies: list[float] = []
        failed = 0
        for _ in drivers:  # read before joining: a full pipe would block the sender
            got, bad = out.get(timeout=warmup + window + 120)
            latencies += got
            failed += bad
        for d in drivers:
            d.join()
        return LatencyRow(server, mode, rate, len(latencies), failed, latencies,
                          (cpu1 - cpu0) * 1e6 / len(latencies) if latencies else math.nan)


def fsync_baseline(workdir: Path, commits: int = 2000) -> FsyncBaseline:
    """One row inserted and committed at a time with synchronous=FULL: what a durable
    write costs with nothing shared."""
    path = workdir / "fsync-baseline.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE used_nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER)")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0, wall0 = usage.ru_utime + usage.ru_stime, time.perf_counter()
    each: list[float] = []
    for i in range(commits):
        began = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO used_nonces VALUES (?, 0)", (f"{i:032x}",))
        db.execute("COMMIT")
        each.append((time.perf_counter() - began) * 1000)
    wall = time.perf_counter() - wall0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    db.close()
    return FsyncBaseline(commits, cpu * 1e6 / commits, wall * 1e6 / commits,
                         percentile(each, 99), max(each))


def available(server: str) -> bool:
    try:
        __import__(server)
    except ImportError:
        return False
    return True


def run(workdir: Path, processes: int, threads: int, warmup: float, window: float,
        log: Callable[[str], None] = print, fixed_window: float | None = None) -> Baselines:
    """`fixed_window`: seconds of the open-loop latency window (default: `window`)."""
    fixed_window = fixed_window or window
    result = Baselines(in_flight=processes * threads, window=window)
    cores = os.cpu_count() or 1
    for server in SERVERS:
        if not available(server):
            log(f"  baseline: {server} is not installed (pip install -e '.[bench]'); skipped")
            continue
        # the modes on one worker (CPU per request), then the crypto on one worker per
        # core: the most check-ins per second the stack gives before any database
        for mode, workers in dict.fromkeys([*((m, 1) for m in MODES), ("crypto", cores)]):
            row = measure_one(server, mode, workdir, processes, threads, warmup, window,
                              workers)
            result.rows.append(row)
            log(f"  baseline {server:<8} {mode:<7} ×{workers} "
                + (row.error or f"{row.cpu_us:7.1f} µs/request  {row.throughput:8,.0f}/s  "
                                f"failed {row.failed}"))
    result.fsync = fsync_baseline(workdir)
    log(f"  baseline fsync: {result.fsync.cpu_us:.1f} µs CPU, {result.fsync.wall_us:.1f} µs "
        f"wall clock per commit; p99 {result.fsync.p99_ms:.1f} ms, slowest "
        f"{result.fsync.max_ms:.1f} ms")
    group = result.row("uvicorn", "group")
    if group is not None and group.throughput:
        try:
            result.latency = measure_latency("uvicorn", "group", workdir, processes, threads,
                                             group.throughput / 2, warmup, fixed_window)
        except (RuntimeError, OSError, queue.Empty) as exc:
            log(f"  baseline latency: failed ({exc})")
        else:
            lat = result.latency
            log(f"  baseline uvicorn  group at {lat.rate:,.0f}/s (half of saturation): "
                f"p50 {lat.percentile(50):.1f} ms, p99 {lat.percentile(99):.1f} ms, "
                f"server CPU {lat.cpu_us:,.0f} µs/request, "
                f"{lat.answered:,} answered, failed {lat.failed}")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--load-processes", type=int, default=os.cpu_count() or 1,
                   help="load processes (default: one per core)")
    p.add_argument("--concurrency", type=int, default=4,
                   help="requests in flight per load process (default 4)")
    p.add_argument("--measure", type=float, default=10.0, help="window in seconds")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up in seconds")
    p.add_argument("--fixed-measure", type=float, default=30.0,
                   help="window of the fixed-rate latency baseline in seconds (default 30, "
                        "as the full run's fixed-rate phases)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tenure-baseline-") as tmp:
        run(Path(tmp), args.load_processes, args.concurrency, args.warmup, args.measure,
            fixed_window=args.fixed_measure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
