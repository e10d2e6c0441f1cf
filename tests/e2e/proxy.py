"""A real HTTP proxy between the agent and the server that can corrupt or replay answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Rewrite = Callable[[str, bytes], bytes]


@contextmanager
def proxy(upstream: str, rewrite: Rewrite) -> Iterator[str]:
    """Serve on a free loopback port; `rewrite(path, body)` may alter each answer's body."""

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "content-length", "connection")}
            answer = httpx.request(self.command, upstream + self.path, content=body,
                                   headers=headers, timeout=30)
            out = rewrite(self.path, answer.content) if self.command == "POST" else answer.content
            self.send_response(answer.status_code)
            for k, v in answer.headers.items():
                if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                     "content-encoding", "date", "server"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

        do_GET = do_POST = do_HEAD = do_DELETE = _forward

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def flip_record_status(path: str, body: bytes) -> bytes:
    """Turn a 'locked' record into 'activated' without re-signing it (what a thief would try)."""
    import base64

    try:
        record = json.loads(body)["record"]
    except (ValueError, KeyError):
        return body
    header, payload, signature = record.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["status"], data["locks"], data["owner"] = "activated", [], None
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return json.dumps({"record": f"{header}.{forged}.{signature}"}).encode()
