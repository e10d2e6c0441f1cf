"""Importing the factory's device list (CSV or JSONL), all or nothing.

Every row is validated; the file is imported whole or not at all (unless told to skip
invalid rows), so a factory never has to work out which half of a file went in.
Importing the same rows again changes nothing. Rows are checked against the store and
staged in chunks outside the shared write path (memory stays flat for files of
millions of rows, and device traffic is not held up while they are read), then
switched in with one short transaction (store/staging.py).
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from tenure.clock import Clock
from tenure.crypto.keys import KeyError_, load_public_key_der
from tenure.domain.errors import ImportAborted, InvalidInput
from tenure.domain.jsonread import JsonRejected, read_json
from tenure.domain.provisioning import FIELDS, ProvisioningRow, validate_row

from .ports import ImportStaging, Tx, UnitOfWork

BATCH = 5_000
MAX_REPORTED = 1_000


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    unchanged: int = 0
    invalid: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, problem)
    committed: bool = False
    seconds: float = 0.0
    switch_in_seconds: float = 0.0  # how long the import held the shared write path

    def add_error(self, line: int, problem: str) -> None:
        self.invalid += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append((line, problem))

    def as_json(self) -> dict[str, object]:
        return {
            "rows": self.rows, "imported": self.imported, "unchanged": self.unchanged,
            "invalid": self.invalid, "committed": self.committed,
            "errors": [{"line": line, "problem": p} for line, p in self.errors],
            "errors_truncated": self.invalid > len(self.errors),
        }




def detect_format(name: str, head: bytes) -> str:
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    return "jsonl" if head.lstrip()[:1] == b"{" else "csv"


def read_rows(stream: IO[bytes], fmt: str) -> Iterator[tuple[int, dict[str, str] | str]]:
    """Yield (line number, fields) or (line number, problem) for each data line."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        if fmt == "csv":
            reader = csv.reader(text)
            header = next(reader, None)
            if header is None:
                return
            header = [h.strip() for h in header]
            missing = [f for f in FIELDS if f not in header]
            if missing:
                raise InvalidInput(f"line 1: the CSV header lacks {', '.join(missing)}; "
                                   f"expected {','.join(FIELDS)}")
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    yield reader.line_num, f"{len(values)} fields, the header has {len(header)}"
                    continue
                yield reader.line_num, dict(zip(header, values, strict=True))
        else:
            for number, line in enumerate(text, start=1):
                if not line.strip():
                    continue
                try:
                    # The one reader with depth and number limits: a hostile row is a
                    # bad row reported by line, not a crash of the whole import.
                    value = read_json(line)
                except JsonRejected as exc:
                    yield number, str(exc)
                    continue
                if not isinstance(value, dict):
                    yield number, "not a JSON object"
                    continue
                if isinstance(value.get("imei"), list):
                    value["imei"] = ";".join(str(v) for v in value["imei"])
                yield number, {k: "" if v is None else str(v) for k, v in value.items()}
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the file is not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise InvalidInput(f"the CSV cannot be read: {exc}") from exc


class Importer:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def run(self, stream: IO[bytes], fmt: str, actor: str, skip_invalid: bool = False,
            source: str = "", progress: Callable[[ImportReport], None] | None = None
            ) -> ImportReport:
        report = ImportReport()
        started = time.perf_counter()
        digest = hashlib.sha256()
        hashed: IO[bytes] = _HashingReader(stream, digest)  # type: ignore[assignment]

        def finish(tx: Tx) -> None:
            tx.audit.record("provisioning", "devices.imported", actor=actor,
                            at=self.clock.now(), source=source, sha256=digest.hexdigest(),
                            rows=report.rows, imported=report.imported,
                            unchanged=report.unchanged, skipped=report.invalid)

        try:
            with self.uow.staging() as staging:
                self._import(staging, read_rows(hashed, fmt), report, progress,
                             skip_invalid)
                if report.invalid and not skip_invalid:
                    raise ImportAborted
                switching = time.perf_counter()
                staging.switch_in(finish)
                report.switch_in_seconds = time.perf_counter() - switching
                report.committed = True
        except ImportAborted:
            report.imported = 0
        report.seconds = time.perf_counter() - started
        return report

    def _import(self, staging: ImportStaging,
                rows: Iterator[tuple[int, dict[str, str] | str]],
                report: ImportReport, progress: Callable[[ImportReport], None] | None,
                skip_invalid: bool) -> None:
        seen_ids: set[str] = set()
        seen_imeis: set[str] = set()
        batch: list[tuple[int, ProvisioningRow, str, bytes]] = []
        for line, fields in rows:
            report.rows += 1
            if isinstance(fields, str):
                report.add_error(line, fields)
                continue
            row, problems = validate_row(fields)
            key = der = None
            if row is not None:
                try:
                    key, der = load_public_key_der(row.public_key)
                except KeyError_ as exc:
                    problems.append(str(exc))
            if row is not None and not problems:
                if row.device_id in seen_ids:
                    problems.append(f"device_id {row.device_id} appears twice in the file")
                dup = [i for i in row.imeis if i in seen_imeis]
                if dup:
                    problems.append(f"IMEI {dup[0]} appears twice in the file")
            if problems or row is None or key is None or der is None:
                report.add_error(line, "; ".join(problems))
                continue
            seen_ids.add(row.device_id)
            seen_imeis.update(row.imeis)
            batch.append((line, row, key.key_type, der))
            if len(batch) >= BATCH:
                self._flush(staging, batch, report, skip_invalid)
                if progress:
                    progress(report)
        self._flush(staging, batch, report, skip_invalid)
        if progress:
            progress(report)

    def _flush(self, staging: ImportStaging,
               batch: list[tuple[int, ProvisioningRow, str, bytes]],
               report: ImportReport, skip_invalid: bool) -> None:
        """Check a chunk against the store and stage its new rows, in one short
        transaction that holds up no one. Once a row is invalid and the file is not to
        be imported in part, rows are still checked (to report them) but not staged."""
        if not batch:
            return
        with staging.chunk() as tx:
            self._check_and_stage(staging, tx, batch, report, skip_invalid)
        batch.clear()

    def _check_and_stage(self, staging: ImportStaging, tx: Tx,
                         batch: list[tuple[int, ProvisioningRow, str, bytes]],
                         report: ImportReport, skip_invalid: bool) -> None:
        now = self.clock.now()
        stored = tx.devices.existing_ids([row.device_id for _, row, _, _ in batch])
        taken = tx.devices.existing_imeis([i for _, row, _, _ in batch for i in row.imeis])
        devices: list[tuple[object, ...]] = []
        imeis: list[tuple[str, str]] = []
        for line, row, key_type, der in batch:
            if row.device_id in stored:
                if stored[row.device_id] == (row.model, row.sku, row.market, der,
                                             tuple(sorted(row.imeis))):
                    report.unchanged += 1
                else:
                    report.add_error(line, f"device_id {row.device_id} is already provisioned "
                                           "with different data")
                continue
            clash = [i for i in row.imeis if i in taken]
            if clash:
                report.add_error(line, f"IMEI {clash[0]} already belongs to device "
                                       f"{taken[clash[0]]}")
                continue
            devices.append((row.device_id, row.model, row.sku, row.market, key_type, der, now))
            imeis.extend((i, row.device_id) for i in row.imeis)
        if skip_invalid or not report.invalid:
            staging.add(devices, imeis)
        report.imported += len(devices)


class _HashingReader(io.RawIOBase):
    """Passes bytes through while hashing them, for the audit record of the file."""

    def __init__(self, inner: IO[bytes], digest: hashlib._Hash) -> None:
        self.inner = inner
        self.digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        self.digest.update(data)
        buffer[: len(data)] = data
        return len(data)
