"""The real server and CLI, run as a user runs them; CPU time read from /proc.

Every process started here is remembered and stopped on any exit (try/finally in the
caller, plus atexit and SIGTERM here), so an interrupted benchmark leaves nothing behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

TENURE = str(Path(sys.executable).with_name("tenure"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
_started: list[subprocess.Popen[bytes]] = []


def _stop_all() -> None:
    for proc in list(_started):
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: uvicorn and its workers
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
    if proc in _started:
        _started.remove(proc)


atexit.register(_stop_all)


_MAIN_PID = os.getpid()


def _on_sigterm(signum: int, frame: object) -> None:
    if os.getpid() != _MAIN_PID:  # a forked load generator or CSV writer: just end
        os._exit(128 + signum)
    _stop_all()
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    global _MAIN_PID
    _MAIN_PID = os.getpid()
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGHUP, _on_sigterm)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """The environment of every tenure command: this run's data dir and database only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_")}
    env.update({"TENURE_DATA_DIR": str(data_dir), "TENURE_LOG_LEVEL": "warning"})
    if database_url:
        env["TENURE_DATABASE_URL"] = database_url
    return env


@dataclass
class CliResult:
    args: list[str]
    seconds: float
    stdout: str
    stderr: str


def cli(env: dict[str, str], *args: str, timeout: float = 3600) -> CliResult:
    """Run `tenure ARGS` and time it (wall clock, process start included)."""
    started = time.perf_counter()
    proc = subprocess.Popen([TENURE, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    _started.append(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise RuntimeError(f"tenure {' '.join(args)} did not finish in {timeout:.0f} s") from None
    finally:
        if proc in _started:
            _started.remove(proc)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"tenure {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{out.decode()}\n{err.decode()}")
    return CliResult(list(args), seconds, out.decode(), err.decode())


@dataclass
class Server:
    env: dict[str, str]
    workers: int
    log_path: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        """`tenure serve --port P --workers N`, exactly as a user starts it."""
        self.port = free_port()
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [TENURE, "serve", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _started.append(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tenure serve exited:\n{self.log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"tenure serve was not healthy within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None

    def cpu_seconds(self) -> float:
        """utime + stime of `tenure serve` and all its descendants (the workers)."""
        return sum(proc_cpu(pid) for pid in self.pids())

    def pids(self) -> list[int]:
        """`tenure serve` and its worker processes."""
        assert self.proc is not None
        return descendants(self.proc.pid, include_self=True)

    def processes(self) -> int:
        return len(self.pids())

    def rss_mib(self) -> list[float]:
        """Resident memory of each process of the server, MiB (the supervisor, if any,
        then its workers)."""
        return [rss_mib(pid) for pid in self.pids()]


def rss_mib(pid: int) -> float:
    """VmRSS of one process, MiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces
    return raw[raw.rindex(")") + 2:].split()


def proc_cpu(pid: int) -> float:
    """utime + stime of one process in seconds (0 if it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def descendants(root: int, include_self: bool = False) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found if include_self else found[1:]


def postgres_backends(database: str) -> list[int]:
    """PostgreSQL backend processes serving `database` (their title names it)."""
    pattern = re.compile(rf"^postgres: .*\b{re.escape(database)}\b")
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, UnicodeDecodeError):
                continue
            if pattern.match(title):
                found.append(int(entry))
    return found


class BackendWatch:
    """The CPU of the PostgreSQL backends serving `database` while a command runs.

    A backend's CPU is readable only while it exists, and a command's backends exit
    with it; so a thread reads them every `every` seconds and keeps each one's last
    figure. What a backend spends after the last reading before it exits is missed
    (at most `every` seconds of it)."""

    def __init__(self, database: str, every: float = 0.2) -> None:
        self.database = database
        self.every = every
        self._seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> BackendWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while True:
            for pid in postgres_backends(self.database):
                cpu = proc_cpu(pid)
                if cpu:
                    self._seen[pid] = max(cpu, self._seen.get(pid, 0.0))
            if self._stop.wait(self.every):
                return

    @property
    def cpu_seconds(self) -> float:
        return sum(self._seen.values())


def system_busy_seconds() -> float:
    """CPU seconds spent by all processes on this machine (every core, not idle/iowait)."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()
    values = [int(v) for v in first[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def _label(pid: int, comm: str) -> str:
    """A readable name for a process: its command line for interpreters, else its name."""
    if not comm.startswith(("python", "tenure", "node", "java", "ruby")):
        return comm
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return comm
    words = [Path(a.decode(errors="replace")).name if i == 0 else a.decode(errors="replace")
             for i, a in enumerate(args[:4]) if a]
    return " ".join(words)[:60] or comm


def all_processes(kernel: dict[int, float] | None = None) -> dict[int, tuple[str, float]]:
    """pid -> (comm, utime + stime seconds) for every process on the machine; with
    `kernel`, also fills pid -> stime (CPU time spent in the kernel for it)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            comm = raw[raw.index("(") + 1:raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2:].split()
            found[int(entry)] = (comm, (int(fields[11]) + int(fields[12])) / CLK_TCK)
            if kernel is not None:
                kernel[int(entry)] = int(fields[12]) / CLK_TCK
    return found


@dataclass
class CpuSnapshot:
    at: float
    server: float
    database: float
    system: float
    db_pids: dict[int, float] = field(default_factory=dict)
    server_pids: set[int] = field(default_factory=set)
    procs: dict[int, tuple[str, float]] = field(default_factory=dict)
    server_kernel: float = 0.0  # the server's stime (part of `server`)
    balancer: float = 0.0  # a load balancer in front of the server (HAProxy), if any
    balancer_pids: set[int] = field(default_factory=set)


class Measured(Protocol):
    """What a phase measures: one `Server`, or several replicas behind a balancer."""

    def pids(self) -> list[int]: ...


def snapshot(server: Measured, database: str | None) -> CpuSnapshot:
    at = time.monotonic()
    system = system_busy_seconds()
    kernel: dict[int, float] = {}
    procs = all_processes(kernel)
    server_pids = set(server.pids())
    balancer_pids = set(getattr(server, "balancer_pids", list)())
    db_pids = {pid: procs[pid][1] for pid in postgres_backends(database)
               if pid in procs} if database else {}
    return CpuSnapshot(at, sum(procs[p][1] for p in server_pids if p in procs),
                       sum(db_pids.values()), system, db_pids, server_pids, procs,
                       sum(kernel.get(p, 0.0) for p in server_pids),
                       sum(procs[p][1] for p in balancer_pids if p in procs), balancer_pids)


def database_cpu_between(before: CpuSnapshot, after: CpuSnapshot) -> float:
    """Per-backend deltas: a backend that appeared in between counts from zero."""
    return sum(cpu - before.db_pids.get(pid, 0.0) for pid, cpu in after.db_pids.items())


def other_processes_between(before: CpuSnapshot, after: CpuSnapshot, exclude: set[int],
                            top: int = 3) -> list[tuple[str, float]]:
    """The biggest CPU users (cores, averaged over the window) that are not the server,
    its database backends or the benchmark itself, grouped by name."""
    seconds = after.at - before.at
    if seconds <= 0:
        return []
    skip = (exclude | after.server_pids | set(after.db_pids) | after.balancer_pids
            | {os.getpid()})
    used: dict[str, float] = {}
    for pid, (comm, cpu) in after.procs.items():
        if pid in skip:
            continue
        delta = cpu - before.procs.get(pid, (comm, 0.0))[1] if pid in before.procs else cpu
        if pid not in before.procs and delta > seconds * 2:
            continue  # a process that started in the window with history: not measurable
        if delta > 0:
            name = _label(pid, comm)
            used[name] = used.get(name, 0.0) + delta / seconds
    ranked = sorted(used.items(), key=lambda item: -item[1])
    return [(name, cores) for name, cores in ranked[:top] if cores >= 0.02]
