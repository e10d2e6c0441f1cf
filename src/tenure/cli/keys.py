"""`tenure keys ...` and `tenure apikey ...`: the server's signing keys and admin API keys.

These were registered by cli/server.py; they live here so that their help, usage errors
and messages can change without touching the server command.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tenure.config import load_settings
from tenure.crypto.keyring import RELOAD_CHECK_SECONDS, KeyRing
from tenure.domain.errors import InvalidInput

NAMES = ("keys", "apikey")
# API key roles an operator can create. `support` is not one: support agents are
# accounts with a second factor (docs/decisions/0009-no-support-api-key-role.md).
ROLES = ("factory", "policy", "admin")
ROLE_HELP = ("factory: POST /v1/admin/devices (factory imports); policy: /v1/admin/policy "
             "(territory policy); admin: reserved for operator tooling, accepted by every "
             "admin endpoint")


def cmd_keys(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.action == "init":
        ring = KeyRing.load_or_create(settings.keys_dir)
    elif args.action == "rotate":
        ring = KeyRing.load(settings.keys_dir).rotate(args.type)
        print(f"new signing key {ring.active.kid}; older keys keep verifying until retired.\n"
              f"Running servers sharing {settings.keys_dir} sign with it within "
              f"{RELOAD_CHECK_SECONDS:g} s of their next request (no restart); devices accept "
              "its records only once they pin it (see docs/operator-guide.md).")
    elif args.action == "retire":
        if not args.kid:
            raise InvalidInput("give the kid to retire: tenure keys retire KID")
        ring = KeyRing.load(settings.keys_dir).retire(args.kid)
        print(f"retired {args.kid}: no longer published in /v1/keys (running servers follow "
              f"within {RELOAD_CHECK_SECONDS:g} s)")
    else:
        ring = KeyRing.load(settings.keys_dir)
    for key in ring.keys:
        print(f"{key.kid}\t{key.key.key_type}\t{key.state}")
    return 0


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
        key = rt.api_keys.create(args.role, args.name or args.role)
        print(key)
        print("(shown once: store it now)", file=sys.stderr)
    elif args.action == "revoke":
        if not rt.api_keys.revoke(args.key_id):
            raise InvalidInput(f"no live API key {args.key_id!r}")
        print(f"revoked {args.key_id}")
    else:
        for row in rt.api_keys.all_keys():
            state = "revoked" if row.revoked_at else "live"
            print(f"{row.key_id}\t{row.role}\t{state}\t{row.name}")
    return 0


def register(commands: Any) -> None:
    p = commands.add_parser(
        "keys", help="the server's signing key ring",
        description="The signing key ring in <data dir>/keys (GET /v1/keys publishes it). "
                    "Running servers re-read it within seconds of a change.")
    p.add_argument("action", choices=["init", "list", "rotate", "retire"],
                   help="init: create if missing; list; rotate: new signing key; retire KID")
    p.add_argument("kid", nargs="?", help="key id (for retire)")
    p.add_argument("--type", choices=["Ed25519", "P-256"], default="Ed25519",
                   help="key type for rotate (default Ed25519)")
    p.set_defaults(handler=cmd_keys)

    p = commands.add_parser(
        "apikey", help="admin API keys",
        description="Create, list and revoke the role-scoped keys of the admin API. "
                    "A key is shown once, at creation.")
    p.add_argument("action", choices=["create", "list", "revoke"],
                   help="create --role ROLE [--name N]; list; revoke KEY_ID")
    p.add_argument("key_id", nargs="?", help="key id (for revoke; see list)")
    p.add_argument("--role", choices=ROLES, help=f"what the key may do (for create): {ROLE_HELP}")
    p.add_argument("--name", help="a label for the key (for create; default: the role)")
    p.set_defaults(handler=cmd_apikey, parser=p)
