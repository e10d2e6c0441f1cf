"""`tenure`: serve, init, db, keys, provision, apikey, audit, mail, device."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tenure.config import ConfigError
from tenure.crypto.keyring import KeyRingError
from tenure.domain.errors import TenureError

from . import apikey as apikey_cli
from . import device as device_cli
from . import policy as policy_cli
from . import server as server_cli

Handler = Callable[[argparse.Namespace], int]


class _Without:
    """The subparsers action, minus the commands another module now registers.

    cli/server.py still registers `apikey`; its current form lives in cli/apikey.py.
    Once that block is deleted from server.py this filter does nothing and can go."""

    def __init__(self, commands: Any, taken: tuple[str, ...]) -> None:
        self._commands = commands
        self._taken = taken

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if name in self._taken:
            return argparse.ArgumentParser(prog=name, add_help=False)
        parser: argparse.ArgumentParser = self._commands.add_parser(name, **kwargs)
        return parser


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
    server_cli.register(_Without(commands, apikey_cli.NAMES))
    apikey_cli.register(commands)
    policy_cli.register(commands)
    device_cli.register(commands)
    _describe(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (TenureError, ConfigError, KeyRingError, OSError) as exc:
        detail = getattr(exc, "detail", None) or str(exc)
        print(f"tenure: error: {detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
