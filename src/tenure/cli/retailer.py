"""`tenure retailer import TENANT_ID FILE.csv`: the operator registers a retailer's
sales from its report, all or nothing (docs/retailers.md for the CSV format)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tenure.domain.errors import InvalidInput

NAMES = ("retailer",)
SHOWN = 20  # refused rows listed before "... and N more"


def cmd_import(args: argparse.Namespace) -> int:
    from .server import app_services

    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path.name} is not UTF-8 text") from exc
    report = app_services().retail_sales.import_csv(args.tenant_id, text)
    if not report.committed:
        for row in report.refused[:SHOWN]:
            print(f"{path.name}:{report.lines.get(row.index, '?')}: {row.reason}",
                  file=sys.stderr)
        if len(report.refused) > SHOWN:
            print(f"... and {len(report.refused) - SHOWN} more", file=sys.stderr)
        raise InvalidInput(f"{len(report.refused)} rows of {path.name} were refused; nothing "
                           "was registered")
    print(f"registered {report.registered} sales for {args.tenant_id}")
    return 0


def register(commands: Any) -> None:
    p = commands.add_parser(
        "retailer", help="retailers' sales: import a retailer's sales report",
        description="Register a retailer's sales for it. Retailers can also register "
                    "them themselves: POST /v1/retailer/sales (docs/retailers.md).")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = sub.add_parser(
        "import", help="register sales from a CSV file, all or nothing",
        description="CSV with the header device_id,imei,sold_on,territory (a device by id "
                    "or IMEI; sold_on YYYY-MM-DD; territory an ISO 3166 code). Only devices "
                    "assigned to the retailer (tenure tenant assign) can be registered. Any "
                    "refused row is listed by line and nothing is registered.")
    imp.add_argument("tenant_id", help="the retailer's tenant id (see tenure tenant list)")
    imp.add_argument("file", help="the CSV file of sales")
    imp.set_defaults(handler=cmd_import)
