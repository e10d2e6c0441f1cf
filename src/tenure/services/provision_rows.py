"""Reading a provisioning file in chunks and checking each chunk's rows.

This is the part of an import that needs no database: splitting the file at line ends,
parsing CSV or JSONL, validating every row and parsing its public key. `check_chunk`
is a plain function of a picklable `Chunk`, so the importer can run it in worker
processes, several chunks at once (docs/decisions/0016-parallel-import.md); without a
pool it runs in the importer's own process, with the same results.

Line numbers are the file's: lines end at LF, CRLF or a lone CR (as Python's universal
newlines count them), and the reader counts the lines before each chunk. A CSV record
may span lines inside quotes, which a split at a line end could cut; quotes are rare in
factory files (base64 keys, plain ids), so the reader splits bytes only while it has
seen none, and from the first quote on parses the CSV itself and hands out parsed rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from tenure.crypto.keys import KeyError_, public_key_type_der
from tenure.domain.errors import InvalidInput
from tenure.domain.jsonread import JsonRejected, read_json
from tenure.domain.provisioning import FIELDS, validate_row

CHUNK_BYTES = 1 << 20  # a worker's share of the file at a time (about 8 000 rows)
ROWS_PER_CHUNK = 8_000  # rows per chunk once the reader parses the CSV itself
_BOM = b"\xef\xbb\xbf"

Fields = dict[str, str]
# (line, device_id, imeis, model, sku, market, key_type, DER) of a row that passed
ValidRow = tuple[int, str, tuple[str, ...], str, str, str, str, bytes]


@dataclass(frozen=True, slots=True)
class Chunk:
    """Whole lines of the file (`data`, the first of them line `offset` + 1), or rows
    the reader already parsed (`rows`: (line, fields) or (line, problem)); `size`:
    the bytes of the file it covers (for progress)."""

    fmt: str
    header: tuple[str, ...] = ()
    data: bytes = b""
    offset: int = 0
    rows: tuple[tuple[int, Fields | str], ...] = ()
    size: int = 0


@dataclass(slots=True)
class CheckedChunk:
    size: int = 0  # bytes of the file
    rows: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, problem)
    valid: list[ValidRow] = field(default_factory=list)
    fatal: str | None = None  # the file cannot be read at all (not UTF-8, broken CSV)


def detect_format(name: str, head: bytes) -> str:
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    return "jsonl" if head.lstrip()[:1] == b"{" else "csv"


def check_chunk(chunk: Chunk) -> CheckedChunk:
    """Every row of the chunk judged on its own: problems by line, or the row with its
    key's type and DER. Duplicates and the store are the importer's business."""
    out = CheckedChunk(size=chunk.size)
    try:
        for line, fields in _parse(chunk):
            out.rows += 1
            if isinstance(fields, str):
                out.errors.append((line, fields))
                continue
            row, problems = validate_row(fields)
            if row is not None:
                try:
                    key_type, der = public_key_type_der(row.public_key)
                except KeyError_ as exc:
                    problems.append(str(exc))
                else:
                    out.valid.append((line, row.device_id, row.imeis, row.model, row.sku,
                                      row.market, key_type, der))
                    continue
            out.errors.append((line, "; ".join(problems)))
    except UnicodeDecodeError as exc:
        out.fatal = _not_utf8(exc)
    except csv.Error as exc:
        out.fatal = f"the CSV cannot be read: {exc}"
    return out


def _not_utf8(exc: UnicodeDecodeError) -> str:
    return f"the file is not UTF-8 text ({exc.reason})"


def _parse(chunk: Chunk) -> Iterator[tuple[int, Fields | str]]:
    if chunk.rows:
        yield from chunk.rows
        return
    text = io.StringIO(chunk.data.decode("utf-8"), newline="")
    if chunk.fmt == "csv":
        yield from _csv_rows(csv.reader(text), chunk.header, chunk.offset)
        return
    for number, line in enumerate(text, start=chunk.offset + 1):
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


def _csv_rows(reader: Iterator[list[str]], header: tuple[str, ...], offset: int
              ) -> Iterator[tuple[int, Fields | str]]:
    width = len(header)
    for values in reader:
        if not "".join(values).strip():  # a blank line, or only separators and spaces
            continue
        line = offset + reader.line_num  # type: ignore[attr-defined]
        if len(values) != width:
            yield line, f"{len(values)} fields, the header has {width}"
            continue
        yield line, dict(zip(header, values, strict=True))


def _lines(data: bytes) -> int:
    """Line ends in `data` as universal newlines count them (CRLF is one)."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def _check_header(values: list[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    header = tuple(h.strip() for h in values)
    missing = [f for f in FIELDS if f not in header]
    if missing:
        raise InvalidInput(f"line 1: the CSV header lacks {', '.join(missing)}; "
                           f"expected {','.join(FIELDS)}")
    return header


class _Blocks:
    """The stream read in blocks, with what is left of the last one kept."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self.stream = stream
        self.size = size
        self.buffer = b""
        self.ended = False

    def fill(self, wanted: int) -> None:
        while not self.ended and len(self.buffer) < wanted:
            block = self.stream.read(max(self.size, wanted - len(self.buffer)))
            if not block:
                self.ended = True
            self.buffer += block

    def take_lines(self) -> bytes:
        """About `size` bytes of whole lines (the rest of the file at its end)."""
        self.fill(self.size)
        cut = self.buffer.rfind(b"\n", 0, self.size) + 1
        while not cut:
            cut = self.buffer.find(b"\n") + 1
            if cut or self.ended:
                cut = cut or len(self.buffer)
                break
            self.fill(len(self.buffer) + self.size)
        data, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return data

    def rest(self) -> _Chained:
        """What remains of the file, from the kept bytes on."""
        return _Chained(self.buffer, self.stream)


class _Chained(io.RawIOBase):
    def __init__(self, head: bytes, tail: IO[bytes]) -> None:
        self.head = head
        self.tail = tail
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            self.consumed += n
            return n
        data = self.tail.read(len(buffer))
        buffer[: len(data)] = data
        self.consumed += len(data)
        return len(data)


def chunks(stream: IO[bytes], fmt: str, size: int | None = None) -> Iterator[Chunk]:
    """The file as chunks of about `size` bytes (CHUNK_BYTES) for check_chunk, in
    order. Raises InvalidInput for a file that cannot be read at all (a bad CSV
    header, not UTF-8 before the first row)."""
    blocks = _Blocks(stream, size or CHUNK_BYTES)
    blocks.fill(len(_BOM))
    if blocks.buffer.startswith(_BOM):
        blocks.buffer = blocks.buffer[len(_BOM):]
    header: tuple[str, ...] = ()
    offset = 0
    if fmt == "csv":
        first = _first_line(blocks)
        if b'"' in first:  # a quoted header: the reader parses the whole file
            blocks.buffer = first + blocks.buffer
            yield from _parsed_csv(blocks.rest(), None, 0)
            return
        try:
            parsed = _check_header(next(csv.reader([first.decode("utf-8")]), None))
        except UnicodeDecodeError as exc:
            raise InvalidInput(_not_utf8(exc)) from exc
        except csv.Error as exc:
            raise InvalidInput(f"the CSV cannot be read: {exc}") from exc
        if parsed is None:
            return
        header, offset = parsed, _lines(first) or 1
    while True:
        data = blocks.take_lines()
        if not data:
            return
        if fmt == "csv" and b'"' in data:
            blocks.buffer = data + blocks.buffer
            yield from _parsed_csv(blocks.rest(), header, offset)
            return
        yield Chunk(fmt, header, data, offset, size=len(data))
        offset += _lines(data)


def _first_line(blocks: _Blocks) -> bytes:
    """The first line with its line end (CR, LF or CRLF), taken from the blocks."""
    blocks.fill(blocks.size)
    while True:
        ends = [i for i in (blocks.buffer.find(b"\r"), blocks.buffer.find(b"\n")) if i >= 0]
        if ends or blocks.ended:
            break
        blocks.fill(len(blocks.buffer) + blocks.size)
    cut = min(ends) + 1 if ends else len(blocks.buffer)
    if blocks.buffer[cut - 1:cut] == b"\r":
        blocks.fill(cut + 1)
        if blocks.buffer[cut:cut + 1] == b"\n":
            cut += 1
    first, blocks.buffer = blocks.buffer[:cut], blocks.buffer[cut:]
    return first


def _parsed_csv(rest: _Chained, header: tuple[str, ...] | None, offset: int
                ) -> Iterator[Chunk]:
    """The CSV from here on parsed by the reader itself (quotes may span lines)."""
    text = io.TextIOWrapper(rest, encoding="utf-8", newline="")  # type: ignore[type-var]
    reader = csv.reader(text)
    given = 0
    rows_per_chunk = ROWS_PER_CHUNK

    def chunk(rows: list[tuple[int, Fields | str]]) -> Chunk:
        nonlocal given
        size, given = rest.consumed - given, rest.consumed
        return Chunk("csv", header or (), rows=tuple(rows), size=size)

    try:
        if header is None:
            header = _check_header(next(reader, None))
            if header is None:
                return
        rows: list[tuple[int, Fields | str]] = []
        for line, fields in _csv_rows(reader, header, offset):
            rows.append((line, fields))
            if len(rows) >= rows_per_chunk:
                yield chunk(rows)
                rows = []
        if rows:
            yield chunk(rows)
    except UnicodeDecodeError as exc:
        raise InvalidInput(_not_utf8(exc)) from exc
    except csv.Error as exc:
        raise InvalidInput(f"the CSV cannot be read: {exc}") from exc
