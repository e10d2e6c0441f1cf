"""Importing the factory's device list (CSV or JSONL), all or nothing.

Every row is validated; the file is imported whole or not at all (unless told to skip
invalid rows), so a factory never has to work out which half of a file went in.
Importing the same rows again changes nothing. The file is read in chunks that are
parsed and checked on their own (services/provision_rows.py) — in worker processes
when the caller passes a pool, several at once — then, in file order, checked for
duplicates and against the store and staged outside the shared write path (memory
stays flat for files of millions of rows, and device traffic is not held up while
they are read), then switched in with one short transaction (store/staging.py).
"""

from __future__ import annotations

import hashlib
import io
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import IO

from tenure.clock import Clock
from tenure.domain.errors import ImportAborted, InvalidInput

from .ports import ImportStaging, Tx, UnitOfWork
from .provision_rows import CheckedChunk, Chunk, ValidRow, check_chunk, chunks, detect_format

__all__ = ["BATCH", "ImportReport", "Importer", "detect_format"]

BATCH = 5_000  # rows checked against the store and staged per short transaction
MAX_REPORTED = 1_000
AHEAD_PER_WORKER = 3  # chunks handed to each worker process ahead of the one merged


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
    switching: bool = False  # every row is checked; the switch-in is under way
    bytes_checked: int = 0  # of the file, for progress

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


def checked(jobs: Iterable[Chunk], pool: Executor | None = None,
            workers: int = 1) -> Iterator[CheckedChunk]:
    """check_chunk over the jobs, results in file order: in this process, or in the
    pool with `workers` × AHEAD_PER_WORKER chunks in flight (bounded memory)."""
    if pool is None:
        yield from map(check_chunk, jobs)
        return
    pending: deque[Future[CheckedChunk]] = deque()
    try:
        for job in jobs:
            pending.append(pool.submit(check_chunk, job))
            if len(pending) >= max(1, workers) * AHEAD_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


class Importer:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def run(self, stream: IO[bytes], fmt: str, actor: str, skip_invalid: bool = False,
            source: str = "", progress: Callable[[ImportReport], None] | None = None,
            pool: Executor | None = None, workers: int = 1) -> ImportReport:
        """`pool` (with its number of `workers`): processes that parse and check the
        chunks; without one, this process does it all."""
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
                merge = _Merge(self, staging, report, progress, skip_invalid)
                for result in checked(chunks(hashed, fmt), pool, workers):
                    merge.add(result)
                merge.flush()
                if report.invalid and not skip_invalid:
                    raise ImportAborted
                report.switching = True
                if progress:
                    progress(report)
                switching = time.perf_counter()
                staging.switch_in(finish)
                report.switch_in_seconds = time.perf_counter() - switching
                report.committed = True
        except ImportAborted:
            report.imported = 0
        report.seconds = time.perf_counter() - started
        return report


class _Merge:
    """The checked chunks in file order: duplicates within the file, then the store,
    then staging, BATCH rows at a time. Problems are reported in line order."""

    def __init__(self, importer: Importer, staging: ImportStaging, report: ImportReport,
                 progress: Callable[[ImportReport], None] | None, skip_invalid: bool) -> None:
        self.clock = importer.clock
        self.staging = staging
        self.report = report
        self.progress = progress
        self.skip_invalid = skip_invalid
        self.seen_ids: set[str] = set()
        self.seen_imeis: set[str] = set()
        self.errors: list[tuple[int, str]] = []

    def add(self, result: CheckedChunk) -> None:
        if result.fatal is not None:
            raise InvalidInput(result.fatal)
        self.report.rows += result.rows
        self.report.bytes_checked += result.size
        self.errors.extend(result.errors)
        accepted = self._unique(result.valid)
        for start in range(0, len(accepted), BATCH):
            self.flush(accepted[start:start + BATCH])
        # Every row of the chunk is judged now: its problems go out in line order.
        for line, problem in sorted(self.errors):
            self.report.add_error(line, problem)
        self.errors = []

    def _unique(self, valid: list[ValidRow]) -> list[ValidRow]:
        """The rows whose device_id and IMEIs no earlier row of the file has; a later
        copy is the bad row. Usually every row is new, which set operations tell at once."""
        seen_ids, seen_imeis = self.seen_ids, self.seen_imeis
        ids = [row[1] for row in valid]
        imeis = [i for row in valid for i in row[2]]
        if (seen_ids.isdisjoint(ids) and seen_imeis.isdisjoint(imeis)
                and len(set(ids)) == len(ids) and len(set(imeis)) == len(imeis)):
            seen_ids.update(ids)
            seen_imeis.update(imeis)
            return valid
        accepted = []
        for row in valid:
            device_id, row_imeis = row[1], row[2]
            problems = []
            if device_id in seen_ids:
                problems.append(f"device_id {device_id} appears twice in the file")
            dup = [i for i in row_imeis if i in seen_imeis]
            if dup:
                problems.append(f"IMEI {dup[0]} appears twice in the file")
            if problems:
                self.errors.append((row[0], "; ".join(problems)))
                continue
            seen_ids.add(device_id)
            seen_imeis.update(row_imeis)
            accepted.append(row)
        return accepted

    def flush(self, batch: list[ValidRow] | None = None) -> None:
        """Check a batch against the store and stage it, in one short transaction
        that holds up no one. Once a row is invalid and the file is not to be imported
        in part, rows are still checked (to report them) but not staged."""
        if batch:
            with self.staging.chunk() as tx:
                self._check_and_stage(tx, batch)
        if self.progress:
            self.progress(self.report)

    def _check_and_stage(self, tx: Tx, batch: list[ValidRow]) -> None:
        report = self.report
        now = self.clock.now()
        stored = tx.devices.existing_ids([row[1] for row in batch])
        taken = tx.devices.existing_imeis([i for row in batch for i in row[2]])
        devices: list[tuple[object, ...]] = []
        imeis: list[tuple[str, str]] = []
        for line, device_id, row_imeis, model, sku, market, key_type, der in batch:
            if stored and device_id in stored:
                if stored[device_id] == (model, sku, market, der, tuple(sorted(row_imeis))):
                    report.unchanged += 1
                else:
                    self.errors.append((line, f"device_id {device_id} is already provisioned "
                                              "with different data"))
                continue
            clash = [i for i in row_imeis if i in taken] if taken else None
            if clash:
                self.errors.append((line, f"IMEI {clash[0]} already belongs to device "
                                          f"{taken[clash[0]]}"))
                continue
            devices.append((device_id, model, sku, market, key_type, der, now))
            imeis.extend((i, device_id) for i in row_imeis)
        if self.skip_invalid or not (report.invalid or self.errors):
            self.staging.add(devices, imeis)
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
