"""`tenure policy ...`: validate, preview, apply and roll back territory policies."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenure.domain.errors import InvalidInput
from tenure.domain.policy import PolicyError

if TYPE_CHECKING:
    from tenure.services.policy import PolicyStore


def _store() -> PolicyStore:
    from .server import app_services

    return app_services().policies


def _read(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise InvalidInput(f"no such file: {file}")
    return file.read_text(encoding="utf-8")


def _author(args: argparse.Namespace) -> str:
    return str(args.author or f"cli:{getpass.getuser()}")


def _invalid(path: str, error: PolicyError) -> int:
    for problem in error.problems:
        print(f"{path}: {problem}", file=sys.stderr)
    print(f"tenure: error: {len(error.problems)} problems in {path}; nothing was changed",
          file=sys.stderr)
    return 1


def cmd_validate(args: argparse.Namespace) -> int:
    from tenure.services.policy import parse_document

    try:
        policy = parse_document(_read(args.file))
    except PolicyError as error:
        return _invalid(args.file, error)
    print(f"{args.file}: valid ({len(policy.rules)} rules, {len(policy.markets)} markets, "
          f"evidence: {policy.evidence})")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    store = _store()
    try:
        started = time.perf_counter()
        preview = store.preview(_read(args.file))
    except PolicyError as error:
        return _invalid(args.file, error)
    if args.json:
        print(json.dumps(preview.as_json(), indent=2))
    else:
        print(preview.render())
        print(f"(computed in {time.perf_counter() - started:.2f}s)", file=sys.stderr)
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    if args.dry_run:
        return cmd_diff(args)
    if not args.reason:
        raise InvalidInput("say why: tenure policy apply FILE --reason \"...\" "
                           "(or preview with --dry-run)")
    store = _store()
    try:
        entry = store.apply(_read(args.file), _author(args), args.reason)
    except PolicyError as error:
        return _invalid(args.file, error)
    print(f"applied policy version {entry.version} (sha256 {entry.sha256[:12]}...); servers "
          "use it within TENURE_POLICY_REFRESH_SECONDS")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    entries = _store().history()
    if not entries:
        print("no policy applied yet: every territory is allowed")
    from tenure.services.policy import WITHDRAWN

    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(e.created_at))
        note = (f" (rollback to {e.rollback_of})" if e.rollback_of
                else " (withdrawn: no rules)" if e.document == WITHDRAWN else "")
        print(f"{e.version:>5}  {when}  {e.author:<20} {e.reason}{note}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    print(_store().document(args.version).document, end="")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    entry = _store().rollback(args.version, _author(args), args.reason or "")
    print(f"applied policy version {entry.version}: the document of version {args.version}")
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    if not args.reason:
        raise InvalidInput('say why: tenure policy withdraw --reason "..."')
    entry = _store().withdraw(_author(args), args.reason)
    print(f"applied policy version {entry.version}: no rules, every territory is allowed "
          "(territory locks are released at each device's next check-in; servers use it "
          "within TENURE_POLICY_REFRESH_SECONDS)")
    return 0


FILE_HELP = "a policy document (TOML; see docs/policy.md and examples/policy.toml)"


def register(commands: Any) -> None:
    p = commands.add_parser("policy", help="territory policy: validate, diff, apply, roll back")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    v = sub.add_parser("validate", help="check a policy file; list every problem")
    v.add_argument("file", help=FILE_HELP)
    v.set_defaults(handler=cmd_validate)

    d = sub.add_parser("diff", help="what applying FILE would change, by model and territory")
    d.add_argument("file", help=FILE_HELP)
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.set_defaults(handler=cmd_diff)

    a = sub.add_parser("apply", help="make FILE the active policy (a new version)")
    a.add_argument("file", help=FILE_HELP)
    a.add_argument("--reason", help="why (required; kept in the audit trail)")
    a.add_argument("--author", help="who (default: cli:<user>)")
    a.add_argument("--dry-run", action="store_true", help="only print the impact (as diff)")
    a.add_argument("--json", action="store_true", help="with --dry-run: machine-readable")
    a.set_defaults(handler=cmd_apply)

    h = sub.add_parser("history", help="list policy versions, newest first")
    h.set_defaults(handler=cmd_history)

    s = sub.add_parser("show", help="print the active policy (or VERSION)")
    s.add_argument("version", type=int, nargs="?",
                   help="a version number (default: the active one)")
    s.set_defaults(handler=cmd_show)

    r = sub.add_parser("rollback", help="apply the document of an earlier VERSION again",
                       epilog="To go back to no policy at all, use `tenure policy withdraw`.")
    r.add_argument("version", type=int, help="the version whose document to apply again")
    r.add_argument("--reason", help="why (default: 'rollback to VERSION')")
    r.add_argument("--author", help="who (default: cli:<user>)")
    r.set_defaults(handler=cmd_rollback)

    w = sub.add_parser("withdraw", help="go back to no policy: a new version without rules")
    w.add_argument("--reason", help="why (required; kept in the audit trail)")
    w.add_argument("--author", help="who (default: cli:<user>)")
    w.set_defaults(handler=cmd_withdraw)
