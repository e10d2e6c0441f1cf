"""The README's command blocks, run as written against a real server.

Blocks preceded by `<!-- e2e: walkthrough -->` are read from README.md itself (so the
walkthrough cannot drift from what is tested) and run in one shell session, in order,
in an empty working directory: `localhost:8080` becomes the test server, `tenure` is
this environment's. Each command must exit 0, or N where its comment says `exits N`;
each `#>` line under a command must appear in what it printed (`...` skips text).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import TENURE, ServerProcess, _backend_url, _server

ROOT = Path(__file__).resolve().parents[2]
MARK = "<!-- e2e: walkthrough -->"


@dataclass
class Step:
    command: str
    exit_code: int = 0
    expected: list[str] = field(default_factory=list)


def readme_steps(text: str) -> list[Step]:
    steps: list[Step] = []
    blocks = re.findall(re.escape(MARK) + r"\s*```sh\n(.*?)```", text, flags=re.S)
    assert blocks, f"no blocks marked {MARK} in README.md"
    for block in blocks:
        pending = ""
        for line in block.splitlines():
            if pending:
                pending += "\n" + line
                if not line.endswith("\\"):
                    steps.append(_step(pending))
                    pending = ""
            elif line.startswith("#>"):
                steps[-1].expected.append(line[2:].strip())
            elif not line.strip() or line.startswith("#") or line.startswith(". .venv"):
                continue
            elif line.endswith("\\"):
                pending = line
            else:
                steps.append(_step(line))
    return steps


def _step(line: str) -> Step:
    found = re.search(r"#[^'\"]*\bexits (\d+)", line)
    return Step(line, int(found.group(1)) if found else 0)


def run_steps(steps: list[Step], server: ServerProcess, cwd: Path) -> list[tuple[int, str]]:
    host = server.url.removeprefix("http://")
    script = ["set -u"]
    for i, step in enumerate(steps):
        command = step.command.replace("localhost:8080", host)
        script += [f"printf '\\n@@cmd {i}\\n'", f"{{ {command}\n}} 2>&1",
                   f"printf '\\n@@rc {i} %d\\n' $?"]
    env = {**server.env, "TENURE_SERVER_URL": server.url,
           "PATH": f"{Path(TENURE).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=600).stdout
    results = []
    for i in range(len(steps)):
        body = out.split(f"\n@@cmd {i}\n", 1)[1]
        printed, rest = body.split(f"\n@@rc {i} ", 1)
        results.append((int(rest.split("\n", 1)[0]), printed))
    return results


def printed_as_documented(expected: str, printed: str) -> bool:
    position = 0
    for piece in (p.strip() for p in expected.split("...")):
        found = printed.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


@pytest.fixture(params=["sqlite", "postgresql"])
def readme_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server as `make run` starts it, except that it reads a new policy at once: a
    person typing the commands takes longer than TENURE_POLICY_REFRESH_SECONDS (5 s)
    between `policy apply` and the next `activate`; the script does not."""
    yield from _server(tmp_path, _backend_url(request), {"TENURE_POLICY_REFRESH_SECONDS": "0"})


def test_readme_walkthrough_runs_as_written(readme_server: ServerProcess,
                                            tmp_path: Path) -> None:
    any_server = readme_server
    steps = readme_steps((ROOT / "README.md").read_text())
    covered = " ".join(s.command for s in steps)
    for part in ("factory-reset", "activate", "status", "audit verify", "DELETE",
                 "unlock", "policy apply", "policy withdraw"):
        assert part in covered, f"the README walkthrough no longer runs {part!r}"
    work = tmp_path / "work"
    (work / "var").mkdir(parents=True)  # as `make run` leaves it in a checkout
    (work / "examples").symlink_to(ROOT / "examples")
    results = run_steps(steps, any_server, work)
    failures = []
    for step, (code, printed) in zip(steps, results, strict=True):
        if code != step.exit_code:
            failures.append(f"{step.command}\n  exited {code}, README says {step.exit_code}:"
                            f"\n{printed}")
        for expected in step.expected:
            if not printed_as_documented(expected, printed):
                failures.append(f"{step.command}\n  did not print {expected!r}:\n{printed}")
    assert not failures, "\n\n".join(failures)
    # The walkthrough leaves nothing in the working directory but ./var (ignored by git).
    assert {p.name for p in work.iterdir()} == {"var", "examples"}


def test_the_extraction_reads_commands_codes_and_output() -> None:
    """Guard the reader itself: a parser that found nothing would pass vacuously."""
    steps = readme_steps(f"{MARK}\n```sh\n. .venv/bin/activate\n# note\n"
                         "tenure a   # exits 4: locked\n#> Status: LOCKED\n"
                         "curl -s x \\\n  -d '{}'\n```\n")
    assert [(s.command, s.exit_code, s.expected) for s in steps] == [
        ("tenure a   # exits 4: locked", 4, ["Status: LOCKED"]),
        ("curl -s x \\\n  -d '{}'", 0, [])]
    assert printed_as_documented("OK: ... events in ... streams", "OK: 5 events in 2 streams")
    assert not printed_as_documented("OK: ... streams", "streams OK:")
