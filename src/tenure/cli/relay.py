"""`tenure relay senders`: who uses the message relay, for operators watching for abuse.

A sender with many messages asked and few confirmed is someone typing other people's
addresses (each unconfirmed message mailed a stranger a token); many devices from one
sender is someone fishing for holders. Operators see counts and the senders' own
addresses, never the holders'.
"""

from __future__ import annotations

import argparse
from typing import Any


def cmd_relay(args: argparse.Namespace) -> int:
    from tenure.agent.device import iso_utc

    from .server import app_services

    rt = app_services()
    rows = rt.relay.senders(args.hours, args.limit)
    print("sender\tasked\tconfirmed\tdevices\treplies\tlast")
    for row in rows:
        print(f"{row['from']}\t{row['asked']}\t{row['confirmed']}\t{row['devices']}\t"
              f"{row['replies']}\t{iso_utc(row['last'])}")
    if not rows:
        print(f"(no relay messages in the last {args.hours:g} hours)")
    return 0


def register(commands: Any) -> None:
    p = commands.add_parser(
        "relay", help="the message relay: who writes to devices' holders",
        description="Per sender address: messages asked and confirmed, devices written to, "
                    "replies received — most active first. Many unconfirmed messages mean "
                    "someone else's address is being used.")
    p.add_argument("action", choices=["senders"], help="senders: activity per sender")
    p.add_argument("--hours", type=float, default=24.0,
                   help="how far back to count (default 24)")
    p.add_argument("--limit", type=int, default=50, help="senders to show (default 50)")
    p.set_defaults(handler=cmd_relay)
