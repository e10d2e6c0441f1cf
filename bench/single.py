"""One step of the benchmark alone (`--only import`, `--only dry-run`), without a server.

import: `tenure provision import` of one file of --devices rows into an empty database,
wall clock and CPU of the command (its worker processes included) and, on PostgreSQL,
of the database's backends, which together say how fast the cores could go at most.

dry-run: the database filled with --devices devices (the parallel import, files of at
most 1 M rows, one public key for all: the dry-run reads no keys, and deriving ten
million takes longer than importing them), one device in four activated and every
device given a last known territory with one `UPDATE` and one `INSERT ... SELECT`
(the counting triggers see both), then `tenure policy apply examples/policy.toml
--dry-run`, three times. For reference the bench then counts the same groups by
brute force — the grouped join of every device with its whereabouts that the dry-run
ran before it read kept totals — times it, and checks that both agree.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine

from . import fleet
from .run import POLICY, Config, PostgresDatabase, _import, _seed_territories
from .server import BackendWatch, bench_env, cli

FILL_FILE_ROWS = 1_000_000
ACTIVATED_EVERY = 4


@dataclass
class ImportOnly:
    backend: str
    rows: int
    seconds: float  # wall clock of the command, process start included
    reported_rate: float
    cpu_seconds: float  # user + system of the command and its worker processes
    load: float  # 1-minute load average at the end
    database_cpu_seconds: float | None = None  # PostgreSQL's backends for the import
    cores: int = 1

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    @property
    def ceiling(self) -> float | None:
        """Rows/s the cores would allow at this CPU a row if they did nothing else and
        were never idle: the bound that CPU alone sets (PostgreSQL only, where the
        database's share is measured)."""
        if self.database_cpu_seconds is None:
            return None
        return self.cores * self.rows / (self.cpu_seconds + self.database_cpu_seconds)


@dataclass
class DryRunScale:
    backend: str
    devices: int
    fill_seconds: float
    seed_seconds: float
    runs: list[tuple[float, float]] = field(default_factory=list)  # (wall, computed)
    brute_seconds: float = 0.0
    groups: int = 0
    exact: bool = False
    load: float = 0.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _database(cfg: Config, backend: str, admin: str | None
              ) -> tuple[PostgresDatabase | None, str, dict[str, str]]:
    data_dir = cfg.workdir / f"{backend}-only" / "var"
    shutil.rmtree(data_dir, ignore_errors=True)  # an empty database every run
    data_dir.mkdir(parents=True)
    database = None
    if backend == "postgresql":
        assert admin is not None
        database = PostgresDatabase(admin)
        database.create()
        url = database.url
    else:
        url = f"sqlite:///{(data_dir / 'tenure.db').resolve()}"
    env = bench_env(data_dir, database.url if database else None)
    env.update(cfg.server_env)
    cli(env, "init")
    cli(env, "policy", "apply", str(POLICY), "--reason", "bench", "--author", "bench")
    return database, url, env


def import_only(cfg: Config, backend: str, admin: str | None, csv: fleet.CsvFile,
                workers: int | None) -> ImportOnly:
    database, _, env = _database(cfg, backend, admin)
    try:
        extra = ("--workers", str(workers)) if workers else ()
        before = _children_cpu()
        with contextlib.ExitStack() as stack:
            watch = (stack.enter_context(BackendWatch(database.name))
                     if database is not None else None)
            imported = _import(cfg, env, csv, *extra)
        cpu = _children_cpu() - before
        result = ImportOnly(backend, csv.rows, imported.seconds, imported.reported_rate, cpu,
                            os.getloadavg()[0],
                            watch.cpu_seconds if watch is not None else None, cfg.cores)
        cfg.log(f"  [{backend}] {result.rate:,.0f} devices/s wall clock, CPU "
                f"{cpu / csv.rows * 1e6:.1f} µs a row (command and workers)"
                f"{_database_share(result)}, load {result.load:.1f}")
        return result
    finally:
        if database is not None:
            database.drop()


def fill_files(cfg: Config, devices: int) -> list[fleet.CsvFile]:
    files = []
    for start in range(0, devices, FILL_FILE_ROWS):
        stop = min(devices, start + FILL_FILE_ROWS)
        path = cfg.workdir / f"fill-{start}-{stop}.csv"
        if path.exists():  # a kept work directory (--workdir) is used again
            files.append(fleet.CsvFile(path, start, stop, 0.0))
            continue
        cfg.log(f"writing {path.name} (one key for all rows)")
        # In this process: with one key a row is cheap to make, and a pool forked ten
        # times in a row once left a worker hanging on a lock it inherited.
        files.append(fleet.write_csv(path, cfg.seed, start, stop, 1, one_key=True))
    return files


def dry_run_scale(cfg: Config, backend: str, admin: str | None) -> DryRunScale:
    from sqlalchemy import create_engine, text

    from tenure.store.database import normalise_url

    files = fill_files(cfg, cfg.devices)
    database, url, env = _database(cfg, backend, admin)
    try:
        started = time.perf_counter()
        for csv in files:
            _import(cfg, env, csv)
        fill = time.perf_counter() - started
        engine = create_engine(normalise_url(url))
        try:
            started = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(text(
                    "UPDATE devices SET activated_at = :now "
                    f"WHERE CAST(substr(device_id, 3) AS INTEGER) % {ACTIVATED_EVERY} = 0"),
                    {"now": int(time.time())})
            seed = time.perf_counter() - started + _seed_territories(url)
            cfg.log(f"[{backend}] {cfg.devices:,} devices in {fill:.0f} s; one in "
                    f"{ACTIVATED_EVERY} activated and territories seeded in {seed:.0f} s")
            result = DryRunScale(backend, cfg.devices, fill, seed)
            for _ in range(3):
                done = cli(env, "policy", "apply", str(POLICY), "--dry-run", timeout=3600)
                match = re.search(r"computed in ([\d.]+)s", done.stderr)
                result.runs.append((done.seconds,
                                    float(match.group(1)) if match else done.seconds))
            result.brute_seconds, brute = _brute_force(engine)
            with engine.connect() as conn:
                kept = {tuple(r[:5]): r[5] for r in conn.execute(text(
                    "SELECT model, sku, market, territory, in_use, sum(devices) FROM ("
                    "SELECT model, sku, market, territory, in_use, devices FROM territory_counts "
                    "UNION ALL SELECT model, sku, market, territory, in_use, devices "
                    "FROM territory_count_changes) c GROUP BY 1, 2, 3, 4, 5 "
                    "HAVING sum(devices) <> 0"))}
            kept = {(*k[:4], bool(k[4])): v for k, v in kept.items()}
            result.groups, result.exact = len(brute), kept == brute
        finally:
            engine.dispose()
        result.load = os.getloadavg()[0]
        cfg.log(f"  [{backend}] dry-run over {cfg.devices:,} devices: "
                + ", ".join(f"{w:.2f} s (computed in {c:.2f} s)" for w, c in result.runs)
                + f"; brute-force count {result.brute_seconds:.1f} s; {result.groups} groups, "
                f"{'equal' if result.exact else 'NOT EQUAL'}")
        return result
    finally:
        if database is not None:
            database.drop()


def _brute_force(engine: Engine) -> tuple[float, dict[tuple[object, ...], int]]:
    """The grouped join the dry-run ran before migration 0014, timed."""
    from sqlalchemy import text

    started = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT d.model, d.sku, d.market, dt.territory, "
            "d.activated_at IS NOT NULL AND dt.since IS NOT NULL, count(*) "
            "FROM device_territory dt JOIN devices d ON d.device_id = dt.device_id "
            "WHERE dt.territory IS NOT NULL GROUP BY 1, 2, 3, 4, 5")).all()
    seconds = time.perf_counter() - started
    return seconds, {(*r[:4], bool(r[4])): int(r[5]) for r in rows}


def _database_share(i: ImportOnly) -> str:
    if i.database_cpu_seconds is None or i.ceiling is None:
        return ""
    return (f" + {i.database_cpu_seconds / i.rows * 1e6:.1f} µs a row in PostgreSQL; "
            f"at that CPU a row {i.cores} cores allow at most {i.ceiling:,.0f} rows/s")


def summary(imports: list[ImportOnly], scales: list[DryRunScale]) -> str:
    lines = []
    for i in imports:
        lines.append(f"import {i.backend:<10} {i.rows:>10,} rows  {i.rate:>8,.0f} devices/s "
                     f"wall clock ({i.seconds:.1f} s; the command reports "
                     f"{i.reported_rate:,.0f}/s); CPU {i.cpu_seconds / i.rows * 1e6:.1f} µs a "
                     f"row{_database_share(i)}; load {i.load:.1f}")
    for s in scales:
        best = min(s.runs)
        lines.append(f"dry-run {s.backend:<9} {s.devices:>10,} devices  best {best[0]:.2f} s "
                     f"wall clock (computed in {best[1]:.2f} s); brute-force count "
                     f"{s.brute_seconds:.1f} s; {s.groups} groups, "
                     f"{'equal' if s.exact else 'NOT EQUAL'}; load {s.load:.1f}")
    return "\n".join(lines)


def write_csv_once(cfg: Config, devices: int) -> fleet.CsvFile:
    """The import's file, kept in a --workdir between runs."""
    path = cfg.workdir / f"import-{devices}.csv"
    if path.exists():
        return fleet.CsvFile(path, 0, devices, 0.0)
    cfg.log(f"writing {path.name}: {devices:,} devices ({cfg.cores} processes)")
    return fleet.write_csv(path, cfg.seed, 0, devices, max(1, cfg.cores))

