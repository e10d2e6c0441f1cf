"""docs/benchmarks.md and the scaling plot, written from one run's results."""

from __future__ import annotations

import math
import time
from pathlib import Path

from .phases import PhaseResult, percentile
from .run import BackendResult, RunResult

P99_TARGET_MS = 25  # the check-in's p99 at half of saturation (issue's goal)

HEADER = """# Benchmarks

Reproducible with the project's own benchmark (`bench/`). This file is
rewritten by every run; it holds the figures of the last one.

## How to reproduce

```sh
make bench          # 1 M devices; SQLite, and PostgreSQL when TENURE_BENCH_POSTGRES_URL
                    # (or TENURE_TEST_POSTGRES_URL) names a server the bench may create a
                    # database on; writes docs/benchmarks.md and docs/benchmarks-scaling.png
make bench-quick    # ~2 minute smoke run (10 k devices), written to bench/out/
.venv/bin/python -m bench --help   # --devices, --backends, --workers, --out, --profile ...
make haproxy && .venv/bin/python -m bench --replicas 1,2,3 --backends postgresql --devices 50000
                    # the scale-out section only: replicas behind HAProxy (see below)
.venv/bin/python -m bench --only import --devices 1000000   # the import alone (section Import)
.venv/bin/python -m bench --only dry-run --devices 10000000 --backends postgresql
                                   # the policy dry-run at 10 M devices (its own section)
```

A full run takes about half an hour on the 2-core reference machine (most of it the
1 M-device steps). The profile section needs `py-spy` in the virtual environment
(`.venv/bin/pip install py-spy`); without it the run says so and skips it.

What one run does, per backend: writes a deterministic synthetic fleet as provisioning
CSV files (Ed25519 keys, one in ten P-256, derived from a seed and the device's index so
the load generator can re-derive any device's key), imports it with
`tenure provision import` in steps (10 k, 100 k, 1 M devices), applies
`examples/policy.toml` with `tenure policy apply`, and starts the server with
`tenure serve --port P --workers N` (`TENURE_LOG_LEVEL=warning`). After each import it
runs a checkpoint (PostgreSQL's `CHECKPOINT`, SQLite's WAL checkpoint), so that the bulk
load's write-back does not fall into the measured phases. At each step it then
activates a uniform sample of the fleet, then drives activation and check-in with
separate load-generator processes speaking the protocol ([protocol.md](protocol.md);
flattened JWS signed with the
device key, the nonce from the previous answer's `Replay-Nonce`, one retry on
`bad-nonce`, one record in 50 verified against `/v1/keys` for signature, `sub`, `nonce`
and `exp`; devices report SIM MCC and GNSS territory signals so the territory policy is
evaluated). Each load thread keeps one keep-alive connection (`TCP_NODELAY`), by default
through a minimal HTTP/1.1 client (`bench/http1.py`, ~0.2 ms of CPU per request including
signing, where an httpx.Client costs ~0.7 ms: on two shared cores that difference goes to
the server; `--client httpx` switches). Saturation is a closed loop (a fixed number of
requests in flight); latency is measured in an open loop at half of the saturation
throughput, from each request's scheduled send time (no coordinated omission). With
`--profile` (on for full runs when py-spy is installed) extra, unmeasured phases sample
the server with py-spy (default mode): the tables show shares of the samples in which a
server thread was busy, so time blocked in a database call or an fsync counts, and so do
C calls that release the GIL (signature verification); waits in the event loop do not.
They are shares of busy wall-clock time, not of the CPU µs above: read them for what
dominates, not as µs. Before the backends, the run measures baselines with no Tenure code
(`bench/baseline.py`, `--no-baselines` skips them; `python -m bench.baseline` runs them
alone): a bare ASGI app doing a check-in's parsing, crypto and SQLite read and write
(one fsync a request, or the requests of a turn of the loop sharing one COMMIT as
Tenure's do), and an activation's writes on top, on uvicorn and on granian; one
SQLite commit with `synchronous=FULL`; and the bare group-committed check-in at a fixed
rate, half of its saturation, for its latency — the measured limit of the stack, beside
which Tenure's own cost can be read. The profile tables also sort the samples by kind of
work (`python -m bench.profile FILE` does the same for any py-spy raw profile).
`python -m bench.inprocess` measures the device path's CPU in-process (no server, no
network), for before/after comparisons of one change.

Definitions:

- **floor**: µs of one device-signature verify (Ed25519, and ES256 for the one device in
  ten with a P-256 key, weighted) plus one ES256 record signature (what the server
  signs with, decision 0010), with `cryptography` on this machine during the run
  (best of 5 × 3000). **Floor throughput** = cores ÷ floor.
- **server CPU µs/request**: utime + stime of the `tenure serve` process and all its
  children (from `/proc/<pid>/stat`) over the measurement window, divided by the
  requests answered in it. It does not count the load generator, which shares the
  machine, nor PostgreSQL's backends (shown apart as "database CPU").
- **efficiency** = floor ÷ server CPU µs/request (the project's target: ≥ 40 % for
  check-in, ≥ 25 % for activation).
- **policy dry-run**: `tenure policy apply examples/policy.toml --dry-run`, wall clock.
  So that every device has a last known territory, the bench first gives every device
  without one a territory from a fixed spread (DE, FR, US, GB, IN, BR, JP, CN, IR, UA-43)
  with one `INSERT ... SELECT` into `device_territory`; activated devices keep the
  territory their activation reported.
"""


def _f(value: float, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _kinds_table(kinds: dict[str, list[tuple[str, float]]]) -> list[str]:
    """Each profiled phase's busy samples by kind of work (bench/profile.py, KINDS)."""
    phases = list(kinds)
    order: list[str] = []
    for shares in kinds.values():
        order += [kind for kind, _ in shares if kind not in order]
    found = {phase: dict(shares) for phase, shares in kinds.items()}
    lines = ["By kind of work: each sample counted once, for the innermost frame that "
             "says what it is (a dataclass's generated `__init__` counts for its caller; "
             "time in C counts for the Python function that called it, so a thread "
             "blocked in the driver on an fsync or a round trip counts for the driver: "
             "that share is wall-clock time, not CPU).", "",
             "| kind of work | " + " | ".join(phases) + " |",
             "| --- |" + " ---: |" * len(phases)]
    lines += [f"| {kind} | " + " | ".join(f"{found[p].get(kind, 0.0):.1f} %" for p in phases)
              + " |" for kind in order]
    return lines + [""]


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{value * 100:.0f} %"


def _div(a: float, b: float) -> float:
    return a / b if b and not math.isnan(b) else math.nan


def rss_text(mib: list[float]) -> str:
    """`62 + 2 × 71`: resident MiB of each server process, equal ones grouped."""
    if not mib:
        return "–"
    counts: dict[int, int] = {}
    for m in mib:
        counts[round(m)] = counts.get(round(m), 0) + 1
    return " + ".join(f"{n} × {m}" if n > 1 else f"{m}" for m, n in counts.items())


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _targets(run: RunResult, b: BackendResult) -> list[tuple[str, str, str, str]]:
    floor = run.floor.request_us
    final = b.final
    rows = []
    ci = final.checkin.cpu_us
    rows.append(("check-in server CPU ≤ 2.5 × floor (efficiency ≥ 40 %)",
                 f"≤ {_f(2.5 * floor)} µs",
                 f"{_f(ci)} µs = {_f(ci / floor, 1)} × floor ({_pct(floor / ci)})",
                 _met(ci <= 2.5 * floor) if ci <= 2.5 * floor else
                 f"**missed** by {_f(ci / (2.5 * floor), 1)}× "
                 f"(needs −{_f(100 * (1 - 2.5 * floor / ci))} %)"))
    if b.checkin_fixed:
        p99 = b.checkin_fixed.percentile(99)
        limit = P99_TARGET_MS
        rows.append((f"check-in p99 ≤ {limit} ms at half of saturation "
                     f"({_f(b.checkin_fixed.offered_rate)}/s)", f"≤ {limit} ms",
                     f"{_f(p99, 1)} ms", _met(True) if p99 <= limit
                     else f"**missed** by {_f(p99 - limit, 1)} ms"))
    ac = final.activation.cpu_us
    rows.append(("activation server CPU ≤ 4 × floor (efficiency ≥ 25 %)",
                 f"≤ {_f(4 * floor)} µs",
                 f"{_f(ac)} µs = {_f(ac / floor, 1)} × floor ({_pct(floor / ac)})",
                 _met(ac <= 4 * floor) if ac <= 4 * floor else
                 f"**missed** by {_f(ac / (4 * floor), 1)}× "
                 f"(needs −{_f(100 * (1 - 4 * floor / ac))} %)"))
    share = _div(final.checkin.throughput, run.floor.throughput)
    rows.append(("check-in throughput ≥ 40 % of floor throughput (the load "
                 "generator shares the cores)",
                 f"≥ {_f(0.4 * run.floor.throughput)}/s",
                 f"{_f(final.checkin.throughput)}/s ({_pct(share)})",
                 _met(share >= 0.4) if share >= 0.4 else
                 f"**missed** by {_f(_div(0.4, share), 1)}×"))
    biggest = max(b.steps, key=lambda s: s.imported.rows).imported
    target = "≥ 50,000 devices/s" + ("" if b.backend == "postgresql" else
                                     " (the target is for PostgreSQL; shown for reference)")
    rows.append((f"provisioning import ({biggest.rows:,} rows)", target,
                 f"{_f(biggest.rate)}/s",
                 _met(biggest.rate >= 50_000) if biggest.rate >= 50_000 else
                 f"**missed** by {_f(_div(50_000, biggest.rate), 1)}×"))
    first, last = b.steps[0], b.steps[-1]
    if len(b.steps) > 1:
        growth = _div(last.checkin.cpu_us, first.checkin.cpu_us) - 1
        rows.append((f"check-in cost at {last.fleet:,} within 20 % of {first.fleet:,} "
                     "devices", "≤ +20 %", f"{growth * 100:+.0f} %",
                     _met(growth <= 0.2) if growth <= 0.2 else
                     f"**missed** by {growth * 100 - 20:.0f} points"))
    if last.dry_run:
        # The dry-run reads counts the database keeps per group (migration 0014): its
        # cost does not grow with the fleet, so no extrapolation; the 10 M figure is
        # measured with `--only dry-run` (section "Policy dry-run at 10 M devices").
        computed = last.dry_run.computed
        rows.append(("policy dry-run over 10 M devices ≤ 5 s"
                     + ("" if b.backend == "postgresql" else " (target for PostgreSQL)"),
                     "≤ 5 s", f"{_f(computed, 2)} s computing "
                     f"({_f(last.dry_run.seconds, 2)} s wall clock) at {last.fleet:,} devices; "
                     "it reads kept counts, whatever the fleet (10 M: `--only dry-run`)",
                     (f"met at {last.fleet:,}" if computed <= 5 else
                      f"**missed** by {_f(computed / 5, 1)}×")))
    return rows


def _budget(p: PhaseResult, workers: int) -> str:
    """Where the cores went during a saturation window, and what that says."""
    if not p.window_s:
        return f"{p.name}: no measurement window"
    w = p.window_s
    server, db, client = p.server_cpu_s / w, p.database_cpu_s / w, p.client_cpu_s / w
    other = p.other_cpu_share * p.cores
    idle = max(0.0, p.cores - server - db - client - other)
    text = (f"{p.name} at saturation: of {p.cores} cores, the server used {server:.2f}, "
            + (f"the database {db:.2f}, " if db else "")
            + f"the load generator {client:.2f}, other processes {other:.2f}"
            + (" (" + ", ".join(f"{n} {c:.2f}" for n, c in p.other_top) + ")"
               if p.other_top else "")
            + f"; idle {idle:.2f}.")
    ceiling = min(workers, p.cores)  # a worker process runs Python on one core at a time
    if server < 0.8 * ceiling and idle > 0.25:
        text += (f" The server's {workers} worker process(es) could use up to {ceiling} "
                 "core(s) but did not, with cores idle: throughput is bound by waiting "
                 "(database commits, locks, or I/O on the event loop), not by CPU.")
    elif idle <= 0.25:
        text += " The machine was CPU-bound."
    elif ceiling < p.cores:
        text += (f" The server ({workers} worker process) was CPU-bound on {ceiling} core(s) "
                 "while the rest idled: more throughput needs more worker processes, which "
                 "this backend's `tenure serve` does not use.")
    return text


def _phase_row(p: PhaseResult, floor: float) -> str:
    db = f"{_f(p.database_cpu_us)}" if p.database_cpu_s else "–"
    return (f"| {p.name} | {_f(p.cpu_us)} | {_f(p.kernel_cpu_us)} | {db} | "
            f"{_pct(floor / p.cpu_us)} | "
            f"{_f(p.throughput)} | {_f(p.server_cores, 2)} | {_f(p.percentile(50), 1)} | "
            f"{_f(p.percentile(95), 1)} | "
            f"{_f(p.percentile(99), 1)} | {p.ok:,} | {p.failures} | {p.verified} | "
            f"{_f(p.client_cpu_us)} | {p.other_load().replace('|', '/')} |")


def render(run: RunResult, plot: Path | None) -> str:
    cfg = run.config
    lines = [HEADER]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(run.started_at))
    kind = "quick run (smoke test; not the reference figures)" if cfg.quick else "full run"
    lines += [f"## Run of {when}: {cfg.devices:,} devices, {kind}", ""]
    m = run.machine
    lines += [
        "| machine | |", "| --- | --- |",
        f"| cores (nproc) | {m['cores']} |", f"| CPU | {m['cpu']} |",
        f"| memory | {m['memory']} |", f"| kernel | {m['kernel']} |",
        f"| load average at start | {m['load average at start']} |",
        f"| Python | {m['python']} |", f"| SQLite | {m['sqlite']} |",
    ]
    for b in run.backends:
        if b.backend == "postgresql":
            lines.append(f"| PostgreSQL | {b.version.removeprefix('PostgreSQL ')} |")
    lines.append(f"| packages | {', '.join(f'{k} {v}' for k, v in run.packages.items())} |")
    lines.append(f"| source | {m['source']} |")
    lines.append(
        "| settings | `tenure serve --workers N` with N = "
        + ", ".join(f"{b.workers} ({b.backend})" for b in run.backends)
        + "; load generator "
        f"{cfg.load_processes} processes × {cfg.concurrency} in flight (saturation), "
        f"{cfg.client} HTTP client, "
        f"× {cfg.open_threads} threads (fixed rate); windows {cfg.measure:.0f} s saturation, "
        f"{cfg.fixed_measure:.0f} s fixed rate, after {cfg.warmup:.0f} s warm-up; "
        f"fleet steps {', '.join(f'{s:,}' for s in cfg.steps)}"
        + ("; server environment " + ", ".join(f"`{k}={v}`" for k, v in cfg.server_env.items())
           if cfg.server_env else "") + " |")
    lines.append(f"| run time | {run.seconds / 60:.1f} min |")
    lines.append("")

    f = run.floor
    lines += [
        "### Crypto floor", "",
        "| operation | µs |", "| --- | --- |",
        f"| Ed25519 verify (device signature) | {_f(f.ed25519_verify_us, 1)} |",
        f"| ES256 verify (device signature, P-256) | {_f(f.es256_verify_us, 1)} |",
        f"| device verify, fleet mix ({f.p256_share:.0%} P-256) | {_f(f.verify_us, 1)} |",
        f"| ES256 sign (record, as the server signs) | {_f(f.record_sign_us, 1)} |",
        f"| **floor per request** | **{_f(f.request_us, 1)}** |",
        f"| floor throughput ({f.cores} cores ÷ floor) | {_f(f.throughput)} requests/s |",
        "",
    ]
    if len(run.floors) > 1:
        lines += ["Measured at the start and at the end of the run "
                  f"({', '.join(_f(m.request_us, 1) + ' µs' for m in run.floors)} a request); "
                  "the table keeps each operation's lower figure, so that a slow spell of "
                  "the machine cannot make the targets easier.", ""]

    lines += _baselines(run)

    for b in run.backends:
        final = b.final
        lines += [f"### {b.backend} ({b.version}), {final.fleet:,} devices", "",
                  f"Idle keep-alive round trip (GET /healthz, median of 30): "
                  f"{_f(b.round_trip_ms, 1)} ms.", "",
                  "#### Targets", "",
                  "| target | required | measured | result |", "| --- | --- | --- | --- |"]
        lines += [f"| {a} | {r} | {m_} | {res} |" for a, r, m_, res in _targets(run, b)]
        lines += ["", "#### Device endpoints", "",
                  "Saturation rows: closed loop; fixed-rate rows: open loop at half of the "
                  "saturation throughput, latency from the scheduled send time.", "",
                  "| phase | server CPU µs/req | of which in the kernel | database CPU µs/req | "
                  "efficiency | "
                  "throughput req/s | server busy (cores) | p50 ms | p95 ms | p99 ms | "
                  "answered | failed | "
                  "records verified | load-generator CPU µs/req | other load on the machine |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
                  "---: | ---: | ---: | ---: | ---: |"]
        lines.append(_phase_row(final.checkin, f.request_us).replace(
            "| check-in |", "| check-in, saturation |", 1))
        if b.checkin_fixed:
            lines.append(_phase_row(b.checkin_fixed, f.request_us).replace(
                "(fixed rate)", f"at {_f(b.checkin_fixed.offered_rate)}/s", 1))
        lines.append(_phase_row(final.activation, f.request_us).replace(
            "| activation |", "| activation, saturation |", 1))
        if b.activation_fixed:
            lines.append(_phase_row(b.activation_fixed, f.request_us).replace(
                "(fixed rate)", f"at {_f(b.activation_fixed.offered_rate)}/s", 1))
        lines += [""]
        for p in (final.checkin, final.activation):
            lines.append(f"- {_budget(p, b.workers)}")
        for fixed in (b.checkin_fixed, b.activation_fixed):
            if fixed is not None and fixed.trips_ms:
                lines.append(f"- {_latency_split(fixed)}")
        lines += ["", "#### Fleet scaling", "",
                  "| devices | check-in CPU µs/req | vs first step | check-in req/s | "
                  "activation CPU µs/req | activation req/s | other load (check-in, "
                  "activation) | devices in the check-in sample "
                  "| import rows/s (as the command reports it) | dry-run s (computing) "
                  "| server RSS MiB per process |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                  "| ---: |"]
        base = b.steps[0].checkin.cpu_us
        for s in b.steps:
            dry = (f"{_f(s.dry_run.seconds, 2)} ({_f(s.dry_run.computed, 2)})" if s.dry_run
                   else "–")
            lines.append(f"| {s.fleet:,} | {_f(s.checkin.cpu_us)} | "
                         f"{(s.checkin.cpu_us / base - 1) * 100:+.0f} % | "
                         f"{_f(s.checkin.throughput)} | {_f(s.activation.cpu_us)} | "
                         f"{_f(s.activation.throughput)} | {_pct(s.checkin.other_cpu_share)}, "
                         f"{_pct(s.activation.other_cpu_share)} | {s.prepared:,} | "
                         f"{_f(s.imported.rate)} ({_f(s.imported.reported_rate)}; "
                         f"{s.imported.rows:,} rows) | {dry} | {rss_text(s.rss_mib)} |")
        lines += ["", "Import: rows added at that step ÷ wall clock of `tenure provision import "
                  "FILE` (process start included; in brackets the rate the command prints). "
                  "Dry-run: wall clock of `tenure policy apply examples/policy.toml --dry-run` "
                  "(in brackets the \"computed in\" time it prints, without process start). "
                  "Server RSS: resident memory of each `tenure serve` process (the supervisor "
                  "first when there are workers) after the check-in phase.",
                  ""]
        if b.profiles:
            lines += ["#### Where the server spends its time (py-spy, separate profiled "
                      "phases at the largest fleet)", ""]
            lines += ["Share of py-spy's busy samples in the server processes (self: in the "
                      "function itself; total: with what it calls). Shares of busy wall-clock "
                      "time, not of CPU (see the definitions above).", ""]
            if b.kinds:
                lines += _kinds_table(b.kinds)
            for name, top in b.profiles.items():
                lines += [f"{name[0].upper()}{name[1:]}:", "",
                          "| function | self | total |", "| --- | ---: | ---: |"]
                lines += [f"| `{fn}` | {s_:.1f} % | {t_:.1f} % |" for fn, s_, t_ in top]
                lines.append("")
        if b.notes:
            lines += ["#### Notes", ""] + [f"- {n}" for n in b.notes] + [""]
        lines += ["<details><summary>Phase timings</summary>", "",
                  "| phase | seconds |", "| --- | ---: |"]
        lines += [f"| {name} | {_f(sec, 1)} |" for name, sec in b.timings]
        lines += ["", "</details>", ""]
    if plot is not None:
        lines += ["### Check-in cost versus fleet size", "",
                  f"![check-in server CPU µs per request versus fleet size]({plot.name})", ""]
    lines += ["### Reading these figures", "",
              "- Server CPU per request is robust to the load generator sharing the cores; "
              "throughput and latency are not: the load generator's own CPU "
              "(column above) comes out of the same two cores, and so does any other "
              "load on the machine during the window (last column).",
              f"- Fleet CSV generation ({cfg.load_processes} processes): "
              f"{_f(run.csv_seconds, 1)} s for {cfg.devices:,} devices.", ""]
    return "\n".join(lines)


_WORK = {"http": "read, parse the JWS, answer JSON",
         "crypto": "+ Ed25519 verify, ES256 record signature",
         "sqlite": "+ SQLite point read, nonce insert with an fsync (no group commit)",
         "group": "+ SQLite point read, nonce insert, one COMMIT per turn of the loop "
                  "(group commit)",
         "activation": "as group, + an activation's writes: activation time, territory "
                       "memory, a SHA-256-chained audit event"}


def _baselines(run: RunResult) -> list[str]:
    """The raw-ASGI and fsync baselines beside Tenure's own check-in: the measured limit
    of the stack, so a missed target shows how much of it is Tenure's."""
    base = run.baselines
    if base is None or not (base.rows or base.fsync):
        return []
    f = run.floor
    ed_floor = f.ed25519_verify_us + f.record_sign_us
    lines = ["### Baselines: the same work without Tenure", "",
             "A bare ASGI callable (`bench/baseline_app.py`, no framework, no Tenure code) "
             "doing what a check-in must, served by one worker of uvicorn (uvloop, "
             "httptools: what `tenure serve` runs) and of granian (a Rust HTTP stack), "
             f"driven like the saturation phases ({base.in_flight} requests in flight, "
             f"{base.window:.0f} s window); server CPU per request from /proc as below. "
             f"The floor here is an Ed25519 device's: verify + record signature = "
             f"{_f(ed_floor, 1)} µs.", "",
             "| server | workers | work per request | server CPU µs/req | × floor | req/s "
             "| of floor throughput | failed |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in base.rows:
        if r.error:
            lines.append(f"| {r.server} | {r.workers} | {_WORK[r.mode]} | {r.error} "
                         "| | | | |")
            continue
        ratio = f"{r.cpu_us / ed_floor:.1f} ×" if r.mode != "http" else "–"
        share = _pct(r.throughput / f.throughput) if r.mode != "http" else "–"
        lines.append(f"| {r.server} | {r.workers} | {_WORK[r.mode]} | {_f(r.cpu_us)} | "
                     f"{ratio} | {_f(r.throughput)} | {share} | {r.failed} |")
    lines.append("")
    if base.fsync is not None:
        lines += [f"fsync baseline: one SQLite insert committed with `synchronous=FULL`, one "
                  f"at a time in one process: {_f(base.fsync.cpu_us)} µs of CPU and "
                  f"{_f(base.fsync.wall_us)} µs of wall clock per commit "
                  f"({base.fsync.commits:,} commits); of the commits one by one, p99 "
                  f"{base.fsync.p99_ms:.1f} ms and the slowest {base.fsync.max_ms:.1f} ms.",
                  ""]
    if base.latency is not None:
        lat = base.latency
        lines += [f"Latency baseline: the bare group-committed check-in (uvicorn `group`) at "
                  f"a fixed {_f(lat.rate)} requests/s, half of its saturation throughput "
                  f"above, in an open loop as Tenure's fixed-rate phases are measured: "
                  f"p50 {lat.percentile(50):.1f} ms, p95 {lat.percentile(95):.1f} ms, "
                  f"p99 {lat.percentile(99):.1f} ms ({lat.answered:,} answered, "
                  f"{lat.failed} failed), at {_f(lat.cpu_us)} µs of server CPU a request. "
                  f"The p99 target is {P99_TARGET_MS} ms.", ""]
    crypto = base.row("uvicorn", "crypto")
    for b in run.backends:
        checkin = b.final.checkin
        if crypto is not None and checkin.cpu_us:
            lines.append(
                f"- {b.backend}: Tenure's check-in ({b.final.fleet:,} devices, saturation) "
                f"costs {_f(checkin.cpu_us)} µs = {checkin.cpu_us / crypto.cpu_us:.1f} × the "
                f"uvicorn `crypto` baseline ({_f(checkin.cpu_us - crypto.cpu_us)} µs more: "
                "Tenure's own work, its database and its durable write).")
    if crypto is not None:
        room = 2.5 * f.request_us - crypto.cpu_us
        named = (f"- The check-in target, 2.5 × the floor ({_f(2.5 * f.request_us)} µs for "
                 "the fleet mix)")
        lines.append(f"{named}, leaves {_f(room)} µs above the uvicorn `crypto` baseline for "
                     "everything else." if room >= 0 else
                     f"{named}, is {_f(-room)} µs below the uvicorn `crypto` baseline: the "
                     "HTTP server and the two signatures alone cost more than the target.")
    # The bare group-committed request beside its target: whether the stack alone allows it.
    for mode, what, times in (("group", "check-in", 2.5), ("activation", "activation", 4)):
        bare = base.row("uvicorn", mode)
        if bare is not None:
            target = times * f.request_us
            verdict = "above" if bare.cpu_us > target else "within"
            lines.append(f"- The bare group-committed {what} (uvicorn `{mode}`) costs "
                         f"{_f(bare.cpu_us)} µs: {verdict} the {what} target ({times} × the "
                         f"floor, {_f(target)} µs) with no Tenure code at all.")
    lines.append("")
    return lines


def plot(run: RunResult, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no plot")
        return None
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    colours = {"sqlite": "tab:blue", "postgresql": "tab:orange"}
    for b in run.backends:
        xs = [s.fleet for s in b.steps]
        colour = colours.get(b.backend)
        ax.plot(xs, [s.checkin.cpu_us for s in b.steps], marker="o", color=colour,
                label=f"check-in, {b.backend}")
        ax.plot(xs, [s.activation.cpu_us for s in b.steps], marker="s", linestyle="--",
                color=colour, alpha=0.55, label=f"activation, {b.backend}")

    floor = run.floor.request_us
    ax.axhline(floor, color="black", linewidth=1, label=f"crypto floor ({floor:.0f} µs)")
    ax.axhline(2.5 * floor, color="grey", linestyle=":", linewidth=1,
               label="check-in target (2.5 × floor)")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda x, _: f"{x / 1e6:g} M" if x >= 1e6 else f"{x / 1e3:g} k" if x >= 1e3
        else f"{x:g}"))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("devices in the store")
    ax.set_ylabel("server CPU µs per request")
    ax.set_title("Tenure: server CPU per device request vs fleet size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write(run: RunResult, out: Path) -> tuple[Path, Path | None]:
    out.parent.mkdir(parents=True, exist_ok=True)
    png = plot(run, out.with_name(f"{out.stem}-scaling.png"))
    text = render(run, png)
    analysis = Path(__file__).with_name("analysis.md")  # the maintainers' reading
    if analysis.exists():
        text = text.rstrip("\n") + "\n\n" + analysis.read_text()
    if out.exists():  # the scale-out section comes from its own runs (--replicas)
        from .scale_report import carry_over

        text = carry_over(out.read_text(), text)
    out.write_text(text)
    return out, png


def _latency_split(p: PhaseResult) -> str:
    """Where a fixed-rate phase's slow requests spent their time: the load generator's
    lag before sending, or the round trip (server, kernel, the generator's thread)."""
    slow = [i for i, total in enumerate(p.latencies_ms) if total > P99_TARGET_MS]
    in_trip = sum(1 for i in slow if p.trips_ms[i] > P99_TARGET_MS)
    return (f"{p.name.replace(' (fixed rate)', '')} at {_f(p.offered_rate)}/s, p99 "
            f"{p.percentile(99):.1f} ms: the round trips alone (POST sent to answer read) "
            f"p99 {percentile(p.trips_ms, 99):.1f} ms; the load generator's lag before "
            f"sending p99 {percentile(p.lags_ms, 99):.1f} ms. Of the {len(slow):,} requests "
            f"over {P99_TARGET_MS} ms, {in_trip:,} spent over {P99_TARGET_MS} ms in the round "
            f"trip alone.")
