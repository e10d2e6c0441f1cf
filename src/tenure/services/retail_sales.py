"""Retailers register the sales of devices the operator assigned to them
(`POST /v1/retailer/sales`, `tenure retailer import`), and see their own
(`GET /v1/retailer/sales/{id}`); see docs/retailers.md.

A registered sale is the evidence behind two things: the `exempt_licensed_sales`
option of a territory rule (a device sold by a retailer licensed where it was sold is
not restricted there), and what support agents see of a device in an appeal case
(`registered_sale`). So a retailer may register only devices assigned to it, and a
device keeps one sale: its retailer may correct it (the new one replaces it, audited
with the old), another retailer's report is refused like an unknown device.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tenure.clock import Clock
from tenure.domain import jsonread
from tenure.domain.errors import InvalidInput, Malformed, TooLarge
from tenure.domain.model import Sale
from tenure.domain.provisioning import is_device_id
from tenure.domain.retail import (
    DUPLICATE,
    NOT_REGISTRABLE,
    RowRefused,
    SaleRow,
    latest_sale_date,
    licensed_on,
    read_row,
)
from tenure.geo.territories import normalise_territory

from .ports import RetailSaleRow, TenantRow, Tx, UnitOfWork
from .tenant_access import live_tenant, not_visible, require_tenant

MAX_SALES = 10_000  # rows per call, as a fleet claim; also the batch of one query
MAX_IMPORT = 200_000  # rows of one operator import (one transaction)
CSV_MEDIA = "text/csv"
CSV_COLUMNS = ("device_id", "imei", "sold_on", "territory")


@dataclass(frozen=True, slots=True)
class SalesReport:
    """What a report did. `registered` counts the rows whose sale now stands as given
    (new, corrected, or already so: repeating a report answers the same)."""

    registered: int
    refused: list[RowRefused] = field(default_factory=list)
    lines: dict[int, int] = field(default_factory=dict)  # row index -> CSV line
    committed: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"registered": self.registered,
                "refused": [{"index": r.index, "reason": r.reason} for r in self.refused]}


@dataclass(frozen=True, slots=True)
class RegisteredSale:
    """A device's registered sale as support sees it in an appeal case."""

    device_id: str
    retailer_id: str
    retailer: str  # the retailer tenant's name
    sold_on: str
    territory: str
    licensed: bool
    registered_at: int

    def as_json(self) -> dict[str, Any]:
        return {"retailer_id": self.retailer_id, "retailer": self.retailer,
                "sold_on": self.sold_on, "territory": self.territory,
                "licensed": self.licensed, "registered_at": self.registered_at}


def registered_sale(tx: Tx, device_id: str) -> RegisteredSale | None:
    """The device's registered sale with its retailer's name (evidence in a case)."""
    row = tx.retail.sales([device_id]).get(device_id) if is_device_id(device_id) else None
    if row is None:
        return None
    tenant = tx.tenants.get(row.tenant_id)
    return RegisteredSale(row.device_id, row.tenant_id, tenant.name if tenant else "",
                          row.sold_on, row.territory, row.licensed, row.registered_at)


def sale_input(tx: Tx, device_id: str) -> Sale | None:
    """The policy's input: the device's registered sale, if any. A sale stays registered
    when its retailer is later disabled or loses its licence: the buyer bought it then."""
    row = tx.retail.sales([device_id]).get(device_id)
    return None if row is None else Sale(row.tenant_id, row.sold_on, row.territory,
                                         row.licensed)


def _batches(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i:i + MAX_SALES] for i in range(0, len(items), MAX_SALES)]


def read_csv(text: str, limit: int = MAX_SALES) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows of a sales CSV (header `device_id,imei,sold_on,territory`; either of the
    first two per row; other columns ignored) as JSON-like rows, with their lines."""
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="_extra")
    try:
        header = [name.strip().lower() for name in reader.fieldnames or ()]
        reader.fieldnames = header
        missing = [c for c in ("sold_on", "territory") if c not in header]
        if missing or not ({"device_id", "imei"} & set(header)):
            raise Malformed("The CSV needs a header line with the columns device_id (or "
                            "imei), sold_on and territory.")
        rows: list[dict[str, Any]] = []
        lines: list[int] = []
        for raw in reader:
            if len(rows) >= limit + 1:
                break
            rows.append({c: v.strip() for c in CSV_COLUMNS
                         if isinstance(v := raw.get(c), str) and v.strip()})
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise Malformed(f"The CSV cannot be read (line {reader.line_num}): {exc}.") from exc
    return rows, lines


def read_body(media: str, body: bytes) -> tuple[list[Any], list[int]]:
    """The rows of a request body: JSON `{"sales": [...]}` or, as `text/csv`, a CSV."""
    if media == CSV_MEDIA:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise Malformed("The CSV must be UTF-8 text.") from exc
        return read_csv(text)
    try:
        doc = jsonread.read_json_object(body)
    except jsonread.JsonRejected as exc:
        raise Malformed(f"The body must be a JSON object: {exc}.") from exc
    sales = doc.get("sales")
    if not isinstance(sales, list):
        raise Malformed("The body needs 'sales': a list of {device_id or imei, sold_on, "
                        "territory}.")
    return sales, []


@dataclass(frozen=True, slots=True)
class _Checked:
    accepted: list[tuple[RetailSaleRow, RetailSaleRow | None]]  # new sale, the one replaced
    unchanged: int
    refused: list[RowRefused]


def check_rows(tx: Tx, tenant_id: str, raws: Sequence[Any], now: int) -> _Checked:
    """Every row checked against the store in a few batched queries; nothing written."""
    latest = latest_sale_date(now)
    refused: list[RowRefused] = []
    rows: list[SaleRow] = []
    for index, raw in enumerate(raws):
        checked = read_row(index, raw, latest, normalise_territory)
        if isinstance(checked, RowRefused):
            refused.append(checked)
        else:
            rows.append(checked)
    imeis: dict[str, str] = {}
    for batch in _batches([r.imei for r in rows if r.imei is not None]):
        imeis.update(tx.devices.existing_imeis(batch))
    device_of = {r.index: (r.device_id if r.device_id is not None
                           else imeis.get(r.imei or "")) for r in rows}
    known = [d for d in dict.fromkeys(device_of.values()) if d is not None]
    assigned: set[str] = set()
    current: dict[str, RetailSaleRow] = {}
    for batch in _batches(known):
        assigned |= tx.tenants.assigned(tenant_id, batch)
        current.update(tx.retail.sales(batch))
    licenses = tx.retail.licenses(tenant_id)
    accepted: list[tuple[RetailSaleRow, RetailSaleRow | None]] = []
    seen: set[str] = set()
    unchanged = 0
    for row in rows:
        device_id = device_of[row.index]
        prior = current.get(device_id) if device_id is not None else None
        if (device_id is None or device_id not in assigned
                or (prior is not None and prior.tenant_id != tenant_id)):
            refused.append(RowRefused(row.index, NOT_REGISTRABLE))
            continue
        if device_id in seen:
            refused.append(RowRefused(row.index, DUPLICATE))
            continue
        seen.add(device_id)
        sale = RetailSaleRow(device_id, tenant_id, row.sold_on.isoformat(), row.territory,
                             licensed_on(licenses, row.territory, row.sold_on), now)
        if prior is not None and (prior.sold_on, prior.territory, prior.licensed) == (
                sale.sold_on, sale.territory, sale.licensed):
            unchanged += 1
        else:
            accepted.append((sale, prior))
    return _Checked(accepted, unchanged, sorted(refused, key=lambda r: r.index))


def write_sales(tx: Tx, accepted: list[tuple[RetailSaleRow, RetailSaleRow | None]],
                actor: str, now: int) -> None:
    """Store the sales and one audit event per device (ids and codes only)."""
    for start in range(0, len(accepted), MAX_SALES):
        part = accepted[start:start + MAX_SALES]
        tx.retail.put_many([sale for sale, _ in part])
        tx.audit.record_many("retail.sale_registered", actor, now, [
            (f"device:{sale.device_id}", {
                "tenant": sale.tenant_id, "sold_on": sale.sold_on,
                "territory": sale.territory, "licensed": sale.licensed,
                "replaced": None if prior is None else {"sold_on": prior.sold_on,
                                                        "territory": prior.territory}})
            for sale, prior in part])


class RetailSales:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def register(self, key: str | None, media: str, body: bytes) -> SalesReport:
        """A retailer's report: the valid rows are registered, the others refused by
        index (0-based; for CSV, among the data rows after the header)."""

        def work(tx: Tx) -> SalesReport:
            tenant = require_tenant(tx, key, "retailer")
            raws, _ = read_body(media, body)
            if len(raws) > MAX_SALES:
                raise TooLarge(f"At most {MAX_SALES:,} sales per call; split the report.")
            now = self.clock.now()
            checked = check_rows(tx, tenant.tenant_id, raws, now)
            write_sales(tx, checked.accepted, tenant.actor, now)
            return SalesReport(len(checked.accepted) + checked.unchanged, checked.refused)

        return self.uow.run(work)

    def show(self, key: str | None, device_id: str) -> dict[str, Any]:
        """The retailer's own sale of the device; any other answers `404` alike."""
        with self.uow(readonly=True) as tx:
            tenant = require_tenant(tx, key, "retailer")
            found = tx.retail.sales([device_id]) if is_device_id(device_id) else {}
            row = found.get(device_id)
            if row is None or row.tenant_id != tenant.tenant_id:
                raise not_visible(device_id)
            return {"device_id": row.device_id, "sold_on": row.sold_on,
                    "territory": row.territory, "licensed": row.licensed,
                    "registered_at": row.registered_at}

    def import_csv(self, tenant_id: str, text: str) -> SalesReport:
        """The operator's import for a retailer: all or nothing. Any refused row leaves
        the store as it was; the report names each by CSV line."""
        raws, lines = read_csv(text, MAX_IMPORT)
        if len(raws) > MAX_IMPORT:
            raise InvalidInput(f"at most {MAX_IMPORT:,} sales per import; split the file")

        def work(tx: Tx) -> SalesReport:
            tenant = self._retailer(tx, tenant_id)
            now = self.clock.now()
            checked = check_rows(tx, tenant.tenant_id, raws, now)
            line_of = dict(enumerate(lines))
            if checked.refused:
                return SalesReport(0, checked.refused, line_of, committed=False)
            write_sales(tx, checked.accepted, "operator", now)
            return SalesReport(len(checked.accepted) + checked.unchanged, [], line_of)

        return self.uow.run(work)

    @staticmethod
    def _retailer(tx: Tx, tenant_id: str) -> TenantRow:
        tenant = live_tenant(tx, tenant_id)
        if tenant.kind != "retailer":
            raise InvalidInput(f"tenant {tenant_id} is a {tenant.kind}, not a retailer")
        return tenant
