"""Running one load phase against a running server and reading what it cost."""

from __future__ import annotations

import array
import math
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field, replace

from . import load
from .server import (
    CpuSnapshot,
    Measured,
    database_cpu_between,
    other_processes_between,
    snapshot,
)


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank q-th percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


@dataclass
class PhaseResult:
    name: str
    backend: str
    fleet: int
    mode: str
    processes: int
    threads: int
    window_s: float
    ok: int
    served: int
    server_cpu_s: float
    server_kernel_s: float  # the part of server_cpu_s spent in the kernel (stime)
    database_cpu_s: float
    system_busy_s: float
    client_cpu_s: float
    cores: int
    offered_rate: float = 0.0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    lags_ms: list[float] = field(default_factory=list, repr=False)  # open loop, see load.py
    trips_ms: list[float] = field(default_factory=list, repr=False)
    statuses: Counter[str] = field(default_factory=Counter)
    bad_nonce_retries: int = 0
    verified: int = 0
    verify_failures: list[str] = field(default_factory=list)
    activated: list[int] = field(default_factory=list, repr=False)
    locked: int = 0
    dropped: int = 0
    late_sends: int = 0
    requests_total: int = 0
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    other_top: list[tuple[str, float]] = field(default_factory=list)  # (process, cores)
    balancer_cpu_s: float = 0.0  # HAProxy in front of replicas (bench/scale.py)
    edges: tuple[CpuSnapshot, CpuSnapshot] | None = field(default=None, repr=False)

    @property
    def throughput(self) -> float:
        """Successful requests answered per second inside the window."""
        return self.ok / self.window_s if self.window_s else 0.0

    @property
    def cpu_us(self) -> float:
        """Server CPU µs per request answered (tenure processes only)."""
        return self.server_cpu_s / self.served * 1e6 if self.served else math.nan

    @property
    def kernel_cpu_us(self) -> float:
        """Of cpu_us, the part the kernel spent for the server (system calls: network,
        fsync, ...)."""
        return self.server_kernel_s / self.served * 1e6 if self.served else math.nan

    @property
    def database_cpu_us(self) -> float:
        return self.database_cpu_s / self.served * 1e6 if self.served else math.nan

    @property
    def other_cpu_share(self) -> float:
        """CPU used by everything else on the machine (not server, database, load
        generator), as a share of all cores over the window: how quiet the machine was."""
        others = (self.system_busy_s - self.server_cpu_s - self.database_cpu_s
                  - self.client_cpu_s - self.balancer_cpu_s)
        return max(0.0, others) / (self.window_s * self.cores) if self.window_s else 0.0

    @property
    def server_cores(self) -> float:
        """How many cores the server kept busy during the window."""
        return self.server_cpu_s / self.window_s if self.window_s else math.nan

    @property
    def client_cpu_us(self) -> float:
        return self.client_cpu_s / self.served * 1e6 if self.served else math.nan

    def other_load(self) -> str:
        """`45 % (python -m pytest 0.62, kworker/u8:3 0.10)`: the share of all cores other
        processes used in the window, and the biggest of them in cores."""
        text = f"{self.other_cpu_share * 100:.0f} %"
        if self.other_top:
            text += " (" + ", ".join(f"{n} {c:.2f}" for n, c in self.other_top) + ")"
        return text

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "200")

    def summary(self) -> str:
        text = (f"{self.ok:,} ok in {self.window_s:.1f} s = {self.throughput:,.0f}/s; "
                f"server CPU {self.cpu_us:,.0f} µs/req ({self.kernel_cpu_us:,.0f} in the kernel)")
        if self.database_cpu_s:
            text += f" + database {self.database_cpu_us:,.0f} µs/req"
        text += (f"; p50 {self.percentile(50):.1f} ms, p99 {self.percentile(99):.1f} ms; "
                 f"verified {self.verified} records")
        if self.trips_ms:
            text += (f"; p99 of the round trips alone {percentile(self.trips_ms, 99):.1f} ms, "
                     f"of the start lag {percentile(self.lags_ms, 99):.1f} ms")
        if self.failures or self.verify_failures or self.errors:
            text += (f"; FAILURES {self.failures} ({load.describe_statuses(self.statuses)}), "
                     f"{len(self.verify_failures)} bad records")
        if self.dropped:
            text += f"; {self.dropped} scheduled requests dropped"
        if self.other_cpu_share >= 0.1:
            text += f"; other load on the machine {self.other_load()}"
        return text


def _sleep_until(at: float) -> None:
    delay = at - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def run(server: Measured, database: str | None, template: load.PhaseSpec, processes: int,
        backend: str, fleet: int, cores: int, walk: array.array[int] | None = None) -> PhaseResult:
    """Fork `processes` load generators with `template` (start/window times relative to
    now), read the server's CPU at the window's edges, and merge what they report."""
    ctx = multiprocessing.get_context("fork")
    started = time.monotonic()
    t_start = started + 0.5  # time for the processes to fork and connect
    warmup = template.t0 - template.t_start
    window = template.t1 - template.t0
    base = replace(template, t_start=t_start, t0=t_start + warmup, t1=t_start + warmup + window)
    pipes, procs = [], []
    for number in range(processes):
        # open loop: each process sends rate/processes, the schedules interleaved
        spec = replace(base, walk=walk[number::processes] if walk is not None else None,
                       rate=base.rate / processes if base.rate else 0.0,
                       offset=number / processes)
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=load.run_worker, args=(spec, number, send), daemon=True)
        proc.start()
        send.close()
        pipes.append(receive)
        procs.append(proc)
    before: CpuSnapshot | None = None
    after: CpuSnapshot | None = None
    results: list[load.WorkerResult] = []
    try:
        if not base.stop_after_walk:
            _sleep_until(base.t0)
            before = snapshot(server, database)
            _sleep_until(base.t1)
            after = snapshot(server, database)
        deadline = base.t1 + base.drain + 60
        for pipe, proc in zip(pipes, procs, strict=True):
            if pipe.poll(max(0.0, deadline - time.monotonic())):
                results.append(pipe.recv())
            else:
                results.append(load.WorkerResult(errors=["load process gave no result in time"]))
            proc.join(5)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(5)
    merged = PhaseResult(
        name=template.name, backend=backend, fleet=fleet, mode=template.mode,
        processes=processes, threads=template.threads,
        window_s=(after.at - before.at) if before and after else 0.0,
        ok=0, served=0,
        server_cpu_s=(after.server - before.server) if before and after else 0.0,
        server_kernel_s=(after.server_kernel - before.server_kernel) if before and after
        else 0.0,
        database_cpu_s=database_cpu_between(before, after) if before and after else 0.0,
        system_busy_s=(after.system - before.system) if before and after else 0.0,
        client_cpu_s=0.0, cores=cores, offered_rate=template.rate,
        other_top=other_processes_between(before, after, {p.pid for p in procs if p.pid})
        if before and after else [],
        balancer_cpu_s=(after.balancer - before.balancer) if before and after else 0.0,
        edges=(before, after) if before and after else None)
    for r in results:
        merged.ok += r.ok
        merged.served += r.served
        merged.latencies_ms.extend(r.latencies_ms)
        merged.lags_ms.extend(r.lags_ms)
        merged.trips_ms.extend(r.trips_ms)
        merged.statuses.update(r.statuses)
        merged.bad_nonce_retries += r.bad_nonce_retries
        merged.verified += r.verified
        merged.verify_failures.extend(r.verify_failures)
        merged.activated.extend(r.activated)
        merged.locked += r.locked
        merged.dropped += r.dropped
        merged.late_sends += r.late_sends
        merged.requests_total += r.requests_total
        merged.errors.extend(r.errors)
        merged.client_cpu_s += r.client_cpu
    merged.wall_s = time.monotonic() - started
    return merged
