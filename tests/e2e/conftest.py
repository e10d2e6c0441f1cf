"""End-to-end fixtures: real `tenure serve` processes on free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conftest import password_hash_cost
from tests.webhook_receiver import Receiver

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from .browser import Pages

TENURE = str(Path(sys.executable).with_name("tenure"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    data_dir: Path
    env: dict[str, str]
    url: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def clock_file(self) -> Path:
        return self.data_dir / "clock-offset"

    def start(self, port: int | None = None) -> str:
        """Start one more server process on the same data dir and database (on `port`, or
        a free one); return its URL."""
        port = port or free_port()
        log = (self.data_dir / f"serve-{port}.log").open("wb")
        proc = subprocess.Popen([TENURE, "serve", "--port", str(port)], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log_text = (self.data_dir / f"serve-{port}.log").read_text()
                raise RuntimeError(f"tenure serve exited: {log_text}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    self.url = self.url or url
                    return url
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("tenure serve did not become healthy in 30 s")

    def cli(self, *args: str, check: bool = True, input: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([TENURE, *args], env=self.env, capture_output=True, text=True,
                                input=input, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"tenure {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def advance_clock(self, seconds: float) -> None:
        """Move the server's clock forward (TENURE_CLOCK_OFFSET_FILE). The new file is
        renamed into place: a server reading it mid-write would see no offset at all."""
        current = float(self.clock_file.read_text() or 0)
        fresh = self.clock_file.with_suffix(".new")
        fresh.write_text(str(current + seconds))
        fresh.replace(self.clock_file)

    def logs(self) -> str:
        """What the server processes wrote, for a failing test's message."""
        return "\n".join(path.read_text(errors="replace")
                         for path in sorted(self.data_dir.glob("serve-*.log")))

    def mail(self, to: str) -> list[dict[str, str]]:
        """Messages delivered to `to` (file sink), oldest first, after dispatching the outbox."""
        self.cli("mail", "dispatch")
        found = []
        for path in sorted((self.data_dir / "outbox").glob("*.eml"), key=os.path.getmtime):
            msg = message_from_bytes(path.read_bytes())
            if msg["To"] == to:
                found.append({"subject": str(msg["Subject"]),
                              "body": msg.get_payload(decode=True).decode()})
        return found

    def stop(self) -> None:
        for proc in self.processes:
            proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _server(tmp_path: Path, database_url: str | None,
            extra_env: dict[str, str] | None = None,
            public: bool = False) -> Iterator[ServerProcess]:
    """`public`: the server knows its own address (TENURE_PUBLIC_URL), so the links in
    its mail lead back to it, as they would in production."""
    data = tmp_path / "var"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_")}
    env.update({"TENURE_DATA_DIR": str(data),
                "TENURE_CLOCK_OFFSET_FILE": str(data / "clock-offset"),
                "TENURE_LOG_LEVEL": "warning",
                # Test machines run many suites at once in one CPU group: niced hashing
                # would wait behind all of them (test_hardening.py sets it on purpose).
                "TENURE_PASSWORD_HASH_NICE": "0",
                # argon2id at its cheapest (tests/conftest.py, password_hash_cost); a
                # test that needs the real cost passes "standard" in extra_env.
                "TENURE_PASSWORD_HASH_COST": "test"})
    if database_url:
        env["TENURE_DATABASE_URL"] = database_url
    env.update(extra_env or {})
    port = free_port() if public else None
    if port:
        env["TENURE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    server = ServerProcess(data, env)
    server.clock_file.write_text("0")
    server.start(port)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A running server on a fresh SQLite data dir."""
    yield from _server(tmp_path, None)


def _backend_url(request: pytest.FixtureRequest) -> str | None:
    if request.param != "postgresql":
        return None
    url: str = request.getfixturevalue("postgres_database")
    from tests.conftest import _truncate

    _truncate(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A running server on each backend (PostgreSQL when configured); one hashing at the
    production cost for a test marked `standard_hashing`."""
    yield from _server(tmp_path, _backend_url(request),
                       {"TENURE_PASSWORD_HASH_COST": password_hash_cost(request)})


INSECURE = {"TENURE_WEBHOOK_ALLOW_INSECURE": "1"}


@pytest.fixture(params=["sqlite", "postgresql"])
def hook_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server on each backend that may post to http on loopback (development)."""
    yield from _server(tmp_path, _backend_url(request), INSECURE)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real webhook receiver on a free loopback port (tests/webhook_receiver.py)."""
    r = Receiver().start()
    yield r
    r.stop()


GEO_RECORDS = [
    (["5.22.0.0/17"], {"country": {"iso_code": "IR"}}),
    (["85.214.0.0/16"], {"country": {"iso_code": "DE"}, "subdivisions": [{"iso_code": "BE"}]}),
    (["91.200.0.0/16"], {"country": {"iso_code": "UA"}, "subdivisions": [{"iso_code": "43"}]}),
    (["2a0d:1a40:1::/48"], {"country": {"iso_code": "KP"}}),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def territory_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server that geolocates X-Forwarded-For from 127.0.0.1 with a test City database
    (IR 5.22.0.0/17, DE-BE 85.214.0.0/16, UA-43 91.200.0.0/16, KP 2a0d:1a40:1::/48) and
    reads a new policy at once."""
    from tests.geodata import write_city_db

    db = write_city_db(tmp_path / "city.mmdb", GEO_RECORDS)
    yield from _server(tmp_path, _backend_url(request), {
        "TENURE_GEOIP_DB": str(db), "TENURE_TRUSTED_PROXIES": "127.0.0.1",
        "TENURE_POLICY_REFRESH_SECONDS": "0"})


# -- browser tests (tests/e2e/browser.py) ----------------------------------------------

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def journey_server(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per browser-journey module and backend, shared by its tests (each
    makes its own accounts and devices): its mail links to it, a new policy is read at
    once, and the module's SERVER_ENV adds settings of its own."""
    env = {"TENURE_POLICY_REFRESH_SECONDS": "0", **getattr(request.module, "SERVER_ENV", {})}
    yield from _server(tmp_path_factory.mktemp("journeys"), _backend_url(request), env,
                       public=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless chromium for this test process (each xdist worker has its own)."""
    from .browser import launch

    with launch() as started:
        yield started


@pytest.fixture
def pages(browser: Browser) -> Iterator[Pages]:
    """Open pages in fresh contexts; any console error of them fails the test."""
    from .browser import Pages

    opened = Pages(browser)
    yield opened
    opened.close()


@pytest.fixture
def page(pages: Pages) -> Page:
    """A page in a fresh English 1280×800 context: no cookies, no stored state."""
    return pages.open()
