"""`tenure apikey ...`: admin API keys.

Registered by cli/server.py before; it lives here so that its help, usage errors and
roles can change without touching the server command.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tenure.domain.errors import InvalidInput

NAMES = ("apikey",)
# API key roles an operator can create. `support` is not one: support agents are
# accounts with a second factor (docs/decisions/0009-no-support-api-key-role.md).
ROLES = ("factory", "policy", "admin", "organization", "creditor", "retailer")
ROLE_HELP = ("factory: POST /v1/admin/devices (factory imports); policy: /v1/admin/policy "
             "(territory policy); admin: reserved for operator tooling, accepted by every "
             "admin endpoint; organization, creditor, retailer: a tenant's key, for the "
             "tenant named by --tenant (of that kind)")


def cmd_apikey(args: argparse.Namespace) -> int:
    from .server import app_services

    if args.action == "revoke" and not args.key_id:
        args.parser.error("revoke needs the key id: tenure apikey revoke KEY_ID "
                          "(tenure apikey list shows them)")
    if args.action == "create" and not args.role:
        args.parser.error("create needs a role: tenure apikey create --role "
                          f"{'|'.join(ROLES)}")
    rt = app_services()
    if args.action == "create":
        key = rt.api_keys.create(args.role, args.name or args.role, args.tenant)
        print(key)
        print("(shown once: store it now)", file=sys.stderr)
    elif args.action == "revoke":
        if not rt.api_keys.revoke(args.key_id):
            raise InvalidInput(f"no live API key {args.key_id!r}")
        print(f"revoked {args.key_id}")
    else:
        for row in rt.api_keys.all_keys():
            state = "revoked" if row.revoked_at else "live"
            print(f"{row.key_id}\t{row.role}\t{state}\t{row.name}\t{row.tenant_id or '-'}")
    return 0


def register(commands: Any) -> None:
    p = commands.add_parser(
        "apikey", help="admin API keys",
        description="Create, list and revoke the role-scoped keys of the admin API. "
                    "A key is shown once, at creation.")
    p.add_argument("action", choices=["create", "list", "revoke"],
                   help="create --role ROLE [--name N]; list; revoke KEY_ID")
    p.add_argument("key_id", nargs="?", help="key id (for revoke; see list)")
    p.add_argument("--role", choices=ROLES, help=f"what the key may do (for create): {ROLE_HELP}")
    p.add_argument("--name", help="a label for the key (for create; default: the role)")
    p.add_argument("--tenant", metavar="TENANT_ID",
                   help="the tenant a key of role organization, creditor or retailer acts "
                        "for (for create; see tenure tenant list)")
    p.set_defaults(handler=cmd_apikey, parser=p)
