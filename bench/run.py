"""The benchmark run: fleet, import, server, load phases, dry-run, per backend."""

from __future__ import annotations

import array
import os
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from . import fleet, http1, load
from .baseline import Baselines
from .floor import Floor
from .phases import PhaseResult
from .phases import run as run_phase
from .server import Server, bench_env, cli

REPO = Path(__file__).resolve().parent.parent
POLICY = REPO / "examples" / "policy.toml"
POSTGRES_ENVS = ("TENURE_BENCH_POSTGRES_URL", "TENURE_TEST_POSTGRES_URL")
# last known territories given to devices that were never activated (for the dry-run)
SPREAD = ["DE", "FR", "US", "GB", "IN", "BR", "JP", "CN", "IR", "UA-43"]


@dataclass
class Config:
    devices: int
    quick: bool
    backends: list[str]
    out: Path
    workers: int | None  # None: 1 on SQLite (one writer), the number of cores on PostgreSQL
    load_processes: int
    concurrency: int  # closed loop: requests in flight per load process
    open_threads: int  # open loop: threads per load process
    steps: list[int]
    warmup: float
    measure: float  # closed-loop window
    fixed_measure: float  # open-loop window
    pool_target: int  # devices activated before the phases at each step
    seed: bytes
    workdir: Path
    cores: int
    profile: bool = False
    client: str = "raw"
    server_env: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def log(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", flush=True)


@dataclass
class ImportResult:
    rows: int
    seconds: float  # wall clock of `tenure provision import`, process start included
    reported_rate: float  # the rows/s the command itself prints
    csv_seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass
class DryRunResult:
    fleet: int
    seconds: float  # wall clock of the command
    computed: float  # the "(computed in X s)" it reports
    seed_seconds: float  # seeding device_territory for devices without one


@dataclass
class Step:
    fleet: int
    imported: ImportResult
    activation: PhaseResult
    checkin: PhaseResult
    prep_seconds: float
    prepared: int
    dry_run: DryRunResult | None = None
    rss_mib: list[float] = field(default_factory=list)  # each server process, after check-in


@dataclass
class BackendResult:
    backend: str
    version: str
    steps: list[Step] = field(default_factory=list)
    checkin_fixed: PhaseResult | None = None
    activation_fixed: PhaseResult | None = None
    timings: list[tuple[str, float]] = field(default_factory=list)
    profiles: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    kinds: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # profile.by_kind
    notes: list[str] = field(default_factory=list)
    workers: int = 1
    round_trip_ms: float = 0.0  # idle keep-alive GET /healthz, median
    checkin_pool: array.array[int] | None = None  # the activated devices check-in picks from

    @property
    def final(self) -> Step:
        return self.steps[-1]


@dataclass
class RunResult:
    config: Config
    floor: Floor
    machine: dict[str, str]
    packages: dict[str, str]
    csv_seconds: float = 0.0
    backends: list[BackendResult] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    seconds: float = 0.0
    baselines: Baselines | None = None
    floors: list[Floor] = field(default_factory=list)  # each measurement; `floor` the lowest


def postgres_admin_url() -> str | None:
    for name in POSTGRES_ENVS:
        if os.environ.get(name):
            return os.environ[name]
    return None


class PostgresDatabase:
    """A private database `tenure_bench_<random>`, dropped at the end."""

    def __init__(self, admin_url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        from tenure.store.database import normalise_url

        self.name = f"tenure_bench_{secrets.token_hex(4)}"
        self.engine = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
        self.url = (make_url(normalise_url(admin_url)).set(database=self.name)
                    .render_as_string(hide_password=False))
        self.created = False

    def create(self) -> str:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.created = True
            version = conn.execute(text("SHOW server_version")).scalar_one()
        return str(version)

    def drop(self) -> None:
        from sqlalchemy import text

        if self.created:
            with self.engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.created = False
        self.engine.dispose()


def make_csvs(cfg: Config) -> tuple[list[fleet.CsvFile], float]:
    """One provisioning file per fleet step: devices [previous step, this step)."""
    files, previous, total = [], 0, 0.0
    for size in cfg.steps:
        path = cfg.workdir / f"devices-{previous}-{size}.csv"
        cfg.log(f"writing {path.name}: {size - previous:,} devices "
                f"({cfg.load_processes} processes)")
        made = fleet.write_csv(path, cfg.seed, previous, size, max(1, cfg.cores))
        total += made.seconds
        cfg.log(f"  {made.rows:,} rows in {made.seconds:.1f} s "
                f"({made.rows / made.seconds:,.0f} rows/s)")
        files.append(made)
        previous = size
    return files, total


def _import(cfg: Config, env: dict[str, str], csv: fleet.CsvFile, *options: str
            ) -> ImportResult:
    cfg.log(f"tenure provision import {csv.path.name} {' '.join(options)}({csv.rows:,} rows)")
    done = cli(env, "provision", "import", str(csv.path), *options, timeout=4 * 3600)
    match = re.search(r"imported (\d+) devices.*?([\d,]+) rows/s", done.stdout)
    if not match or int(match.group(1)) != csv.rows:
        raise RuntimeError(f"unexpected import result: {done.stdout}{done.stderr}")
    result = ImportResult(csv.rows, done.seconds, float(match.group(2).replace(",", "")),
                          csv.seconds)
    cfg.log(f"  {result.rate:,.0f} rows/s wall clock ({done.seconds:.1f} s); "
            f"the command reports {result.reported_rate:,.0f} rows/s")
    return result


def _seed_territories(url: str) -> float:
    """Give every device without one a last known territory, spread over SPREAD, with
    one INSERT ... SELECT (documented in docs/benchmarks.md: the dry-run needs whereabouts
    for the whole fleet, which only activations and check-ins would otherwise give)."""
    from sqlalchemy import create_engine, text

    from tenure.store.database import normalise_url

    cases = " ".join(f"WHEN {i} THEN '{t}'" for i, t in enumerate(SPREAD))
    statement = text(
        "INSERT INTO device_territory (device_id, territory, since, updated_at) "
        f"SELECT d.device_id, CASE (CAST(substr(d.device_id, 3) AS INTEGER) % {len(SPREAD)}) "
        f"{cases} END, :now, :now FROM devices d "
        "LEFT JOIN device_territory t ON t.device_id = d.device_id "
        "WHERE t.device_id IS NULL")
    engine = create_engine(normalise_url(url))
    started = time.perf_counter()
    try:
        with engine.begin() as conn:
            if url.startswith("sqlite"):
                conn.exec_driver_sql("PRAGMA busy_timeout=60000")
            conn.execute(statement, {"now": int(time.time())})
    finally:
        engine.dispose()
    return time.perf_counter() - started


def _dry_run(cfg: Config, env: dict[str, str], url: str, size: int) -> DryRunResult:
    seeded = _seed_territories(url)
    cfg.log(f"seeded last known territories in {seeded:.1f} s; "
            "tenure policy apply examples/policy.toml --dry-run")
    done = cli(env, "policy", "apply", str(POLICY), "--dry-run", timeout=3600)
    match = re.search(r"computed in ([\d.]+)s", done.stderr)
    result = DryRunResult(size, done.seconds, float(match.group(1)) if match else done.seconds,
                          seeded)
    cfg.log(f"  dry-run: {done.seconds:.2f} s wall clock, computed in {result.computed:.2f} s")
    return result


def _spec(cfg: Config, server: Server, jwks: dict[str, object], name: str, path: str,
          mode: str, window: float, warmup: float, **kwargs: object) -> load.PhaseSpec:
    return load.PhaseSpec(
        name=name, path=path, base_url=server.url, seed=cfg.seed, jwks=jwks, mode=mode,
        t_start=0.0, t0=warmup, t1=warmup + window,
        threads=cfg.concurrency if mode == "closed" else cfg.open_threads,
        seed_rng=random.randrange(1 << 30), client=cfg.client, **kwargs)  # type: ignore[arg-type]


def _check(cfg: Config, result: PhaseResult, notes: list[str]) -> None:
    cfg.log(f"  {result.name}: {result.summary()}")
    problems = []
    if result.failures:
        problems.append(f"{result.failures} failed requests "
                        f"({load.describe_statuses(result.statuses)})")
    if result.verify_failures:
        problems.append(f"{len(result.verify_failures)} records failed verification, e.g. "
                        f"{result.verify_failures[0]}")
    if result.errors:
        problems.append("; ".join(result.errors[:3]))
    if problems:
        note = f"{result.backend} {result.name} at {result.fleet:,} devices: " + "; ".join(
            problems)
        cfg.log(f"  WARNING: {note}")
        notes.append(note)


def _checkpoint(url: str) -> None:
    """Write the import back to the tables now (PostgreSQL's CHECKPOINT, SQLite's WAL
    checkpoint), so that the bulk load's write-back does not fall into the measured
    phases: in run 9 the checkpoint that a 900 k-row import set off on PostgreSQL ran
    for 161 s, over every phase of the 1 M step. A server's steady state is measured,
    not the minutes after a bulk load."""
    from sqlalchemy import create_engine

    from tenure.store.database import normalise_url

    engine = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if url.startswith("sqlite"):
                conn.exec_driver_sql("PRAGMA busy_timeout=60000")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                conn.exec_driver_sql("CHECKPOINT")
    finally:
        engine.dispose()


def run_backend(cfg: Config, backend: str, csvs: list[fleet.CsvFile]) -> BackendResult:
    data_dir = cfg.workdir / backend / "var"
    data_dir.mkdir(parents=True, exist_ok=True)
    database: PostgresDatabase | None = None
    server: Server | None = None
    timings: list[tuple[str, float]] = []
    try:
        if backend == "postgresql":
            admin = postgres_admin_url()
            assert admin is not None
            database = PostgresDatabase(admin)
            version = f"PostgreSQL {database.create()}"
            url = database.url
            cfg.log(f"[{backend}] created database {database.name}")
        else:
            import sqlite3

            version = f"SQLite {sqlite3.sqlite_version}"
            url = f"sqlite:///{(data_dir / 'tenure.db').resolve()}"
        workers = cfg.workers or (1 if backend == "sqlite" else cfg.cores)
        result = BackendResult(backend, version, timings=timings, workers=workers)
        env = bench_env(data_dir, database.url if database else None)
        env.update(cfg.server_env)
        t = time.perf_counter()
        cli(env, "init")
        cli(env, "policy", "apply", str(POLICY), "--reason", "bench", "--author", "bench")
        timings.append(("init + policy apply", time.perf_counter() - t))
        server = Server(env, workers, cfg.workdir / backend / "serve.log")
        db_name = database.name if database else None
        for number, (size, csv) in enumerate(zip(cfg.steps, csvs, strict=True)):
            t = time.perf_counter()
            imported = _import(cfg, env, csv)
            timings.append((f"import {csv.rows:,} devices", time.perf_counter() - t))
            t = time.perf_counter()
            try:
                _checkpoint(url)
            except Exception as exc:  # noqa: BLE001 - e.g. a role without pg_checkpoint
                cfg.log(f"  checkpoint after the import failed, measuring anyway: {exc}")
            timings.append((f"checkpoint after the import of {csv.rows:,}",
                            time.perf_counter() - t))
            if server.proc is None:
                t = time.perf_counter()
                server.start()
                timings.append(("server start", time.perf_counter() - t))
                cfg.log(f"[{backend}] tenure serve --port {server.port} --workers "
                        f"{workers} is up ({server.processes()} processes)")
                jwks = httpx.get(f"{server.url}/v1/keys", timeout=10).json()
                result.round_trip_ms = http1.round_trip_ms(server.url)
                cfg.log(f"  idle keep-alive round trip (GET /healthz): "
                        f"{result.round_trip_ms:.1f} ms")
                if result.round_trip_ms > 20:
                    note = (f"An idle keep-alive GET /healthz takes {result.round_trip_ms:.0f} ms "
                            "(~1 ms expected): the server's responses wait for the client's "
                            "delayed ACK, i.e. its sockets leave Nagle's algorithm on "
                            "(TCP_NODELAY unset; uvicorn does this with --workers > 1, "
                            "Kludex/uvicorn#3149). Throughput and latency below carry that "
                            "~40 ms per request; CPU per request does not.")
                    cfg.log(f"  WARNING: {note}")
                    result.notes.append(note)
            step = _run_step(cfg, backend, server, db_name, jwks, size, imported, result.notes,
                             timings, final=number == len(cfg.steps) - 1, result=result)
            t = time.perf_counter()
            step.dry_run = _dry_run(cfg, env, url, size)
            timings.append((f"dry-run at {size:,} (seeding included)", time.perf_counter() - t))
            result.steps.append(step)
        if cfg.profile:
            from .profile import profile_phases

            t = time.perf_counter()
            result.profiles = profile_phases(cfg, server, jwks, result)
            timings.append(("profiles (py-spy)", time.perf_counter() - t))
        return result
    finally:
        if server is not None:
            server.stop()
        if database is not None:
            database.drop()
            cfg.log(f"[{backend}] dropped database {database.name}")


def _run_step(cfg: Config, backend: str, server: Server, db_name: str | None,
              jwks: dict[str, object], size: int, imported: ImportResult, notes: list[str],
              timings: list[tuple[str, float]], final: bool, result: BackendResult) -> Step:
    rng = random.Random(f"{cfg.seed!r}-{size}")
    order = list(range(size))
    rng.shuffle(order)
    prepared = min(cfg.pool_target, size // 4)
    cfg.log(f"[{backend} {size:,}] activating {prepared:,} devices picked uniformly "
            "(the check-in sample)")
    t = time.perf_counter()
    prep = run_phase(server, db_name, _spec(cfg, server, jwks, "activation (sample)",
                                            load.ACTIVATION, "closed", 600, 0,
                                            stop_after_walk=True),
                     cfg.load_processes, backend, size, cfg.cores,
                     walk=array.array("q", order[:prepared]))
    prep_seconds = time.perf_counter() - t
    timings.append((f"activate sample at {size:,}", prep_seconds))
    pool = set(prep.activated)
    if prep.failures or prep.errors:
        _check(cfg, prep, notes)
    cfg.log(f"  {len(pool):,} activated in {prep_seconds:.1f} s")
    rest = order[prepared:]
    half = len(rest) // 2

    cfg.log(f"[{backend} {size:,}] activation at saturation "
            f"({cfg.load_processes}×{cfg.concurrency} in flight, {cfg.measure:.0f} s)")
    t = time.perf_counter()
    activation = run_phase(server, db_name, _spec(cfg, server, jwks, "activation",
                                                  load.ACTIVATION, "closed", cfg.measure,
                                                  cfg.warmup, fleet_size=size),
                           cfg.load_processes, backend, size, cfg.cores,
                           walk=array.array("q", rest[:half]))
    timings.append((f"activation saturation at {size:,}", time.perf_counter() - t))
    _check(cfg, activation, notes)
    pool.update(activation.activated)

    pool_array = array.array("q", sorted(pool))
    result.checkin_pool = pool_array
    cfg.log(f"[{backend} {size:,}] check-in at saturation over {len(pool_array):,} "
            f"activated devices ({cfg.measure:.0f} s)")
    t = time.perf_counter()
    checkin = run_phase(server, db_name, _spec(cfg, server, jwks, "check-in", load.CHECKIN,
                                               "closed", cfg.measure, cfg.warmup,
                                               pool=pool_array),
                        cfg.load_processes, backend, size, cfg.cores)
    timings.append((f"check-in saturation at {size:,}", time.perf_counter() - t))
    _check(cfg, checkin, notes)
    rss = server.rss_mib()
    cfg.log(f"  server memory (RSS per process): {', '.join(f'{m:.0f}' for m in rss)} MiB")

    if final:
        rate = max(1.0, 0.5 * checkin.throughput)
        cfg.log(f"[{backend} {size:,}] check-in at a fixed {rate:,.0f}/s "
                f"(half of saturation), {cfg.fixed_measure:.0f} s")
        t = time.perf_counter()
        result.checkin_fixed = run_phase(
            server, db_name, _spec(cfg, server, jwks, "check-in (fixed rate)", load.CHECKIN,
                                   "open", cfg.fixed_measure, cfg.warmup, pool=pool_array,
                                   rate=rate),
            cfg.load_processes, backend, size, cfg.cores)
        timings.append((f"check-in fixed rate at {size:,}", time.perf_counter() - t))
        _check(cfg, result.checkin_fixed, notes)

        rate = max(1.0, 0.5 * activation.throughput)
        cfg.log(f"[{backend} {size:,}] activation at a fixed {rate:,.0f}/s "
                f"(half of saturation), {cfg.fixed_measure:.0f} s")
        t = time.perf_counter()
        result.activation_fixed = run_phase(
            server, db_name, _spec(cfg, server, jwks, "activation (fixed rate)",
                                   load.ACTIVATION, "open", cfg.fixed_measure, cfg.warmup,
                                   fleet_size=size, rate=rate),
            cfg.load_processes, backend, size, cfg.cores, walk=array.array("q", rest[half:]))
        timings.append((f"activation fixed rate at {size:,}", time.perf_counter() - t))
        _check(cfg, result.activation_fixed, notes)
    return Step(size, imported, activation, checkin, prep_seconds, len(pool), rss_mib=rss)
