"""Operator commands: init, serve, db, keys, provision, audit, mail (apikey: cli/apikey.py)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenure.config import Settings, load_settings
from tenure.crypto.keyring import KeyRing
from tenure.domain.errors import InvalidInput
from tenure.logs import configure_logging

if TYPE_CHECKING:  # imported lazily: `tenure --help` stays fast
    from concurrent.futures import Executor

    from tenure.bootstrap import Services


def prepare(settings: Settings, quiet: bool = False) -> None:
    """Create what a server needs and is missing: data dir, key ring, schema."""
    from tenure.store.migrate import upgrade

    if not settings.data_dir.exists():
        settings.data_dir.mkdir(parents=True, mode=0o700)
    _private_sqlite_file(settings.effective_database_url)
    if not KeyRing.exists(settings.keys_dir):
        ring = KeyRing.create(settings.keys_dir)
        if not quiet:
            print(f"created server key ring in {settings.keys_dir} (signing key {ring.active.kid})")
    upgrade(settings.effective_database_url)
    if not quiet:
        print(f"database ready: {_safe_url(settings.effective_database_url)}")


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file owner-only before SQLite does: it holds password hashes."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _safe_url(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_init(args: argparse.Namespace) -> int:
    prepare(load_settings())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from tenure.http.connections import ConnectionLimits, GuardedHttpToolsProtocol, listen

    settings = load_settings()
    if args.workers > 1 and settings.effective_database_url.startswith("sqlite"):
        raise InvalidInput("SQLite serves from one worker process (its single writer makes "
                           "more workers slower, not faster); use PostgreSQL "
                           "(TENURE_DATABASE_URL) for --workers above 1")
    limits = ConnectionLimits.from_settings(settings)
    prepare(settings, quiet=True)
    configure_logging(settings.log_level, settings.log_format)
    # X-Forwarded-For is the app's business (TENURE_TRUSTED_PROXIES, http/addresses.py):
    # uvicorn's own proxy handling would trust it from loopback by default.
    config = uvicorn.Config(
        "tenure.http.asgi:create", factory=True, host=args.host, port=args.port,
        workers=args.workers, log_level="warning", access_log=False, server_header=False,
        proxy_headers=False, forwarded_allow_ips="", http=GuardedHttpToolsProtocol,
        timeout_keep_alive=limits.keepalive)  # type: ignore[arg-type]
    sock = listen(args.host, args.port)  # bound before anything says "serving"
    server = uvicorn.Server(config)
    if args.workers == 1:
        config.load()  # a broken app fails before the banner, not after it
    base = f"http://{args.host}:{args.port}"
    print(f"Tenure is serving on {base}\n"
          f"  data: {settings.data_dir.resolve()}  database: "
          f"{_safe_url(settings.effective_database_url)}\n"
          f"  owner portal:   {base}/\n"
          f"  device status:  {base}/status   appeals: {base}/appeal\n"
          f"  console:        {base}/console  (support agents and operators)\n"
          f"  try:  curl http://{args.host}:{args.port}/healthz\n"
          f"        curl http://{args.host}:{args.port}/v1/keys\n"
          f"  then follow README.md (\"A device's life\") with `tenure device ...`",
          flush=True)
    if settings.password_hash_cost != "standard":  # noqa: S105 - a cost, not a secret
        print("  warning: TENURE_PASSWORD_HASH_COST=test hashes passwords at argon2's "
              "cheapest cost (testing only)", file=sys.stderr, flush=True)
    try:
        if args.workers > 1:
            _supervise(config, sock)
            return 0
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        return 0
    return 0 if server.started else 1


def _supervise(config: Any, sock: Any) -> None:
    """uvicorn's multi-process supervisor on our already bound socket."""
    import inspect

    from uvicorn.supervisors import Multiprocess

    if "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn releases
        import uvicorn

        Multiprocess(config, target=uvicorn.Server(config).run,  # type: ignore[call-arg]
                     sockets=[sock]).run()
    else:
        Multiprocess(config, sockets=[sock]).run()


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from tenure.store.migrate import upgrade

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _private_sqlite_file(settings.effective_database_url)
    upgrade(settings.effective_database_url)
    print("database schema is up to date")
    return 0


RELOAD_NOTE = ("running servers that share this keys directory follow the change within "
               "2 s; no restart needed")


def cmd_keys(args: argparse.Namespace) -> int:
    from tenure.crypto.keyring import DEFAULT_KEY_TYPE, key_type_named

    settings = load_settings()
    key_type = key_type_named(args.alg) if args.alg else None
    if args.action in ("activate", "retire") and not args.kid:
        raise InvalidInput(f"give the kid: tenure keys {args.action} KID")
    if args.action == "init":
        ring = KeyRing.load_or_create(settings.keys_dir, key_type or DEFAULT_KEY_TYPE)
    elif args.action == "rotate":
        ring = KeyRing.load(settings.keys_dir).rotate(key_type)
        print(f"new signing key {ring.active.kid}; older keys keep verifying until retired")
        print(RELOAD_NOTE)
    elif args.action == "add":
        ring = KeyRing.load(settings.keys_dir).add(key_type or DEFAULT_KEY_TYPE)
        print(f"published {ring.keys[-1].kid} in /v1/keys; it signs device tokens after "
              f"`tenure keys activate {ring.keys[-1].kid}`")
    elif args.action == "activate":
        ring = KeyRing.load(settings.keys_dir).activate(args.kid)
        print(f"{args.kid} signs from now on")
        print(RELOAD_NOTE)
    elif args.action == "retire":
        ring = KeyRing.load(settings.keys_dir).retire(args.kid)
        print(f"retired {args.kid}: no longer published in /v1/keys")
        print(RELOAD_NOTE)
    else:
        ring = KeyRing.load(settings.keys_dir)
    for key in ring.keys:
        signs = ("records, unlock tokens" if key is ring.active else "")
        if key is ring.integrator_key:
            signs = f"{signs}, statements, webhooks" if signs else "statements, webhooks"
        print(f"{key.kid}\t{key.key.key_type}\t{key.state}\t{key.key.alg}\t{signs}".rstrip())
    if ring.integrator_key.key.key_type == "Ed25519":
        print("note: PyJWT and Authlib cannot verify Ed25519 statements and webhooks; "
              "`tenure keys add --alg ES256` publishes a key that signs them "
              "(docs/integrations.md)", file=sys.stderr)
    return 0


def app_services() -> Services:
    """The bound use cases, for a command that needs them (the one accessor)."""
    from tenure.bootstrap import bootstrap

    settings = load_settings()
    prepare(settings, quiet=True)
    return bootstrap(settings)


def cmd_provision_import(args: argparse.Namespace) -> int:
    from tenure.services.provision import ImportReport, detect_format

    from .progress import Progress

    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    size = max(1, path.stat().st_size)
    # The worker processes start before any database connection exists (forked
    # children must not share one); a small file is not worth starting them for.
    with import_pool(args.workers, size) as (pool, workers):
        rt = app_services()
        shown = Progress() if args.progress is not False else None

        def progress(report: ImportReport) -> None:
            if shown is None:
                return
            if report.switching:
                shown.update(1.0, f"{report.rows:,} rows checked; switching in "
                             f"{report.imported:,} new devices", force=True)
                return
            shown.update(report.bytes_checked / size, f"{report.rows:,} rows, {report.imported:,} "
                         f"new, {report.invalid:,} invalid", report.rows)

        with path.open("rb") as handle:
            fmt = args.format or detect_format(path.name, handle.read(64))
            handle.seek(0)
            try:
                report = rt.importer.run(
                    handle, fmt, actor=f"cli:{getpass.getuser()}",
                    skip_invalid=args.skip_invalid, source=path.name, progress=progress,
                    pool=pool, workers=workers)
            finally:
                if shown is not None:
                    shown.close()
    for line, problem in report.errors:
        print(f"{path.name}:{line}: {problem}", file=sys.stderr)
    if report.invalid > len(report.errors):
        print(f"... and {report.invalid - len(report.errors)} more invalid rows", file=sys.stderr)
    if not report.committed:
        print(f"tenure: error: {report.invalid} invalid rows; nothing was imported "
              "(fix them, or pass --skip-invalid to import the valid rows)", file=sys.stderr)
        return 1
    rate = report.rows / report.seconds if report.seconds else 0
    print(f"imported {report.imported} devices, {report.unchanged} already present, "
          f"{report.invalid} skipped as invalid ({report.rows} rows in {report.seconds:.1f}s, "
          f"{rate:,.0f} rows/s)")
    return 0


def _cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextmanager
def import_pool(wanted: int | None, size: int) -> Iterator[tuple[Executor | None, int]]:
    """Worker processes that parse and check an import's rows (the default: one per
    core), or none for a file of a few chunks or --workers 1."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tenure.services.provision_rows import CHUNK_BYTES

    workers = wanted or _cores()
    if workers <= 1 or size <= 2 * CHUNK_BYTES:
        yield None, 1
        return
    method = "fork" if sys.platform == "linux" else "spawn"
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))
    try:
        pool.submit(int).result()  # start them now
        yield pool, workers
    finally:
        pool.shutdown(cancel_futures=True)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from tenure.store.audit import verify_chain

    rt = app_services()
    with rt.uow(readonly=True) as tx:
        result = verify_chain(tx.conn, progress=lambda n: print(f"{n:,} events checked",
                                                                file=sys.stderr))
    if result.ok:
        print(f"OK: {result.events} events in {result.streams} streams, every link intact")
        return 0
    print(f"BROKEN: {result.broken}", file=sys.stderr)
    return 2


def cmd_mail_dispatch(args: argparse.Namespace) -> int:
    rt = app_services()
    rt.password_reset.process_pending(limit=10_000)  # queued resets become mail first
    print(f"sent {rt.mail.dispatch(limit=10_000)} messages")
    return 0


def register(commands: Any) -> None:
    p = commands.add_parser("init", help="create the data dir, server keys and database schema")
    p.set_defaults(handler=cmd_init)

    p = commands.add_parser("serve", help="prepare what is missing and start the server")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.set_defaults(handler=cmd_serve)

    p = commands.add_parser("db", help="database schema")
    p.add_argument("action", choices=["upgrade"], help="upgrade: apply pending migrations")
    p.set_defaults(handler=cmd_db_upgrade)

    p = commands.add_parser("keys", help="the server's signing key ring")
    p.add_argument("action", choices=["init", "list", "rotate", "add", "activate", "retire"],
                   help="init: create if missing; rotate: new signing key now; add: publish "
                        "a key ahead of use; activate KID: make it sign; retire KID")
    p.add_argument("kid", nargs="?", help="key id (for activate and retire)")
    p.add_argument("--alg", choices=["ES256", "Ed25519"],
                   help="key algorithm: init and add default to ES256, rotate to the "
                        "active key's")
    p.add_argument("--type", dest="alg", choices=["P-256", "Ed25519"], help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_keys)

    p = commands.add_parser("provision", help="import devices from the factory")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = sub.add_parser("import", help="import a CSV or JSONL file of devices (all or nothing)")
    imp.add_argument("file", help="CSV with header device_id,imei,model,sku,market,public_key, "
                                  "or JSONL with the same fields")
    imp.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file name")
    imp.add_argument("--skip-invalid", action="store_true",
                     help="import the valid rows even if some rows are invalid")
    imp.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress on stderr: a bar redrawn in place on a terminal, a line "
                          "every 10 s otherwise (the default); --no-progress for none")
    imp.add_argument("--workers", type=int, default=None, metavar="N",
                     help="processes that parse and check the rows (default: one per core; "
                          "1: all in this process)")
    imp.set_defaults(handler=cmd_provision_import)

    p = commands.add_parser("audit", help="the audit trail")
    p.add_argument("action", choices=["verify"], help="verify: check every hash-chain link")
    p.set_defaults(handler=cmd_audit_verify)

    p = commands.add_parser("mail", help="the outbox")
    p.add_argument("action", choices=["dispatch"], help="dispatch: send what is due now")
    p.set_defaults(handler=cmd_mail_dispatch)
