"""HAProxy in front of `tenure serve` replicas: a generated config on 127.0.0.1 ports,
run as a child process in the foreground, never as a system service.

Used by `python -m bench --replicas` and tests/e2e/test_scale_out.py. The config is the
one docs/scale-out.md shows: round-robin, `option forwardfor` (the app reads the client
address from X-Forwarded-For because TENURE_TRUSTED_PROXIES names 127.0.0.1), health
checks on `/healthz` that take a dead replica out within about a second, and a
connection refused by a dead replica redispatched to a live one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BACKEND = "replicas"
INSTALL_HINT = "install it with `make haproxy` (as root: apt-get install -y haproxy)"


def haproxy_path() -> str | None:
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)),
        None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_text(port: int, stats_port: int, servers: list[int], check_ms: int = 500,
                threads: int = 1) -> str:
    """The haproxy.cfg: one frontend, one round-robin backend of `servers` (ports on
    127.0.0.1), and a stats page (CSV at /stats;csv) the test and the bench read."""
    lines = [
        "global",
        f"    nbthread {threads}",
        "    maxconn 4096",
        "",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout check 2s",  # a busy replica is slow, not dead; a dead one refuses at once
        "    timeout http-keep-alive 4s",  # below tenure's 5 s (TENURE_KEEPALIVE_SECONDS)
        "    retries 2",
        "    option redispatch 1",  # every retry of a refused connection goes to another replica
        "",
        "frontend tenure",
        f"    bind 127.0.0.1:{port}",
        "    option forwardfor",  # adds X-Forwarded-For: <client address>
        f"    default_backend {BACKEND}",
        "",
        f"backend {BACKEND}",
        "    balance roundrobin",
        "    option httpchk GET /healthz",
        "    http-check expect status 200",
        f"    default-server inter {check_ms}ms fastinter {check_ms}ms downinter {check_ms}ms "
        "fall 3 rise 2",
    ]
    lines += [f"    server r{n} 127.0.0.1:{p} check" for n, p in enumerate(servers, start=1)]
    lines += [
        "",
        "listen stats",
        f"    bind 127.0.0.1:{stats_port}",
        "    stats enable",
        "    stats uri /stats",
        "    stats refresh 1s",
        "",
    ]
    return "\n".join(lines)


@dataclass
class HAProxy:
    """`haproxy -db -f <config>` in its own process group, stopped by `stop()`."""

    workdir: Path
    servers: list[int]  # replica ports on 127.0.0.1, named r1, r2, ... in that order
    threads: int = 1
    port: int = 0
    stats_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 15) -> HAProxy:
        binary = haproxy_path()
        if binary is None:
            raise RuntimeError(f"haproxy is not installed: {INSTALL_HINT}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port, self.stats_port = _free_port(), _free_port()
        config = self.workdir / "haproxy.cfg"
        config.write_text(config_text(self.port, self.stats_port, self.servers,
                                      threads=self.threads))
        self.log_path = self.workdir / "haproxy.log"
        check = subprocess.run([binary, "-c", "-q", "-f", str(config)], capture_output=True,
                               text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refused its config:\n{check.stdout}{check.stderr}")
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_until(lambda rows: all(r["status"] == "UP" for r in rows.values()),
                        timeout, "every replica UP")
        return self

    def stats(self) -> dict[str, dict[str, str]]:
        """The backend's servers as haproxy sees them: name -> row of `show stat`
        (status UP/DOWN, stot = requests sent there, ...)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/stats;csv",
                                    timeout=5) as answer:
            text = answer.read().decode().lstrip("# ")
        return {row["svname"]: row for row in csv.DictReader(io.StringIO(text))
                if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")}

    def wait_until(self, ready: object, timeout: float, what: str) -> dict[str, dict[str, str]]:
        """Poll the stats until `ready(rows)` holds; raise with the last rows if not."""
        deadline = time.monotonic() + timeout
        rows: dict[str, dict[str, str]] = {}
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited:\n{self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                rows = self.stats()
                if rows and ready(rows):  # type: ignore[operator]
                    return rows
            time.sleep(0.1)
        status = {name: row.get("status") for name, row in rows.items()}
        raise RuntimeError(f"haproxy: not {what} within {timeout:.0f} s: {status}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None
