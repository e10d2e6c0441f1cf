"""The `tenure serve` process at its edge: binding, proxy headers, slow and excess clients.

Real server processes and raw sockets: what a hostile client on the network (or on
the same host) can do to the process itself, before any route runs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import TENURE, ServerProcess, _server
from .test_activation_lock import provision
from .test_territory import apply, at

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
SLACK = 3.0  # scheduling on a shared, busy 2-core machine


@pytest.fixture
def strict_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """Short read timeouts, so that the tests wait seconds; room for 1,000 slow clients
    and the well-behaved ones besides."""
    yield from _server(tmp_path, None, {
        "TENURE_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "TENURE_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "TENURE_BODY_MIN_RATE": "500", "TENURE_MAX_CONNECTIONS": "1100"})


def address(server: ServerProcess) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def read_until_closed(sock: socket.socket, limit: float) -> bytes:
    """Everything the server sends until it closes the connection (or `limit` passes)."""
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def test_a_taken_port_is_one_readable_line_and_a_failure(tmp_path: Path) -> None:
    """Before: "Tenure is serving on ..." was printed, then a traceback-like uvicorn
    error about the address. Now: one line saying what is wrong, exit status 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_")}
        env["TENURE_DATA_DIR"] = str(tmp_path / "var")
        result = subprocess.run([TENURE, "serve", "--port", str(port)], env=env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "serving" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tenure: error: ") and str(port) in lines[0]
    assert "address already in use" in lines[0]


def test_headers_sent_byte_by_byte_are_cut_off_within_the_timeout(
        strict_server: ServerProcess) -> None:
    request = (b"GET /healthz HTTP/1.1\r\nHost: tenure\r\nUser-Agent: slowloris\r\n"
               + b"X-Padding: " + b"a" * 200 + b"\r\n\r\n")
    with socket.create_connection(address(strict_server)) as sock:
        started = time.monotonic()
        sent, answer = 0, b""
        sock.settimeout(0.2)
        while sent < len(request) and time.monotonic() - started < HEADER_TIMEOUT + 10:
            try:
                sock.send(request[sent:sent + 1])
                sent += 1
                answer = sock.recv(4096)
                break  # the server answered (or closed) before the headers were done
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        elapsed = time.monotonic() - started
        answer += read_until_closed(sock, 2)
    assert sent < len(request), "the slow client finished its headers: nothing was cut"
    assert HEADER_TIMEOUT - 0.2 <= elapsed <= HEADER_TIMEOUT + SLACK, elapsed
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
    assert httpx.get(f"{strict_server.url}/healthz", timeout=5).status_code == 200


def test_a_body_trickle_is_cut_off(strict_server: ServerProcess) -> None:
    head = (b"POST /v1/sessions HTTP/1.1\r\nHost: tenure\r\nContent-Type: application/json\r\n"
            b"Content-Length: 4000\r\n\r\n")
    with socket.create_connection(address(strict_server)) as sock:
        sock.sendall(head)
        started = time.monotonic()
        sock.settimeout(0.2)
        answer = b""
        while time.monotonic() - started < BODY_TIMEOUT + 10:
            try:
                sock.send(b" ")
                answer = sock.recv(4096)
                break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        elapsed = time.monotonic() - started
        answer += read_until_closed(sock, 2)
    assert elapsed <= BODY_TIMEOUT + SLACK, elapsed
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]


def test_a_large_body_at_a_reasonable_speed_is_not_cut_off(
        strict_server: ServerProcess) -> None:
    """The body deadline grows with what arrives: 60 KiB over ~3 s (20 KiB/s, well above
    the 500 B/s minimum) outlasts the 2-second base and still gets its answer."""
    body = b'{"email": "slow@example.com", "password": "x", "pad": "' + b"p" * 60_000 + b'"}'
    head = (b"POST /v1/sessions HTTP/1.1\r\nHost: tenure\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
    with socket.create_connection(address(strict_server)) as sock:
        sock.sendall(head)
        for offset in range(0, len(body), 2000):
            sock.sendall(body[offset:offset + 2000])
            time.sleep(0.1)
        answer = read_until_closed(sock, 10)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]  # read, then refused


def test_a_thousand_slow_connections_are_all_closed(strict_server: ServerProcess) -> None:
    """The attack that kept 1,000 connections open for 30 s: each sends a partial
    request line and then nothing. All are closed by the header timeout, and the
    server answers others throughout."""
    sockets = []
    try:
        for _ in range(1000):
            sock = socket.create_connection(address(strict_server), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: ")
            sockets.append(sock)
        assert httpx.get(f"{strict_server.url}/healthz", timeout=5).status_code == 200
        time.sleep(HEADER_TIMEOUT + SLACK)
        still_open = 0
        for sock in sockets:
            sock.setblocking(False)
            try:
                data = sock.recv(4096)  # b"" (closed) or the 408 before the close
                if data and not data.startswith(b"HTTP/1.1 408 "):
                    still_open += 1
            except BlockingIOError:
                still_open += 1  # nothing sent, not closed
            except ConnectionResetError:
                pass
        assert still_open == 0
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture
def capped_server(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from _server(tmp_path, None, {"TENURE_MAX_CONNECTIONS": "5",
                                        "TENURE_HEADER_TIMEOUT_SECONDS": "30"})


def test_connections_over_the_cap_are_answered_503_at_once(
        capped_server: ServerProcess) -> None:
    held = [socket.create_connection(address(capped_server)) for _ in range(5)]
    try:
        for sock in held:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # and never finish
        time.sleep(0.5)
        started = time.monotonic()
        response = httpx.get(f"{capped_server.url}/healthz", timeout=5)
        assert time.monotonic() - started < 2
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["type"] == "urn:tenure:problem:overloaded"
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.5)
    assert httpx.get(f"{capped_server.url}/healthz", timeout=5).status_code == 200


DENY_IR = """
maker = "Example Phones"
evidence = "any"

[[rules]]
id = "embargo"
effect = "deny_activation"
territories = ["IR"]
"""


@pytest.fixture
def geo_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server that geolocates 5.22.0.0/17 as IR, with TENURE_TRUSTED_PROXIES unset."""
    from tests.geodata import write_city_db

    from .conftest import GEO_RECORDS

    db = write_city_db(tmp_path / "city.mmdb", GEO_RECORDS)
    yield from _server(tmp_path, None, {"TENURE_GEOIP_DB": str(db),
                                        "TENURE_POLICY_REFRESH_SECONDS": "0"})


def test_x_forwarded_for_from_loopback_is_not_trusted_by_default(
        geo_server: ServerProcess, tmp_path: Path) -> None:
    """A client on the same host invented an Iranian address and got a territory lock
    with `ip:IR` evidence (uvicorn trusted the header from 127.0.0.1). Without
    TENURE_TRUSTED_PROXIES the peer address is the client's address."""
    apply(geo_server, tmp_path, DENY_IR, "embargo")
    phone = at(provision(geo_server, tmp_path, "XFF-1"), "5.22.1.1")
    record = phone.activate(signals={"sim_mcc": ["262"]})
    assert record["status"] == "activated", record["locks"]

