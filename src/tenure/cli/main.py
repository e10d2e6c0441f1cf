"""`tenure`: serve, init, db, keys, provision, apikey, audit, mail, device."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from tenure.config import ConfigError
from tenure.crypto.keyring import KeyRingError
from tenure.domain.errors import TenureError

from . import device as device_cli
from . import policy as policy_cli
from . import server as server_cli

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tenure",
        description="Tenure activation-lock service. Settings come from TENURE_* environment "
                    "variables (TENURE_DATA_DIR, TENURE_DATABASE_URL, ...); see README.md.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    server_cli.register(commands)
    policy_cli.register(commands)
    device_cli.register(commands)
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
