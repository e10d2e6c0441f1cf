"""`tenure status` against a real `tenure serve`: a buyer's check of a device, verified
on their side (signature by the published keys, typ, expiry, the device asked, and the
nonce of this very request), in plain words."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from .conftest import ServerProcess
from .test_activation_lock import PASSWORD, provision, register

pytestmark = pytest.mark.e2e


@contextmanager
def replaying(upstream: str, statement_body: bytes) -> Iterator[str]:
    """A server that publishes the real keys but answers every status lookup with one
    statement captured earlier (someone replaying an old "all clear")."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = (httpx.get(upstream + self.path, timeout=10).content
                    if self.path.startswith("/v1/keys") else statement_body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_buyer_sees_the_lock_and_a_replayed_statement_is_refused(
        server: ServerProcess, tmp_path: Path) -> None:
    phone = provision(server, tmp_path, "PHONE-FOR-SALE")
    imei = phone.identity.imeis[0]

    free = server.cli("status", imei, "--server", server.url)
    assert "activation lock: off" in free.stdout and "reported lost: no" in free.stdout
    assert f"device PHONE-FOR-SALE (IMEI {imei})" in free.stdout

    assert phone.activate()["status"] == "activated"
    register(server, "seller@example.com")
    phone.bind(phone.sign_in("seller@example.com", PASSWORD))
    held = server.cli("status", "PHONE-FOR-SALE", "--server", server.url, "--issuer", "tenure")
    assert "activation lock: ON" in held.stdout
    assert "seller" not in held.stdout

    wrong_issuer = server.cli("status", imei, "--server", server.url, "--issuer", "other",
                              check=False)
    assert wrong_issuer.returncode == 3 and "does not verify" in wrong_issuer.stderr

    old = httpx.get(f"{server.url}/v1/public/status",
                    params={"imei": imei, "nonce": "an-old-nonce"}).content
    with replaying(server.url, old) as fake:
        replayed = server.cli("status", imei, "--server", fake, check=False)
    assert replayed.returncode == 3, replayed.stdout
    assert "nonce" in replayed.stderr and replayed.stdout == ""


def test_an_unknown_device_is_one_line_and_a_nonzero_exit(server: ServerProcess) -> None:
    unknown = server.cli("status", "490154203237518", "--server", server.url, check=False)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("tenure: error: server refused: 404 unknown-device")
    assert len(unknown.stderr.splitlines()) == 1
