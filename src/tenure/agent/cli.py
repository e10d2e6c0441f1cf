"""`tenure device ...`: drive a simulated device from the command line."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

import httpx

from tenure.config import load_agent_settings

from .device import DeviceAgent

FIELDS = ["device_id", "imei", "model", "sku", "market", "public_key"]
# Exit statuses of `tenure device ...`, for scripts (also in `tenure device --help`).
EXIT_REJECTED = 3  # the server's answer failed verification; the previous state is kept
EXIT_LOCKED = 4  # `activate` succeeded and the device is locked
EXIT_CODES = ("exit status: 0 done; 1 refused by the server or an error; 2 usage error; "
              f"{EXIT_REJECTED} the server's answer failed verification (state kept); "
              f"{EXIT_LOCKED} activate: the device is locked")


def _agent(args: argparse.Namespace) -> DeviceAgent:
    return DeviceAgent.load(Path(args.state))


def _token(agent: DeviceAgent, args: argparse.Namespace, required: bool) -> str | None:
    if getattr(args, "email", None):
        password = args.password or load_agent_settings().password
        if not password:
            raise SystemExit(
                "tenure: error: --password (or TENURE_PASSWORD) is needed with --email")
        return agent.sign_in(args.email, password, getattr(args, "totp", None))
    token = agent.session_token()
    if required and token is None:
        raise SystemExit("tenure: error: no account signed in on this device; "
                         "pass --email and --password")
    return token


def cmd_init(args: argparse.Namespace) -> int:
    agent = DeviceAgent.init(Path(args.state), args.server, device_id=args.id, model=args.model,
                             sku=args.sku, market=args.market, key_type=args.key_type,
                             imeis=args.imeis)
    writer = csv.DictWriter(sys.stdout, fieldnames=FIELDS, lineterminator="\n")
    if not args.no_header:
        writer.writeheader()
    writer.writerow(agent.provisioning_row())
    return 0


def _language(agent: DeviceAgent, args: argparse.Namespace) -> None:
    """`--locale`: the user picks the screen's language (kept until a factory reset)."""
    if getattr(args, "locale", None):
        agent.choose_locale(args.locale)


def cmd_activate(args: argparse.Namespace) -> int:
    agent = _agent(args)
    _language(agent, args)
    signals: dict[str, Any] = {}
    if args.sim_mcc:
        signals["sim_mcc"] = args.sim_mcc
    record = agent.activate(_token(agent, args, required=False) if args.email else None,
                            signals, args.bypass_code)
    _show(agent)
    return EXIT_LOCKED if record.get("status") == "locked" else 0


def _with_account(act: str) -> Any:
    """bind / unbind: sign in if asked, send the account token, show the screen."""
    def command(args: argparse.Namespace) -> int:
        agent = _agent(args)
        token = _token(agent, args, required=True)
        assert token
        getattr(agent, act)(token)
        _show(agent)
        return 0

    return command


cmd_bind = _with_account("bind")
cmd_unbind = _with_account("unbind")


def cmd_checkin(args: argparse.Namespace) -> int:
    agent = _agent(args)
    _language(agent, args)
    agent.checkin(accept_notices=args.accept_notice)
    _show(agent)
    return 0


def _show(agent: DeviceAgent) -> None:
    """What the device did at its last check-in (rang, was wiped), then its screen."""
    for line in agent.actions:
        print(line)
    print(agent.lock_screen())


def cmd_reset(args: argparse.Namespace) -> int:
    agent = _agent(args)
    agent.factory_reset()
    print(f"{agent.device_id}: user data wiped; the persistent block is kept. "
          "Activate to set the device up again.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    agent = _agent(args)
    if args.refresh:
        try:
            agent.checkin()
        except httpx.TransportError as exc:
            # Offline: the screen is what the last valid record (and the device's own
            # clock, for a creditor's offline lock) says.
            print(f"Server not reachable ({type(exc).__name__}); showing the last record.")
    _show(agent)
    return 0


def cmd_appeal_token(args: argparse.Namespace) -> int:
    print(_agent(args).appeal_token())
    return 0


def cmd_fastboot_token(args: argparse.Namespace) -> int:
    print(_agent(args).bootloader.token())
    return 0


def cmd_fastboot_unlock(args: argparse.Namespace) -> int:
    agent = _agent(args)
    agent.bootloader.unlock(args.token)
    print(f"{agent.device_id}: bootloader unlocked (reported at the next check-in)")
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    """The whole flow, as a desktop unlock tool runs it with the phone in fastboot."""
    agent = _agent(args)
    token = _token(agent, args, required=True)
    assert token
    grant = agent.request_unlock(token, agent.bootloader.token())
    agent.bootloader.unlock(grant)
    agent.checkin()
    print(f"{agent.device_id}: bootloader unlocked")
    return 0


def register(commands: Any) -> None:
    env = load_agent_settings()
    device = commands.add_parser(
        "device", help="the reference device agent (a simulated device)",
        description="The reference device agent: a simulated device that speaks the signed "
                    "protocol and keeps its state (identity, key, pinned server keys, last "
                    "record) in --state.", epilog=EXIT_CODES)
    device.add_argument("--state", default=str(env.state),
                        help="the device's state directory (default $TENURE_DEVICE_STATE "
                             "or ./device)")
    sub = device.add_subparsers(dest="action", required=True, metavar="ACTION")

    def locale_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--locale", metavar="TAG",
                       help="the screen's language as a BCP 47 tag (de, fr-CA, fa...): "
                            "the server writes lock messages in it when it has that "
                            "language, else in English; kept until a factory reset "
                            "(default en)")

    def account_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--email", help="sign in with this account first")
        p.add_argument("--password", help="its password (or set TENURE_PASSWORD)")
        p.add_argument("--totp", help="a current code of the account's authenticator, or a "
                                      "recovery code (once its second factor is on)")

    p = sub.add_parser(
        "init", help="make the device key, pin server keys, print the provisioning row")
    p.add_argument("--server", default=env.server_url,
                   help="server URL (default $TENURE_SERVER_URL or http://127.0.0.1:8080)")
    p.add_argument("--id", help="device id (default: random TN...)")
    p.add_argument("--model", default="Tenure Phone 1",
                   help="model name, as policy rules match it (default 'Tenure Phone 1')")
    p.add_argument("--sku", default="TP1-128-BLK",
                   help="stock-keeping unit, as policy rules match it (default TP1-128-BLK)")
    p.add_argument("--market", default="global",
                   help="the market it was provisioned for (default global)")
    p.add_argument("--key-type", choices=["Ed25519", "P-256"], default="Ed25519",
                   help="the device key's type (default Ed25519)")
    p.add_argument("--imeis", type=int, choices=[1, 2], default=1, help="number of IMEIs")
    p.add_argument("--no-header", action="store_true", help="print the CSV row without header")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("activate", help="activate (after first boot or a factory reset)",
                       epilog=f"Exits {EXIT_LOCKED} when the device is locked, 0 when it is "
                              "activated.")
    account_options(p)
    p.add_argument("--sim-mcc", action="append", help="report a SIM's MCC (repeatable)")
    p.add_argument("--bypass-code", metavar="CODE",
                   help="the code an organization's administrator gave, for a device the "
                        "organization holds (case-insensitive; dashes optional)")
    locale_option(p)
    p.set_defaults(handler=cmd_activate)

    p = sub.add_parser("bind", help="bind the device to the signed-in account (activation lock on)")
    account_options(p)
    p.set_defaults(handler=cmd_bind)

    p = sub.add_parser("unbind", help="remove the device from its account (needs a fresh sign-in)")
    account_options(p)
    p.set_defaults(handler=cmd_unbind)

    p = sub.add_parser("checkin", help="check in and show the current status",
                       description="Check in: acknowledge the commands the screen showed "
                                   "and show the new record. A creditor's enrollment "
                                   "notice stays pending (and the creditor has no lock "
                                   "power) until the user accepts it.")
    p.add_argument("--accept-notice", action="store_true",
                   help="the user read and accepts the creditor's enrollment notice the "
                        "screen shows (`tenure device status`); without it the notice "
                        "stays pending")
    locale_option(p)
    p.set_defaults(handler=cmd_checkin)

    p = sub.add_parser("factory-reset", help="wipe user data, keep the persistent block")
    p.set_defaults(handler=cmd_reset)

    p = sub.add_parser("status", help="show what the lock screen shows (the last record)")
    p.add_argument("--refresh", action="store_true",
                   help="check in first, so changes made elsewhere (a removal in the "
                        "portal, a policy) show now; if the server cannot be reached, "
                        "the last record is shown (with a creditor's offline lock once "
                        "its time has passed)")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("appeal-token",
                       help="print the appeal token the lock screen shows (for POST /v1/cases)",
                       description="Print a token signed by the device key that proves whoever "
                                   "has it holds the device now; an appeal case "
                                   "(POST /v1/cases, 'appeal_token') takes it for 24 hours.")
    p.set_defaults(handler=cmd_appeal_token)

    p = sub.add_parser("fastboot", help="the bootloader simulator")
    fastboot = p.add_subparsers(dest="fastboot_action", required=True, metavar="ACTION")
    f = fastboot.add_parser("token", help="print a fresh bootloader token (replaces a pending one)")
    f.set_defaults(handler=cmd_fastboot_token)
    f = fastboot.add_parser("unlock", help="apply an unlock token from the server")
    f.add_argument("token", help="the unlock_token of POST /v1/unlocks")
    f.set_defaults(handler=cmd_fastboot_unlock)

    p = sub.add_parser("unlock", help="request and apply a bootloader unlock for the bound owner")
    account_options(p)
    p.set_defaults(handler=cmd_unlock)
