"""What the figures were measured on: machine, versions, source revision."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sqlite3
import subprocess
import sys
from pathlib import Path

PACKAGES = ["tenure", "starlette", "uvicorn", "SQLAlchemy", "psycopg", "cryptography",
            "httpx", "matplotlib"]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def git_revision(repo: Path) -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, text=True,
                             capture_output=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "src"],
                               cwd=repo, text=True, capture_output=True, timeout=10).stdout
        return f"{rev}{' + uncommitted changes in src/' if dirty.strip() else ''}" or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def describe(repo: Path, cores: int) -> dict[str, str]:
    return {
        "cores": str(cores),
        "cpu": cpu_model(),
        "memory": f"{memory_gib():.0f} GiB",
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "source": git_revision(repo),
        "load average at start": " ".join(f"{v:.2f}" for v in load_average()),
    }
