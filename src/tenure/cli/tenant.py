"""`tenure tenant ...`: the operator's tenants (organizations, creditors, retailers).

Create one, list and show them, assign devices to one from the maker's sales records
(one device id a line), and disable one (its keys revoked, its claims released, each
bound owner mailed). Its API keys come from `tenure apikey create --role KIND --tenant ID`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenure.domain.errors import InvalidInput
from tenure.domain.provisioning import is_device_id

if TYPE_CHECKING:
    from tenure.services.ports import TenantRow
    from tenure.services.tenants import TenantAdmin

NAMES = ("tenant",)
KINDS = ("organization", "creditor", "retailer")
SHOWN_UNKNOWN = 20  # unknown device ids listed before "... and N more"


def _admin() -> TenantAdmin:
    from .server import app_services

    return app_services().tenants


def _line(tenant: TenantRow) -> str:
    state = "disabled" if tenant.disabled_at else "live"
    return f"{tenant.tenant_id}\t{tenant.kind}\t{state}\t{tenant.name}"


def cmd_create(args: argparse.Namespace) -> int:
    tenant = _admin().create(args.kind, args.name, args.contact or "", args.webhook_url or "")
    print(tenant.tenant_id)
    print(f"created {tenant.kind} {tenant.name!r}; next: tenure apikey create --role "
          f"{tenant.kind} --tenant {tenant.tenant_id}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    for tenant in _admin().all():
        print(_line(tenant))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from tenure.services.notices import when

    tenant = _admin().show(args.tenant_id)
    print(f"tenant_id:   {tenant.tenant_id}")
    print(f"kind:        {tenant.kind}")
    print(f"name:        {tenant.name}")
    print(f"contact:     {tenant.contact or '-'}")
    print(f"webhook_url: {tenant.webhook_url or '-'}")
    print(f"created:     {when(tenant.created_at)}")
    state = f"disabled {when(tenant.disabled_at)}" if tenant.disabled_at else "live"
    print(f"state:       {state}")
    if tenant.kind == "retailer" and not tenant.disabled_at:
        from .server import app_services

        for lic in app_services().retailer_licenses.history(tenant.tenant_id):
            until = f" until {when(lic.revoked_at)}" if lic.revoked_at else " (in force)"
            print(f"licensed:    {lic.territory} from {when(lic.granted_at)}{until}")
    return 0


def cmd_license(args: argparse.Namespace) -> int:
    from .server import app_services

    licenses = app_services().retailer_licenses
    codes = [c for c in (args.territory or "").split(",") if c.strip()]
    if args.revoke:
        change = licenses.revoke(args.tenant_id, codes or None)
        print(f"revoked {', '.join(change.changed) or 'nothing'} for {args.tenant_id}"
              + (f"; not licensed: {', '.join(change.unchanged)}" if change.unchanged else ""))
        return 0
    change = licenses.grant(args.tenant_id, codes)
    print(f"licensed {args.tenant_id} for {', '.join(change.changed) or 'nothing new'}"
          + (f"; already: {', '.join(change.unchanged)}" if change.unchanged else ""))
    return 0


def read_device_ids(path: Path) -> list[str]:
    """One device id a line; blank lines and `#` comments skipped. Every bad line is
    reported (file:line) and nothing is assigned."""
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    ids: list[str] = []
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            if not is_device_id(text):
                bad += 1
                if bad <= SHOWN_UNKNOWN:
                    print(f"{path.name}:{number}: not a device id: {text[:80]!r}",
                          file=sys.stderr)
                continue
            ids.append(text)
    if bad:
        raise InvalidInput(f"{bad} lines of {path.name} are not device ids; nothing was "
                           "assigned")
    return ids


def cmd_assign(args: argparse.Namespace) -> int:
    path = Path(args.file)
    ids = read_device_ids(path)
    show = sys.stderr.isatty() or args.progress

    def progress(done: int, total: int) -> None:
        if show:
            print(f"\r{done:,} of {total:,} device ids checked", end="", file=sys.stderr,
                  flush=True)

    report = _admin().assign(args.tenant_id, ids, args.skip_unknown, progress)
    if show:
        print(file=sys.stderr)
    for device_id in report.unknown[:SHOWN_UNKNOWN]:
        print(f"{path.name}: unknown device {device_id}", file=sys.stderr)
    if len(report.unknown) > SHOWN_UNKNOWN:
        print(f"... and {len(report.unknown) - SHOWN_UNKNOWN} more unknown devices",
              file=sys.stderr)
    if not report.committed:
        print(f"tenure: error: {len(report.unknown)} device ids are not provisioned; nothing "
              "was assigned (fix the file, or pass --skip-unknown to assign the others)",
              file=sys.stderr)
        return 1
    print(f"assigned {report.assigned} devices to {args.tenant_id}, {report.already} already "
          f"assigned, {len(report.unknown)} unknown skipped")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    report = _admin().disable(args.tenant_id)
    print(f"disabled {args.tenant_id}: {report.keys_revoked} API keys revoked, "
          f"{report.claims_released} claims released (each bound owner is mailed)")
    return 0


def register(commands: Any) -> None:
    p = commands.add_parser(
        "tenant", help="tenants: organizations, creditors and retailers",
        description="Create tenants, assign devices to them and disable them. A tenant's "
                    "API keys come from `tenure apikey create --role KIND --tenant ID`.")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = sub.add_parser("create", help="create a tenant; prints its id")
    create.add_argument("--kind", required=True, choices=KINDS,
                        help="organization: a fleet owner; creditor: device financing; "
                             "retailer: a shop")
    create.add_argument("--name", required=True,
                        help="the name devices and owners are shown (e.g. on a lock screen)")
    create.add_argument("--contact", help="who to contact, shown with its locks")
    create.add_argument("--webhook-url", help="where its events are POSTed (https; http only "
                                              "with TENURE_WEBHOOK_ALLOW_INSECURE=1)")
    create.set_defaults(handler=cmd_create)

    listing = sub.add_parser("list", help="every tenant: id, kind, state, name")
    listing.set_defaults(handler=cmd_list)

    show = sub.add_parser("show", help="one tenant's details")
    show.add_argument("tenant_id", help="the tenant's id (see tenure tenant list)")
    show.set_defaults(handler=cmd_show)

    assign = sub.add_parser(
        "assign", help="assign devices to a tenant from a file, one device id a line",
        description="Assign devices to a tenant from the maker's sales records: one device "
                    "id a line (blank lines and # comments skipped). All or nothing: a line "
                    "that is not a device id, or an id no device has, assigns nothing "
                    "(unless --skip-unknown).")
    assign.add_argument("tenant_id", help="the tenant's id (see tenure tenant list)")
    assign.add_argument("file", help="the file of device ids")
    assign.add_argument("--skip-unknown", action="store_true",
                        help="assign the known devices and only report unknown ids")
    assign.add_argument("--progress", action="store_true",
                        help="show progress even when stderr is not a terminal")
    assign.set_defaults(handler=cmd_assign)

    lic = sub.add_parser(
        "license", help="license a retailer to sell into territories (or --revoke)",
        description="A territory rule with exempt_licensed_sales lets through devices a "
                    "licensed retailer sold in the territory it was licensed for on the day "
                    "of the sale (docs/retailers.md). Revoking ends a licence from now on; "
                    "sales dated while it was in force stay licensed.")
    lic.add_argument("tenant_id", help="the retailer's tenant id (see tenure tenant list)")
    lic.add_argument("--territory", help="ISO 3166 codes, comma-separated (e.g. IR,CU); "
                                         "with --revoke and none given: every licence")
    lic.add_argument("--revoke", action="store_true",
                     help="end these licences instead of granting them")
    lic.set_defaults(handler=cmd_license)

    disable = sub.add_parser(
        "disable", help="disable a tenant: revoke its keys, release every claim it holds")
    disable.add_argument("tenant_id", help="the tenant's id (see tenure tenant list)")
    disable.set_defaults(handler=cmd_disable)
