"""The import read in chunks by worker processes: the same answers as one process.

The chunk size is made tiny here, so that a file of twenty rows spans many chunks
and every rule that crosses chunks (line numbers, duplicates, quoted fields over
several lines, the all-or-nothing outcome) is exercised by a real process pool.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tenure.agent.device import luhn_digit
from tenure.bootstrap import Services
from tenure.cli.main import main
from tenure.domain.errors import InvalidInput
from tenure.services import provision_rows
from tenure.services.provision import ImportReport
from tenure.store import tables as t

from .helpers import count, rows

HEADER = "device_id,imei,model,sku,market,public_key"
ED = base64.b64encode(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
P256_PEM = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def imei(n: int) -> str:
    body = f"35{n:012d}"
    return body + luhn_digit(body)


def good(n: int) -> str:
    return f"PAR-{n:04d},{imei(n)},Phone X,PX-1,DE,{ED}"


@pytest.fixture(scope="module")
def pool() -> Iterator[Executor]:
    # spawn: the test process may have threads, which forked children must not inherit
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as workers:
        yield workers


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provision_rows, "CHUNK_BYTES", 300)  # two or three rows a chunk
    monkeypatch.setattr(provision_rows, "ROWS_PER_CHUNK", 2)


def run(runtime: Services, data: bytes, pool: Executor | None, fmt: str = "csv",
        skip_invalid: bool = False) -> ImportReport:
    return runtime.importer.run(io.BytesIO(data), fmt, actor="test", skip_invalid=skip_invalid,
                                pool=pool, workers=2)


def record_lines(text: str) -> list[int]:
    """The line each CSV record ends on, as Python's csv module counts (the reference)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    return [reader.line_num for values in reader if any(v.strip() for v in values)]


def mixed_file() -> tuple[str, dict[int, str]]:
    """Twenty rows, bad ones spread over later chunks: (text, {record index: problem})."""
    lines = [HEADER] + [good(n) for n in range(20)]
    wrong = imei(6)[:-1] + str((int(imei(6)[-1]) + 1) % 10)
    lines[6] = f"PAR-0006,{wrong},Phone X,PX-1,DE,{ED}"            # bad Luhn digit
    lines[9] = good(2).replace(imei(2), imei(90))                # device_id of line 3 again
    lines[14] = good(95).replace(imei(95), imei(3))              # IMEI of line 4 again
    lines[17] = f"PAR-0017,{imei(17)},Phone X,PX-1,DE,bm90IGEga2V5"  # not a key
    lines[19] = f"PAR-0019,{imei(19)},Phone X"                   # three fields
    problems = {6: "invalid IMEI", 9: "device_id PAR-0002 appears twice in the file",
                14: f"IMEI {imei(3)} appears twice in the file", 17: "public_key",
                19: "3 fields, the header has 6"}
    # Line ends of every kind, and a blank line: all count as Python counts them.
    text = "\r\n".join(lines[:8]) + "\n\n" + "\n".join(lines[8:15]) + "\r" + \
        "\r\n".join(lines[15:]) + "\n"
    return text, problems


def test_bad_rows_in_later_chunks_are_reported_by_their_true_line(
        runtime: Services, pool: Executor) -> None:
    text, problems = mixed_file()
    report = run(runtime, text.encode(), pool)
    ends = record_lines(text)
    assert not report.committed and report.imported == 0 and report.rows == 20
    assert [line for line, _ in report.errors] == [ends[i - 1] for i in sorted(problems)]
    assert report.errors[1] == (ends[8], problems[9])  # with the blank line before it
    for (_, problem), expected in zip(report.errors, [problems[i] for i in sorted(problems)],
                                      strict=True):
        assert expected in problem
    assert count(runtime, t.devices) == 0

    skipped = run(runtime, text.encode(), pool, skip_invalid=True)
    assert skipped.committed and (skipped.imported, skipped.invalid) == (15, 5)
    assert count(runtime, t.devices) == 15 and count(runtime, t.device_imeis) == 15
    # lines[k] was good(k - 1); the five replaced rows are the bad ones
    assert {r.device_id for r in rows(runtime, t.devices)} == {
        f"PAR-{n:04d}" for n in range(20) if n not in (5, 8, 13, 16, 18)}


def test_workers_and_one_process_give_the_same_report(runtime: Services,
                                                      pool: Executor) -> None:
    text, _ = mixed_file()
    in_pool = run(runtime, text.encode(), pool)
    alone = run(runtime, text.encode(), None)
    assert in_pool.as_json() == alone.as_json()
    assert not in_pool.committed


def test_a_quoted_field_over_several_lines_in_a_later_chunk(runtime: Services,
                                                           pool: Executor) -> None:
    """A PEM key in quotes spans five lines: from there on the reader parses the CSV
    itself; rows after it keep their numbers and import."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER.split(","))
    for n in range(12):
        key = P256_PEM if n == 6 else ED
        writer.writerow([f"PAR-{n:04d}", imei(n) if n != 10 else "123", "Phone X", "PX-1",
                         "DE", key])
    text = out.getvalue()
    report = run(runtime, text.encode(), pool)
    assert [line for line, _ in report.errors] == [record_lines(text)[10]]
    assert report.errors[0][0] == 12 + P256_PEM.count("\n")
    both = run(runtime, text.encode(), pool, skip_invalid=True)
    assert both.committed and both.imported == 11
    [pem] = [r for r in rows(runtime, t.devices) if r.device_id == "PAR-0006"]
    assert pem.key_type == "P-256"


def test_jsonl_in_chunks(runtime: Services, pool: Executor) -> None:
    lines = [json.dumps({"device_id": f"PAR-{n:04d}", "imei": [imei(n)], "model": "Phone X",
                         "sku": "PX-1", "market": "DE", "public_key": ED}) for n in range(15)]
    lines[11] = "{broken"
    report = run(runtime, ("\n".join(lines) + "\n").encode(), pool, "jsonl")
    assert [line for line, _ in report.errors] == [12] and report.rows == 15
    assert not report.committed and count(runtime, t.devices) == 0


def test_a_file_that_stops_being_utf8_imports_nothing(runtime: Services,
                                                      pool: Executor) -> None:
    lines = [HEADER] + [good(n) for n in range(15)]
    data = "\n".join(lines[:12]).encode() + b"\n\xff\xfe\n" + "\n".join(lines[12:]).encode()
    with pytest.raises(InvalidInput, match="not UTF-8"):
        run(runtime, data, pool)
    assert count(runtime, t.devices) == 0


def test_the_cli_imports_with_workers_and_reports_lines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        database_url: str) -> None:
    for name in ("TENURE_CONFIG", "TENURE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TENURE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("TENURE_DATABASE_URL", database_url)
    text, problems = mixed_file()
    path = tmp_path / "fleet.csv"
    path.write_text(text, newline="")
    assert main(["provision", "import", str(path), "--workers", "2"]) == 1
    err = capsys.readouterr().err
    ends = record_lines(text)
    for index, problem in problems.items():
        assert f"fleet.csv:{ends[index - 1]}: " in err and problem in err
    assert "nothing was imported" in err
    assert main(["provision", "import", str(path), "--workers", "2", "--skip-invalid"]) == 0
    assert "imported 15 devices" in capsys.readouterr().out
