"""The scale-out phase (`python -m bench --replicas 1,2,3`): check-in throughput with one,
two, three ... `tenure serve` replicas on one PostgreSQL database, behind HAProxy
(bench/balancer.py), and what each added replica brings; memory of every process.

Nonces go to Redis when TENURE_BENCH_REDIS_URL (or TENURE_TEST_REDIS_URL) is set, as
docs/scale-out.md deploys it; otherwise to the database, which is just as correct
across replicas. One replica without the balancer is measured first, so the cost of
the extra hop is visible apart from the cost of the replicas.
"""

from __future__ import annotations

import array
import os
import random
import subprocess
import time
from dataclasses import dataclass, field

import httpx

from . import fleet, load
from .balancer import HAProxy, haproxy_path
from .floor import Floor
from .phases import PhaseResult
from .phases import run as run_phase
from .run import (
    POLICY,
    Config,
    ImportResult,
    PostgresDatabase,
    _check,
    _import,
    postgres_admin_url,
)
from .server import Server, bench_env, cli, rss_mib

REDIS_ENVS = ("TENURE_BENCH_REDIS_URL", "TENURE_TEST_REDIS_URL")
POOL = 5_000  # activated devices the check-ins pick from


@dataclass
class ScaleRow:
    replicas: int
    balanced: bool  # through HAProxy
    in_flight: int
    phase: PhaseResult
    replica_cores: list[float]  # CPU each replica kept busy in the window (cores)
    rss_mib: list[float]  # each server process after the window
    balancer_rss_mib: float = 0.0


@dataclass
class ScaleResult:
    config: Config
    floor: Floor
    machine: dict[str, str]
    version: str
    haproxy: str
    workers: int
    redis: bool
    imported: ImportResult | None = None
    pool: int = 0
    table_bytes: dict[str, int] = field(default_factory=dict)  # with indexes and TOAST
    rows: list[ScaleRow] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    seconds: float = 0.0


@dataclass
class Replicas:
    """The replicas in rotation and the balancer, measured as one server."""

    servers: list[Server]
    balancer: HAProxy | None

    @property
    def url(self) -> str:
        return self.balancer.url if self.balancer else self.servers[0].url

    def pids(self) -> list[int]:
        return [pid for server in self.servers for pid in server.pids()]

    def balancer_pids(self) -> list[int]:
        return [self.balancer.pid] if self.balancer and self.balancer.proc else []


def redis_url() -> str | None:
    return next((os.environ[name] for name in REDIS_ENVS if os.environ.get(name)), None)


def haproxy_version() -> str:
    binary = haproxy_path()
    if binary is None:
        return "not installed"
    out = subprocess.run([binary, "-v"], capture_output=True, text=True).stdout
    return out.split("\n", 1)[0].removeprefix("HAProxy version ").split(" ")[0] or "unknown"


STORAGE_TABLES = ("devices", "device_imeis", "device_territory", "audit_events", "used_nonces")


def table_bytes(url: str) -> dict[str, int]:
    """pg_total_relation_size (table, indexes, TOAST) of the tables a device fills: the
    storage arithmetic of docs/scale-out.md. Freshly written, so without bloat."""
    from sqlalchemy import create_engine, text

    from tenure.store.database import normalise_url

    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            return {name: int(conn.execute(text("SELECT pg_total_relation_size(:t)"),
                                           {"t": name}).scalar_one())
                    for name in STORAGE_TABLES}
    finally:
        engine.dispose()


def _replica_cores(phase: PhaseResult, servers: list[Server]) -> list[float]:
    if phase.edges is None or not phase.window_s:
        return []
    before, after = phase.edges
    found = []
    for server in servers:
        pids = server.pids()
        used = sum(after.procs.get(p, ("", 0.0))[1] - before.procs.get(p, ("", 0.0))[1]
                   for p in pids if p in before.procs)
        found.append(used / phase.window_s)
    return found


def run_scale_out(cfg: Config, counts: list[int], csv: fleet.CsvFile, floor: Floor,
                  machine: dict[str, str]) -> ScaleResult:
    admin = postgres_admin_url()
    if admin is None:
        raise SystemExit("the scale-out phase needs PostgreSQL: set TENURE_BENCH_POSTGRES_URL "
                         "(or TENURE_TEST_POSTGRES_URL)")
    if haproxy_path() is None:
        raise SystemExit("the scale-out phase needs HAProxy: `make haproxy` installs it")
    database = PostgresDatabase(admin)
    servers: list[Server] = []
    balancer: HAProxy | None = None
    workers = cfg.workers or 1
    redis = redis_url()
    result = ScaleResult(cfg, floor, machine, "", haproxy_version(), workers, redis is not None)
    try:
        result.version = f"PostgreSQL {database.create()}"
        cfg.log(f"[scale-out] created database {database.name}")
        data_dir = cfg.workdir / "scale-out" / "var"
        data_dir.mkdir(parents=True, exist_ok=True)
        env = bench_env(data_dir, database.url)
        env["TENURE_TRUSTED_PROXIES"] = "127.0.0.1"
        if redis:
            env["TENURE_REDIS_URL"] = redis
        env.update(cfg.server_env)
        t = time.perf_counter()
        cli(env, "init")
        cli(env, "policy", "apply", str(POLICY), "--reason", "bench", "--author", "bench")
        result.imported = _import(cfg, env, csv)
        result.timings.append(("init, policy, import", time.perf_counter() - t))

        def start_replica() -> Server:
            server = Server(env, workers, cfg.workdir / "scale-out" / f"serve-{len(servers)}.log")
            t = time.perf_counter()
            server.start()
            result.timings.append((f"replica {len(servers) + 1} start", time.perf_counter() - t))
            servers.append(server)
            cfg.log(f"[scale-out] replica {len(servers)}: tenure serve --port {server.port} "
                    f"--workers {workers}")
            return server

        first = start_replica()
        jwks = httpx.get(f"{first.url}/v1/keys", timeout=10).json()
        order = list(range(csv.rows))
        random.Random(f"{cfg.seed!r}-scale").shuffle(order)
        pool_size = min(POOL, csv.rows // 4)
        cfg.log(f"[scale-out] activating {pool_size:,} devices (the check-in sample)")
        t = time.perf_counter()
        prep = run_phase(Replicas([first], None), database.name, _spec(
            cfg, first.url, jwks, "activation (sample)", load.ACTIVATION, 0, cfg.concurrency,
            window=600, stop_after_walk=True), cfg.load_processes, "postgresql", csv.rows,
            cfg.cores, walk=array.array("q", order[:pool_size]))
        result.timings.append(("activate the sample", time.perf_counter() - t))
        pool = array.array("q", sorted(set(prep.activated)))
        result.pool = len(pool)
        result.table_bytes = table_bytes(database.url)
        if prep.failures or prep.errors:
            _check(cfg, prep, result.notes)

        plan = [(1, False)] + [(n, True) for n in counts]
        for n, balanced in plan:
            while len(servers) < n:
                start_replica()
            group = servers[:n]
            if balanced:
                balancer = HAProxy(cfg.workdir / "scale-out" / f"haproxy-{n}",
                                   [s.port for s in group]).start()
            replicas = Replicas(group, balancer)
            in_flight = cfg.load_processes * cfg.concurrency * n
            name = (f"check-in, {n} replica{'s' if n > 1 else ''}"
                    + (" behind HAProxy" if balanced else ", direct"))
            cfg.log(f"[scale-out] {name}, {in_flight} in flight ({cfg.measure:.0f} s)")
            t = time.perf_counter()
            phase = run_phase(replicas, database.name, _spec(
                cfg, replicas.url, jwks, name, load.CHECKIN, cfg.warmup, cfg.concurrency * n,
                window=cfg.measure, pool=pool), cfg.load_processes, "postgresql", csv.rows,
                cfg.cores)
            result.timings.append((name, time.perf_counter() - t))
            _check(cfg, phase, result.notes)
            row = ScaleRow(n, balanced, in_flight, phase, _replica_cores(phase, group),
                           [m for s in group for m in s.rss_mib()],
                           rss_mib(balancer.pid) if balancer else 0.0)
            cfg.log(f"  replicas busy {', '.join(f'{c:.2f}' for c in row.replica_cores)} "
                    f"cores; RSS {', '.join(f'{m:.0f}' for m in row.rss_mib)} MiB"
                    + (f"; HAProxy {phase.balancer_cpu_s / phase.window_s:.2f} cores, "
                       f"{row.balancer_rss_mib:.0f} MiB" if balancer and phase.window_s else ""))
            result.rows.append(row)
            if balancer is not None:
                balancer.stop()
                balancer = None
        return result
    finally:
        if balancer is not None:
            balancer.stop()
        for server in servers:
            server.stop()
        database.drop()
        cfg.log(f"[scale-out] dropped database {database.name}")


def _spec(cfg: Config, url: str, jwks: dict[str, object], name: str, path: str,
          warmup: float, threads: int, window: float, **kwargs: object) -> load.PhaseSpec:
    return load.PhaseSpec(
        name=name, path=path, base_url=url, seed=cfg.seed, jwks=jwks, mode="closed",
        t_start=0.0, t0=warmup, t1=warmup + window, threads=threads,
        seed_rng=random.randrange(1 << 30), client=cfg.client, **kwargs)  # type: ignore[arg-type]
