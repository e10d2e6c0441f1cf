"""`tenure support ...`: give or take the support role (docs/operator-guide.md).

The role is for existing accounts. It works only once the account has its second
factor on and signs in with it; `list` shows whose role is not usable yet."""

from __future__ import annotations

import argparse
from typing import Any

from tenure.services.notices import when


def cmd_support(args: argparse.Namespace) -> int:
    from .server import app_services

    rt = app_services()
    if args.action == "add":
        agent = rt.support.add(args.email)
        print(f"{agent.email} ({agent.account_id}) is a support agent")
        if not agent.totp_on:
            print("note: the role works only once this account turns on its second factor "
                  "(POST /v1/me/totp) and signs in with it")
    elif args.action == "remove":
        if rt.support.remove(args.email):
            print(f"{args.email.strip().lower()} is no longer a support agent")
        else:
            print(f"{args.email.strip().lower()} was not a support agent")
    else:
        for agent in rt.support.list():
            factor = "second factor on" if agent.totp_on else "NO second factor: role not usable"
            print(f"{agent.email}\t{agent.account_id}\tsince {when(agent.added_at)}\t{factor}")
    return 0


def register(commands: Any) -> None:
    p = commands.add_parser(
        "support", help="support agents (who decides appeal cases)",
        description="Give an existing account the support role, take it away, or list the "
                    "agents. The role works only for sessions signed in with a second "
                    "factor (TOTP or a recovery code).")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = sub.add_parser("add", help="give an existing account the support role")
    a.add_argument("email", help="the account's email")
    a.set_defaults(handler=cmd_support)
    r = sub.add_parser("remove", help="take the support role away")
    r.add_argument("email", help="the account's email")
    r.set_defaults(handler=cmd_support)
    s = sub.add_parser("list", help="list support agents and whether their role is usable")
    s.set_defaults(handler=cmd_support)
