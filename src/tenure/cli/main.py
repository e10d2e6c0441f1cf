"""`tenure`: serve, init, db, keys, provision, apikey, tenant, support, outbox, audit, mail,
device, status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import httpx

from tenure.domain.errors import TenureError

from . import apikey as apikey_cli
from . import device as device_cli
from . import outbox as outbox_cli
from . import policy as policy_cli
from . import relay as relay_cli
from . import retailer as retailer_cli
from . import server as server_cli
from . import status as status_cli
from . import support as support_cli
from . import tenant as tenant_cli

Handler = Callable[[argparse.Namespace], int]


def _describe(parser: argparse.ArgumentParser) -> None:
    """`tenure X --help` opens with the one-line help the command list shows for X,
    where the command gave no longer description."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                if not sub.description and summaries.get(name):
                    sub.description = summaries[name]
                _describe(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tenure",
        description="Tenure activation-lock service. Settings come from TENURE_* environment "
                    "variables (TENURE_DATA_DIR, TENURE_DATABASE_URL, ...); see README.md.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    server_cli.register(commands)
    apikey_cli.register(commands)
    tenant_cli.register(commands)
    retailer_cli.register(commands)
    support_cli.register(commands)
    outbox_cli.register(commands)
    policy_cli.register(commands)
    device_cli.register(commands)
    status_cli.register(commands)
    relay_cli.register(commands)
    _describe(parser)
    return parser


def failure(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and the one line a failure is told in; None for a bug (a traceback).

    The CLI's one mapping of errors, for the server commands and the device agent alike.
    Exit 3 means the device refused the server's answer and kept its previous state.
    """
    from tenure.agent.device import ProtocolError, iso_utc
    from tenure.agent.records import RecordRejected

    if isinstance(exc, RecordRejected):
        return 3, f"answer refused, previous state kept: {exc}"
    if isinstance(exc, ProtocolError):
        # A refusal that waiting lifts carries `retry_after` (Unix time): say when.
        at = exc.problem.get("retry_after")
        when = (f" (allowed from {iso_utc(int(at))})"
                if isinstance(at, int | float) and not isinstance(at, bool) and at > 0 else "")
        return 1, f"server refused: {exc}{when}"
    if isinstance(exc, TenureError):
        return 1, exc.detail or str(exc)
    if isinstance(exc, httpx.HTTPError):  # network failures: not a traceback
        return 1, f"cannot reach the server: {exc}"
    if isinstance(exc, OSError):
        return 1, str(exc)
    return None


def run(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command; a failure a user can act on becomes one line on stderr."""
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        told = failure(exc)
        if told is None:
            raise
        code, line = told
        print(f"tenure: error: {' '.join(line.splitlines())}", file=sys.stderr)
        return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
