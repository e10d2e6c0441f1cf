"""Where the server spends its time: py-spy on the running `tenure serve` (and its
workers) during extra load phases that are not part of the measured figures (sampling
slows the server down a little)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from . import load
from .phases import run as run_phase

if TYPE_CHECKING:
    from .run import BackendResult, Config
    from .server import Server

FRAME = re.compile(r"^(?P<fn>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
TOP = 15


def py_spy() -> str | None:
    return shutil.which("py-spy") or (
        str(Path(sys.executable).with_name("py-spy"))
        if Path(sys.executable).with_name("py-spy").exists() else None)


def _label(frame: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['fn']} ({path})"


Top = list[tuple[str, float, float]]


def top_functions(raw: str) -> tuple[Top, Top]:
    """(by self time, by total time): (function, self %, total %) from py-spy's raw
    (collapsed stack) output."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_label(f) for f in stack.split(";")
                  if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for name in set(frames):
            total[name] += count
    if not samples:
        return [], []

    def pct(name: str) -> tuple[str, float, float]:
        return name, 100 * own[name] / samples, 100 * total[name] / samples

    by_self = [pct(name) for name, _ in own.most_common(TOP)]
    # tenure's own functions, below the entry points every sample passes through
    ours = [n for n, _ in total.most_common()
            if "(tenure/" in n and not n.startswith(("main ", "cmd_serve ", "create "))]
    by_total = [pct(name) for name in ours[:TOP]]
    return by_self, by_total


# What kind of work a sample's time is, from the innermost frame that says so (a
# frame in a generic module, such as a dataclass's generated __init__ or functools,
# counts for the frame that called it). The kinds separate what every device request
# needs at the least (the signatures, the database, parsing and encoding, the HTTP
# server) from Tenure's own code, so that the profile says how much of a request is
# Tenure's own and, of that, how much is the rules against the plumbing around them.
KINDS: list[tuple[str, tuple[str, ...]]] = [
    ("signatures (verify and sign: the floor)", ("tenure/crypto/keys.py", "cryptography/")),
    ("JSON and base64", ("json/", "base64.py", "tenure/crypto/b64.py",
                         "tenure/domain/jsonread.py", "tenure/crypto/jws.py")),
    ("database driver (statements, COMMIT)", ("sqlite3/", "psycopg/", "psycopg_pool/",
                                              "tenure/store/driver_sql.py")),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("logs and metrics", ("structlog/", "prometheus_client/", "logging/",
                          "tenure/http/access.py", "tenure/logs.py")),
    ("HTTP server, ASGI, event loop", ("granian/", "uvicorn/", "httptools/", "h11/",
                                       "starlette/", "asyncio/", "uvloop/", "anyio/")),
    ("Tenure: HTTP front and batching", ("tenure/http/",)),
    ("Tenure: unit of work and repositories", ("tenure/store/",)),
    ("Tenure: device rules (services, domain, nonces, records)",
     ("tenure/services/", "tenure/domain/", "tenure/geo/", "tenure/i18n",
      "tenure/clock.py", "ipaddress.py", "hmac.py", "secrets.py", "random.py")),
]
OTHER = "other"
# SQLAlchemy's dialect methods that only call the driver: py-spy does not see into C, so
# the driver's time (SQLite's fsync at COMMIT) shows as these functions' own time.
DRIVER_CALLS = ("do_commit", "do_execute", "do_executemany", "do_rollback", "do_begin")


def kind_of(stack: list[str]) -> str:
    """The kind of work of one sample (frames root first, as py-spy writes them)."""
    leaf = FRAME.match(stack[-1])
    if leaf and leaf["fn"].rpartition(".")[2] in DRIVER_CALLS:
        return KINDS[2][0]
    for frame in reversed(stack):
        match = FRAME.match(frame)
        path = match["file"] if match else frame
        path = "/" + path  # py-spy shortens paths: "json/decoder.py", ".../site-packages/x"
        for kind, markers in KINDS:
            if any(f"/{marker}" in path for marker in markers):
                return kind
    return OTHER


def _in_bench(frame: str) -> bool:
    match = FRAME.match(frame)
    return match is not None and "/bench/" in "/" + match["file"]


def by_kind(raw: str) -> list[tuple[str, float]]:
    """(kind, % of busy samples), in the order of KINDS, from py-spy's raw output;
    samples in the bench's own code (an in-process load generator) are left out."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if frames and not _in_bench(frames[-1]):
            counts[kind_of(frames)] += int(count_text)
    samples = sum(counts.values())
    if not samples:
        return []
    order = [kind for kind, _ in KINDS] + [OTHER]
    return [(kind, 100 * counts[kind] / samples) for kind in order if counts[kind]]


def profile_phases(cfg: Config, server: Server, jwks: dict[str, object],
                   result: BackendResult) -> dict[str, list[tuple[str, float, float]]]:
    tool = py_spy()
    if tool is None:
        result.notes.append("--profile: py-spy is not installed (pip install py-spy); "
                            "no profile")
        return {}
    assert server.proc is not None
    size = result.final.fleet
    pool = result.checkin_pool
    found: dict[str, list[tuple[str, float, float]]] = {}
    seconds = max(5.0, cfg.measure)
    for name, path, extra in [
        ("check-in", load.CHECKIN, {"pool": pool}),
        ("activation", load.ACTIVATION, {"fleet_size": size}),
    ]:
        out = cfg.workdir / f"{result.backend}-{name}.pyspy.txt"
        cfg.log(f"[{result.backend}] profiling {name} with py-spy ({seconds:.0f} s)")
        spy = subprocess.Popen(
            [tool, "record", "--pid", str(server.proc.pid), "--subprocesses", "--nonblocking",
             "--rate", "200", "--duration", str(int(seconds)), "--format", "raw",
             "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            spec = load.PhaseSpec(
                name=f"{name} (profiled)", path=path, base_url=server.url, seed=cfg.seed,
                jwks=jwks, mode="closed", t_start=0.0, t0=1.0, t1=seconds + 2.0,
                threads=cfg.concurrency, client=cfg.client, **extra)  # type: ignore[arg-type]
            run_phase(server, None, spec, cfg.load_processes, result.backend, size, cfg.cores)
            _, err = spy.communicate(timeout=seconds + 60)
        finally:
            if spy.poll() is None:
                spy.kill()
                spy.wait(10)
        if not out.exists():
            result.notes.append(f"--profile: py-spy failed for {name}: "
                                f"{(err or b'').decode()[-300:]}")
            continue
        raw = out.read_text()
        by_self, by_total = top_functions(raw)
        result.kinds[name] = by_kind(raw)
        for kind, share in result.kinds[name]:
            cfg.log(f"    {share:5.1f} %  {kind}")
        found[f"{name}, by self time"] = by_self
        found[f"{name}, tenure's functions by total time (with what they call)"] = by_total
        for fn, own, total in by_self[:8]:
            cfg.log(f"    {own:5.1f} % self {total:5.1f} % total  {fn}")
    return found


def main() -> None:
    """`python -m bench.profile FILE [--under FUNCTION]`: the kinds of work and the top
    functions of a py-spy raw profile, e.g. of `py-spy record --format raw --output FILE
    -- python -m bench.inprocess` (with `--under Runner.run`: only the measured rounds,
    not the set-up before them)."""
    import argparse

    parser = argparse.ArgumentParser(description=(main.__doc__ or "").splitlines()[0])
    parser.add_argument("file", type=Path, help="py-spy's output with --format raw")
    parser.add_argument("--under", default=None, metavar="FUNCTION",
                        help="keep only the samples with a frame of this function "
                             "(as py-spy names it, e.g. Runner.run)")
    args = parser.parse_args()
    raw = args.file.read_text()
    if args.under:
        raw = "\n".join(line for line in raw.splitlines()
                        if f";{args.under} (" in line or line.startswith(f"{args.under} ("))
    for kind, share in by_kind(raw):
        print(f"{share:5.1f} %  {kind}")
    print()
    by_self, _ = top_functions(raw)
    for fn, own, total in by_self:
        print(f"{own:5.1f} % self {total:5.1f} % total  {fn}")


if __name__ == "__main__":
    main()
