"""The device path's CPU cost in-process: the ASGI app without a server or a network.

`python -m bench.inprocess [--database-url URL] [--concurrency K] [--endpoint E]` makes
a fresh data directory (and database), provisions and activates a few devices through
the app, then sends pre-signed check-ins (or activations) straight into the ASGI app, K
at a time on one event loop, and reports CPU µs per request (this process's user +
system time, so the fsyncs count and other processes on the machine do not) and
wall-clock throughput. It is what decision records 0017, 0018 and 0021 compare;
`python -m bench` measures the real server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from tenure import protocol
from tenure.agent.device import DeviceAgent
from tenure.bootstrap import bootstrap
from tenure.cli.server import prepare
from tenure.config import Settings
from tenure.crypto.jws import sign_flattened
from tenure.http.app import create_app
from tenure.logs import configure_logging

from .run import PostgresDatabase


def _csv(agents: list[DeviceAgent]) -> bytes:
    rows = [a.provisioning_row() for a in agents]
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(r[h] for h in header) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


async def _drive(app: Any, bodies: list[bytes], concurrency: int,
                 path: str = protocol.CHECKIN_PATH) -> list[int]:
    statuses: list[int] = []
    queue = list(reversed(bodies))

    async def one(body: bytes) -> None:
        sent = [False]

        async def receive() -> dict[str, Any]:
            if sent[0]:
                await asyncio.sleep(3600)
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": path,
                 "raw_path": path.encode(), "root_path": "",
                 "query_string": b"", "client": ("127.0.0.1", 40000),
                 "server": ("127.0.0.1", 8000),
                 "headers": [(b"host", b"bench"), (b"content-type", b"application/jose+json"),
                             (b"content-length", str(len(body)).encode())]}
        await app(scope, receive, send)

    async def worker() -> None:
        while queue:
            await one(queue.pop())

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server to make a private database on "
                             "(dropped at the end); default: SQLite in a temp dir")
    parser.add_argument("--devices", type=int, default=40)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="best of ROUNDS")
    parser.add_argument("--endpoint", choices=("checkin", "activation", "first-activation"),
                        default="checkin",
                        help="what to send (activation: the devices activate again; "
                             "first-activation: each request activates a device never "
                             "activated, --requests of them a round, as the bench's "
                             "activation phases do)")
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    configure_logging("warning")  # as the bench's server runs
    database = PostgresDatabase(args.database_url) if args.database_url else None
    try:
        if database is not None:
            database.create()
        _measure(args, database.url if database else None)
    finally:
        if database is not None:
            database.drop()


def _measure(args: argparse.Namespace, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "var"
        settings = Settings(data_dir=data, database_url=database_url or "")
        prepare(settings, quiet=True)
        runtime = bootstrap(settings)
        app = create_app(runtime)
        first = args.endpoint == "first-activation"
        with TestClient(app) as client:
            agents = [DeviceAgent.manufacture(client, device_id=f"BENCH{i:06d}")
                      for i in range(args.requests * args.rounds if first else args.devices)]
            report = runtime.importer.run(__import__("io").BytesIO(_csv(agents)), "csv",
                                          actor="bench")
            assert report.committed, report.as_json()
            for agent in agents if not first else ():
                agent.activate(signals={"sim_mcc": ["262"]})
        path = (protocol.CHECKIN_PATH if args.endpoint == "checkin"
                else protocol.ACTIVATION_PATH)
        best: tuple[float, float, float] | None = None
        for round_ in range(args.rounds):
            bodies = []
            for i in range(args.requests):
                agent = (agents[round_ * args.requests + i] if first
                         else agents[i % len(agents)])
                header = {"kid": agent.device_id, "nonce": runtime.nonces.issue(),
                          "url": path}
                payload: dict[str, Any] = {"signals": {"sim_mcc": ["262"]}}
                if path == protocol.CHECKIN_PATH:
                    payload["acks"] = []
                bodies.append(json.dumps(sign_flattened(header, payload, agent.key)).encode())
            t0, wall0 = os.times(), time.perf_counter()
            statuses = asyncio.run(_drive(app, bodies, args.concurrency, path))
            t1, wall = os.times(), time.perf_counter() - wall0
            assert statuses == [200] * args.requests, sorted(set(statuses))
            user, system = t1.user - t0.user, t1.system - t0.system
            if best is None or user + system < best[0] + best[1]:
                best = (user, system, wall)
        assert best is not None
        runtime.close()
        n = args.requests
        print(json.dumps({"database": settings.effective_database_url.split(":")[0],
                          "endpoint": args.endpoint,
                          "concurrency": args.concurrency, "requests": args.requests,
                          "cpu_us_per_request": round((best[0] + best[1]) / n * 1e6, 1),
                          "of_which_system_us": round(best[1] / n * 1e6, 1),
                          "requests_per_s": round(n / best[2], 1)}))


if __name__ == "__main__":
    main()
