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
        by_self, by_total = top_functions(out.read_text())
        found[f"{name}, by self time"] = by_self
        found[f"{name}, tenure's functions by total time (with what they call)"] = by_total
        for fn, own, total in by_self[:8]:
            cfg.log(f"    {own:5.1f} % self {total:5.1f} % total  {fn}")
    return found

