"""The scale-out section of docs/benchmarks.md, written by `python -m bench --replicas`.

The section sits between two markers; a scale-out run replaces only it, and a full run,
which rewrites the rest of the file, carries it over (report.write calls `carry_over`).
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

from .scale import ScaleResult, ScaleRow

BEGIN = "<!-- scale-out: written by `python -m bench --replicas`; full runs keep it -->"
END = "<!-- /scale-out -->"
ANALYSIS = "## What limits it"
_SECTION = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.S)


def _f(value: float, digits: int = 0) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def section_of(text: str) -> str | None:
    found = _SECTION.search(text)
    return found.group(0) if found else None


def splice(text: str, section: str) -> str:
    """`text` with its scale-out section replaced by `section`, or `section` put before
    the maintainers' analysis (or at the end)."""
    section = section.rstrip("\n") + "\n"
    if _SECTION.search(text):
        return _SECTION.sub(lambda _: section, text, count=1)
    at = text.find(ANALYSIS)
    if at < 0:
        return text.rstrip("\n") + "\n\n" + section
    return text[:at] + section + "\n" + text[at:]


def carry_over(old: str, new: str) -> str:
    """A full run's report keeps the scale-out section of the file it replaces."""
    section = section_of(old)
    return splice(new, section) if section else new


def _name(row: ScaleRow) -> str:
    return (f"{row.replicas} replica{'s' if row.replicas > 1 else ''}"
            + (" behind HAProxy" if row.balanced else ", direct (no balancer)"))


def _rss(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values) or "–"


def _budget(row: ScaleRow) -> str:
    p = row.phase
    if not p.window_s:
        return f"{_name(row)}: no measurement window"
    w = p.window_s
    server, db, client = p.server_cpu_s / w, p.database_cpu_s / w, p.client_cpu_s / w
    lb = p.balancer_cpu_s / w
    other = p.other_cpu_share * p.cores
    idle = max(0.0, p.cores - server - db - client - lb - other)
    return (f"{_name(row)}: of {p.cores} cores, the replicas used {server:.2f} ("
            + ", ".join(f"{c:.2f}" for c in row.replica_cores) + "), "
            f"PostgreSQL {db:.2f}, " + (f"HAProxy {lb:.2f}, " if row.balanced else "")
            + f"the load generator {client:.2f}, other processes {other:.2f}; idle "
            f"{idle:.2f}.")


def render(result: ScaleResult) -> str:
    cfg = result.config
    m = result.machine
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(result.started_at))
    balanced = [r for r in result.rows if r.balanced]
    base = balanced[0].phase.throughput if balanced else math.nan
    lines = [BEGIN, f"## Scale-out on one machine: replicas behind HAProxy (run of {when})", "",
             "Reproduce: `python -m bench --replicas "
             + ",".join(str(r.replicas) for r in balanced)
             + f" --backends postgresql --devices {cfg.devices}` (PostgreSQL as for the "
             "rest of the bench; Redis from `TENURE_BENCH_REDIS_URL` or "
             "`TENURE_TEST_REDIS_URL`; HAProxy from `make haproxy`). Each replica is "
             f"`tenure serve --workers {result.workers}` on its own port, all on one "
             "database, behind HAProxy started by the bench with the configuration of "
             "[scale-out.md](scale-out.md) (round-robin, health checks on `/healthz`, "
             "one thread). The load generator's check-ins go through HAProxy; the first "
             "row sends them to one replica directly, to show the balancer's own cost. "
             "In flight grows with the replicas (load processes × "
             f"{cfg.concurrency} × replicas), so each replica is offered the same.", "",
             "| | |", "| --- | --- |",
             f"| machine | {m['cores']} cores ({m['cpu']}), {m['memory']}; load average at "
             f"start {m['load average at start']} |",
             f"| software | {result.version}, HAProxy {result.haproxy}, source {m['source']} |",
             f"| nonces | {'Redis (TENURE_REDIS_URL)' if result.redis else 'database'} |",
             f"| fleet | {cfg.devices:,} devices imported"
             + (f" ({_f(result.imported.rate)} rows/s)" if result.imported else "")
             + f"; check-ins pick from {result.pool:,} activated devices |",
             f"| windows | {cfg.measure:.0f} s each, after {cfg.warmup:.0f} s warm-up; "
             f"{cfg.load_processes} load processes, {cfg.client} HTTP client |",
             f"| crypto floor in this run | {result.floor.request_us:.1f} µs per request "
             "(as defined above; a CPU busy with other work shows a higher floor) |", "",
             "| setup | in flight | check-in req/s | vs 1 replica behind HAProxy | "
             "server CPU µs/req (all replicas) | HAProxy CPU µs/req | database CPU µs/req | "
             "load-generator CPU µs/req | p50 ms | p99 ms | failed | RSS MiB per server "
             "process | HAProxy RSS MiB |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
             "---: | ---: |"]
    for row in result.rows:
        p = row.phase
        share = (f"{(p.throughput / base - 1) * 100:+.0f} %" if row.balanced and base
                 else "–")
        lb = _f(p.balancer_cpu_s / p.served * 1e6) if row.balanced and p.served else "–"
        lines.append(f"| {_name(row)} | {row.in_flight} | {_f(p.throughput)} | {share} | "
                     f"{_f(p.cpu_us)} | {lb} | {_f(p.database_cpu_us)} | "
                     f"{_f(p.client_cpu_us)} | {_f(p.percentile(50), 1)} | "
                     f"{_f(p.percentile(99), 1)} | {p.failures} | {_rss(row.rss_mib)} | "
                     + (f"{row.balancer_rss_mib:.0f}" if row.balanced else "–") + " |")
    lines.append("")
    gains = [(b.replicas, b.phase.throughput - a.phase.throughput)
             for a, b in zip(balanced, balanced[1:], strict=False)]
    if gains:
        lines.append("Throughput per added replica: " + "; ".join(
            f"replica {n}: {g:+,.0f} check-ins/s" for n, g in gains) + ".")
        lines.append("")
    lines += [f"- {_budget(row)}" for row in result.rows]
    sizes = result.table_bytes
    if sizes and cfg.devices and result.pool:
        provisioned = (sizes["devices"] + sizes["device_imeis"]) / cfg.devices
        activated = (sizes["device_territory"] + sizes["audit_events"]) / result.pool
        lines += ["", "Storage (PostgreSQL, `pg_total_relation_size`: table, indexes and "
                  "TOAST, freshly written, before the check-in phases): "
                  f"{provisioned:,.0f} bytes per provisioned device (`devices` "
                  f"{sizes['devices'] / cfg.devices:,.0f} + `device_imeis` "
                  f"{sizes['device_imeis'] / cfg.devices:,.0f}); each activation adds "
                  f"about {activated:,.0f} bytes (`device_territory` and its "
                  "`audit_events` entry). Redis holds the used nonces, each for the nonce "
                  "lifetime (10 minutes)."]
    cpu = balanced[0].phase.cpu_us if balanced else math.nan
    lines += ["", "Reading: the replicas, PostgreSQL, Redis, HAProxy and the load generator "
              "share "
              f"the same {m['cores']} cores, so once they are busy an added replica can "
              "only take CPU from the others — what this run can show is that replicas "
              "share one database and stay correct (tests/e2e/test_scale_out.py), and what "
              "a replica costs in CPU and memory, not the capacity of more machines. On "
              "dedicated cores one replica process answers about 10⁶ ÷ its server CPU per "
              f"check-in ≈ {_f(1e6 / cpu) if cpu else '–'} check-ins/s per core (the 1-replica "
              "row); docs/scale-out.md turns that into replicas and database nodes for a "
              "large fleet."]
    busiest = max((r.phase.other_cpu_share for r in result.rows), default=0.0)
    if busiest >= 0.3:
        lines += ["", f"The machine was busy with other work: other processes used up to "
                  f"{busiest:.0%} of its cores during the windows (the budget lines above). "
                  "Each added replica is then one more runnable process competing with "
                  "them for the cores, so what it adds here is a larger share of a "
                  "contended machine, not capacity; and CPU per request, floor included, "
                  "is inflated by the contention."]
    elif busiest >= 0.1:
        lines += ["", f"The machine was not quiet: other processes used up to {busiest:.0%} "
                  "of its cores during the windows (the budget lines above), which the "
                  "throughput figures pay for; CPU per request much less so."]
    if result.notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in result.notes]
    lines += ["", END]
    return "\n".join(lines) + "\n"


def write(result: ScaleResult, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    old = out.read_text() if out.exists() else "# Benchmarks\n"
    out.write_text(splice(old, render(result)))
    return out
