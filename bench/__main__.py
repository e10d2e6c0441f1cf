"""`python -m bench`: Tenure's reproducible benchmark. See docs/benchmarks.md."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import baseline, floor, machine, report
from .profile import py_spy
from .run import REPO, Config, RunResult, make_csvs, postgres_admin_url, run_backend
from .server import install_signal_handlers

QUICK_DEVICES = 10_000
SCALE_DEVICES = 50_000  # --replicas: the fleet size matters little to a check-in (point lookups)


def _steps(devices: int, quick: bool) -> list[int]:
    """Fleet sizes for the scaling table: 10 k, 100 k, 1 M (quick: 1 k, 5 k, 10 k),
    each capped at --devices, ending at --devices."""
    marks = [1_000, 5_000] if quick else [10_000, 100_000]
    steps = [m for m in marks if m < devices]
    return steps + [devices]


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Generate a synthetic fleet, import it, start `tenure serve`, drive it "
                    "with a PROTOCOL.md load generator and write docs/benchmarks.md.")
    p.add_argument("--devices", type=int, default=None,
                   help="fleet size (default 1,000,000; --quick: 10,000)")
    p.add_argument("--quick", action="store_true",
                   help="a ~1-minute smoke run: 10 k devices, short phases")
    p.add_argument("--backends", default="sqlite,postgresql",
                   help="comma-separated: sqlite, postgresql (PostgreSQL only when "
                        "TENURE_BENCH_POSTGRES_URL or TENURE_TEST_POSTGRES_URL is set)")
    p.add_argument("--out", type=Path, default=None,
                   help="report path (default docs/benchmarks.md; --quick: "
                        "bench/out/benchmarks-quick.md); the plot goes beside it")
    p.add_argument("--workers", type=int, default=None,
                   help="`tenure serve --workers N` on every backend (default: 1 on SQLite, "
                        "whose single writer gains nothing from more; the number of cores on "
                        "PostgreSQL)")
    p.add_argument("--load-processes", type=int, default=None,
                   help="load-generator processes (default: the number of cores)")
    p.add_argument("--concurrency", type=int, default=4,
                   help="requests in flight per load process at saturation (default 4)")
    p.add_argument("--measure", type=float, default=None,
                   help="seconds of each saturation window (default 20; --quick 3)")
    p.add_argument("--fixed-measure", type=float, default=None,
                   help="seconds of each fixed-rate window (default 30; --quick 5)")
    p.add_argument("--client", choices=["raw", "httpx"], default="raw",
                   help="load-generator HTTP client: raw (a minimal HTTP/1.1 keep-alive "
                        "client, default: cheap, leaves the cores to the server) or httpx")
    p.add_argument("--server-env", action="append", default=[], metavar="TENURE_NAME=VALUE",
                   help="a setting for every tenure command of the run (repeatable), e.g. "
                        "TENURE_DEVICE_WORK=threads; the bench otherwise clears TENURE_* "
                        "variables")
    p.add_argument("--replicas", default=None, metavar="N,N,...",
                   help="run only the scale-out phase: check-in throughput with N `tenure "
                        "serve` replicas (each --workers, default 1) on one PostgreSQL "
                        "database behind HAProxy, e.g. 1,2,3; writes its own section of "
                        "the report (default fleet 50,000 devices; needs `make haproxy`)")
    p.add_argument("--seed", default="tenure-bench-v1", help="fleet key seed")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where the fleet files and data dirs go (default: a temporary "
                        "directory, removed at the end)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--only", choices=["import", "dry-run"], default=None,
                   help="one step alone, no server and no report file: import (`tenure "
                        "provision import` of one file of --devices rows into an empty "
                        "database) or dry-run (a database of --devices devices filled with "
                        "the parallel import, the policy dry-run timed and checked against a "
                        "brute-force count; e.g. --devices 10000000 --backends postgresql)")
    p.add_argument("--import-workers", type=int, default=None, metavar="N",
                   help="`tenure provision import --workers N` (default: the command's own, "
                        "one per core; 1: in one process)")
    p.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                   help="after the measured phases, profile the server with py-spy "
                        "(extra, unmeasured phases) and put the top functions in the report "
                        "(default: on for full runs when py-spy is installed, off for --quick)")
    p.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=True,
                   help="measure the raw-ASGI and fsync baselines (bench/baseline.py: the "
                        "same work without Tenure, on uvicorn and granian) before the "
                        "backends (default: on)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    install_signal_handlers()
    replicas = _replicas(args.replicas)
    devices = args.devices or (QUICK_DEVICES if args.quick else
                               SCALE_DEVICES if replicas else 1_000_000)
    if replicas:
        args.backends = "postgresql"
    if devices < 100:
        raise SystemExit("--devices must be at least 100")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in ("sqlite", "postgresql"):
            raise SystemExit(f"unknown backend {b!r} (sqlite, postgresql)")
    if "postgresql" in backends and postgres_admin_url() is None:
        print("PostgreSQL skipped: set TENURE_BENCH_POSTGRES_URL (or TENURE_TEST_POSTGRES_URL), "
              "e.g. postgresql://postgres@127.0.0.1:5432/postgres", flush=True)
        backends.remove("postgresql")
    if not backends:
        raise SystemExit("no backend to run")
    extra_env = {}
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("TENURE_") or name in (
                "TENURE_DATA_DIR", "TENURE_DATABASE_URL"):
            raise SystemExit(f"--server-env {item!r}: give TENURE_NAME=VALUE (not the data "
                             "dir or database, which the bench chooses)")
        extra_env[name] = value
    cores = floor.cores()
    out = args.out or (REPO / "bench" / "out" / "benchmarks-quick.md" if args.quick
                       else REPO / "docs" / "benchmarks.md")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tenure-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = Config(
        devices=devices, quick=args.quick, backends=backends, out=out,
        workers=args.workers, load_processes=args.load_processes or cores,
        concurrency=args.concurrency, open_threads=max(8, args.concurrency * 2),
        steps=[devices] if replicas else _steps(devices, args.quick),
        warmup=1.0 if args.quick else 3.0,
        measure=args.measure or (3.0 if args.quick else 20.0),
        fixed_measure=args.fixed_measure or (5.0 if args.quick else 30.0),
        pool_target=600 if args.quick else 10_000,
        seed=args.seed.encode(), workdir=workdir, cores=cores,
        profile=args.profile if args.profile is not None else (
            not args.quick and py_spy() is not None),
        client=args.client, server_env=extra_env)
    if args.only:
        return only(cfg, args.only, args.import_workers, args.keep or args.workdir is not None)
    started = time.monotonic()
    cfg.log(f"Tenure benchmark: {devices:,} devices, steps "
            f"{', '.join(f'{s:,}' for s in cfg.steps)}, backends {', '.join(backends)}, "
            f"{cores} cores, work dir {workdir}")
    try:
        cfg.log("measuring the crypto floor")
        measured = floor.measure()
        cfg.log(f"  floor {measured.request_us:.1f} µs/request (Ed25519 verify "
                f"{measured.ed25519_verify_us:.1f}, ES256 verify {measured.es256_verify_us:.1f}, "
                f"ES256 record sign {measured.record_sign_us:.1f}) = "
                f"{measured.throughput:,.0f} requests/s on {cores} cores")
        if replicas:
            return _scale_out(cfg, replicas, measured, started)
        run = RunResult(cfg, measured, machine.describe(REPO, cores), machine.package_versions())
        if args.baselines:
            cfg.log("measuring the baselines (no Tenure code: raw ASGI app, fsync)")
            run.baselines = baseline.run(workdir, cfg.load_processes, cfg.concurrency,
                                         cfg.warmup, min(cfg.measure, 10.0), cfg.log,
                                         fixed_window=cfg.fixed_measure)
        csvs, run.csv_seconds = make_csvs(cfg)
        for backend in backends:
            cfg.log(f"=== {backend} ===")
            run.backends.append(run_backend(cfg, backend, csvs))
        cfg.log("measuring the crypto floor again")
        again = floor.measure()
        run.floors = [measured, again]
        run.floor = floor.lowest(measured, again)
        cfg.log(f"  floor {again.request_us:.1f} µs/request now, {measured.request_us:.1f} at "
                f"the start: the report uses {run.floor.request_us:.1f} (each operation's "
                "lower figure)")
        run.seconds = time.monotonic() - started
        path, png = report.write(run, out)
        cfg.log(f"wrote {path}" + (f" and {png}" if png else ""))
        print()
        print(summary(run))
        return 0
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep:
            print(f"work directory kept: {workdir}")


def _replicas(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise SystemExit(f"--replicas {text!r}: give counts such as 1,2,3") from None
    if not counts or counts[0] < 1 or counts[-1] > 16:
        raise SystemExit(f"--replicas {text!r}: counts from 1 to 16")
    return counts


def _scale_out(cfg: Config, replicas: list[int], measured: floor.Floor, started: float) -> int:
    from . import scale_report
    from .scale import run_scale_out

    csvs, _ = make_csvs(cfg)
    result = run_scale_out(cfg, replicas, csvs[0], measured,
                           machine.describe(REPO, cfg.cores))
    result.seconds = time.monotonic() - started
    path = scale_report.write(result, cfg.out)
    cfg.log(f"wrote the scale-out section of {path}")
    print()
    for row in result.rows:
        p = row.phase
        print(f"{scale_report._name(row):<40} {p.throughput:>7,.0f} check-ins/s  "
              f"server CPU {p.cpu_us:>6,.0f} µs/req  p99 {p.percentile(99):5.1f} ms  "
              f"RSS {scale_report._rss(row.rss_mib)} MiB")
    return 0


def only(cfg: Config, step: str, workers: int | None, keep: bool) -> int:
    """`--only import|dry-run`: that step alone on each backend, a summary printed."""
    from . import single

    cfg.log(f"Tenure benchmark, {step} alone: {cfg.devices:,} devices, backends "
            f"{', '.join(cfg.backends)}, {cfg.cores} cores, work dir {cfg.workdir}")
    imports, scales = [], []
    try:
        if step == "import":
            csv = single.write_csv_once(cfg, cfg.devices)
            for backend in cfg.backends:
                imports.append(single.import_only(cfg, backend, postgres_admin_url(), csv,
                                                  workers))
        else:
            for backend in cfg.backends:
                scales.append(single.dry_run_scale(cfg, backend, postgres_admin_url()))
    finally:
        if not keep:
            shutil.rmtree(cfg.workdir, ignore_errors=True)
    print()
    print(single.summary(imports, scales))
    return 0


def summary(run: RunResult) -> str:
    f = run.floor
    lines = [f"floor {f.request_us:.1f} µs/request ({f.throughput:,.0f} requests/s on "
             f"{f.cores} cores)",
             f"{'backend':<11} {'devices':>9} {'phase':<24} {'CPU µs':>8} {'eff.':>5} "
             f"{'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}"]
    for b in run.backends:
        phases = [b.final.checkin, b.checkin_fixed, b.final.activation, b.activation_fixed]
        for p in phases:
            if p is None:
                continue
            lines.append(f"{b.backend:<11} {p.fleet:>9,} {p.name:<24} {p.cpu_us:>8,.0f} "
                         f"{f.request_us / p.cpu_us:>5.0%} {p.throughput:>7,.0f} "
                         f"{p.percentile(50):>7.1f} {p.percentile(99):>7.1f}")
        scaling = ", ".join(f"{s.fleet:,}: {s.checkin.cpu_us:,.0f}" for s in b.steps)
        lines.append(f"{'':<11} check-in CPU µs/req by fleet size: {scaling}")
        big = max(b.steps, key=lambda s: s.imported.rows)
        dry = b.final.dry_run
        lines.append(f"{'':<11} import {big.imported.rate:,.0f} rows/s ({big.imported.rows:,} rows)"
                     + (f"; policy dry-run {dry.seconds:.2f} s (computing {dry.computed:.2f} s) "
                        f"at {dry.fleet:,} devices"
                        if dry else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
