"""The factory import (CSV and JSONL), through the service and the admin HTTP API."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from functools import cache

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.clock import FixedClock
from tenure.store import tables as t

from .helpers import (
    Device,
    assert_problem,
    audit,
    bearer,
    count,
    device_row,
    import_file,
    provisioning_csv,
    provisioning_jsonl,
    rows,
)

IMPORT = "/v1/admin/devices/import"


@cache
def rsa_public_key_b64() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return base64.b64encode(key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def p384_public_key_b64() -> str:
    key = ec.generate_private_key(ec.SECP384R1()).public_key()
    return base64.b64encode(key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def bad_luhn(imei: str) -> str:
    return imei[:-1] + str((int(imei[-1]) + 1) % 10)


@pytest.fixture
def new(client: TestClient, runtime: Services) -> Callable[..., Device]:
    """Devices that exist only at the factory so far (not provisioned)."""
    return lambda key_type="Ed25519", **kw: Device(client, runtime, key_type=key_type, **kw)


def imported_ids(runtime: Services) -> set[str]:
    return {r.device_id for r in rows(runtime, t.devices)}


# ------------------------------------------------------------------------------ good files


def test_csv_import(runtime: Services, new: Callable[..., Device], clock: FixedClock) -> None:
    ed, es = new("Ed25519"), new("P-256", imeis=2, model="Tab 2", sku="T2", market="DE")
    data = provisioning_csv([ed.row(), es.row()])
    report = import_file(runtime, data)
    assert report.as_json() == {"rows": 2, "imported": 2, "unchanged": 0, "invalid": 0,
                                "committed": True, "errors": [], "errors_truncated": False}
    stored = device_row(runtime, es.device_id)
    assert (stored.model, stored.sku, stored.market, stored.key_type) == \
        ("Tab 2", "T2", "DE", "P-256")
    assert stored.provisioned_at == clock.now() and stored.activated_at is None
    assert sorted(r.imei for r in rows(runtime, t.device_imeis,
                                       t.device_imeis.c.device_id == es.device_id)) == \
        sorted(es.imeis)
    [event] = audit(runtime, "provisioning")
    assert event.action == "devices.imported"
    assert hashlib.sha256(data).hexdigest() in event.data
    # the stored keys are the devices' keys: both can sign in
    for dev in (ed, es):
        assert dev.activate().record()["status"] == "activated"


def test_jsonl_import(runtime: Services, new: Callable[..., Device]) -> None:
    ed, es = new("Ed25519"), new("P-256", imeis=2)
    listed = {**es.row(), "imei": es.imeis}  # IMEIs as a JSON list
    data = provisioning_jsonl([ed.row(), "", listed])
    report = import_file(runtime, data, "jsonl")
    assert (report.rows, report.imported, report.invalid, report.committed) == (2, 2, 0, True)
    assert count(runtime, t.device_imeis) == 3
    assert es.activate().record()["status"] == "activated"


def test_a_pem_public_key_is_accepted(runtime: Services, new: Callable[..., Device]) -> None:
    dev = new("P-256")
    pem = dev.key.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    report = import_file(runtime, provisioning_jsonl([{**dev.row(), "public_key": pem}]),
                         "jsonl")
    assert report.imported == 1, report.as_json()
    assert dev.activate().record()["status"] == "activated"


# ------------------------------------------------------------------------------ bad rows


def mixed_csv(new: Callable[..., Device]) -> tuple[bytes, list[Device], list[int]]:
    a, b, c, d = new(), new(), new(), new("P-256", imeis=2)
    lines = [
        a.row(),                                                    # 2 good
        {**new().row(), "imei": bad_luhn(new().imeis[0])},          # 3 invalid IMEI
        {**new().row(), "public_key": "not-a-key"},                 # 4 bad key
        b.row(),                                                    # 5 good
        {**new().row(), "device_id": a.device_id},                  # 6 duplicate id
        {**c.row(), "imei": b.imeis[0]},                            # 7 duplicate IMEI
        f"{new().device_id},{new().imeis[0]},Phone",                # 8 wrong field count
        {**new().row(), "public_key": rsa_public_key_b64()},        # 9 RSA key
        {**new().row(), "public_key": p384_public_key_b64()},       # 10 P-384 key
        d.row(),                                                    # 11 good
    ]
    return provisioning_csv(lines), [a, b, d], [3, 4, 6, 7, 8, 9, 10]


def test_a_file_with_bad_rows_imports_nothing(runtime: Services,
                                              new: Callable[..., Device]) -> None:
    data, _, bad_lines = mixed_csv(new)
    report = import_file(runtime, data)
    assert not report.committed
    assert report.imported == 0
    assert report.invalid == len(bad_lines)
    assert [line for line, _ in report.errors] == bad_lines
    problems = dict(report.errors)
    assert "invalid IMEI" in problems[3]
    assert "public_key" in problems[4]
    assert "appears twice" in problems[6] and "device_id" in problems[6]
    assert "appears twice" in problems[7] and "IMEI" in problems[7]
    assert "fields" in problems[8]
    assert "RSA" in problems[9]
    assert "secp384r1" in problems[10]
    assert count(runtime, t.devices) == 0
    assert count(runtime, t.device_imeis) == 0
    assert audit(runtime) == []


def test_skip_invalid_imports_the_valid_rows(runtime: Services,
                                             new: Callable[..., Device]) -> None:
    data, good, bad_lines = mixed_csv(new)
    report = import_file(runtime, data, skip_invalid=True)
    assert report.committed
    assert (report.rows, report.imported, report.invalid) == (10, 3, len(bad_lines))
    assert [line for line, _ in report.errors] == bad_lines
    assert imported_ids(runtime) == {d.device_id for d in good}
    for dev in good:
        assert dev.activate().record()["status"] == "activated"


def test_jsonl_bad_lines_are_numbered(runtime: Services, new: Callable[..., Device]) -> None:
    data = provisioning_jsonl([new().row(), "{not json", "[1, 2]",
                               {**new().row(), "model": None}, new().row()])
    report = import_file(runtime, data, "jsonl")
    assert not report.committed
    assert [line for line, _ in report.errors] == [2, 3, 4]
    assert count(runtime, t.devices) == 0


def test_hostile_jsonl_rows_are_bad_rows_not_a_crash(runtime: Services,
                                                     new: Callable[..., Device]) -> None:
    data = provisioning_jsonl([new().row(), "[" * 5000 + "]" * 5000,
                               '{"device_id": ' + "1" * 5000 + "}", new().row()])
    report = import_file(runtime, data, "jsonl")
    assert not report.committed
    assert [line for line, _ in report.errors] == [2, 3]
    assert "nesting" in report.errors[0][1] and "digits" in report.errors[1][1]
    assert count(runtime, t.devices) == 0


def test_rows_with_control_characters_or_lone_surrogates_are_bad_rows(
        runtime: Services, new: Callable[..., Device]) -> None:
    """A lone surrogate crashed the staging insert (500) and a NUL or escape codes were
    stored; now each is a bad row reported by line, and nothing is imported."""
    data = provisioning_jsonl([new().row(), {**new().row(), "sku": "S\ud800"},
                               {**new().row(), "model": "A\x00B"},
                               {**new().row(), "model": "M\x1b[2J"}, new().row()])
    report = import_file(runtime, data, "jsonl")
    assert not report.committed
    assert [line for line, _ in report.errors] == [2, 3, 4]
    assert count(runtime, t.devices) == 0


def test_reimporting_the_same_file_changes_nothing(runtime: Services,
                                                   new: Callable[..., Device],
                                                   clock: FixedClock) -> None:
    devices = [new(), new("P-256"), new()]
    data = provisioning_csv([d.row() for d in devices])
    assert import_file(runtime, data).imported == 3
    first = rows(runtime, t.devices)
    clock.advance(60)
    again = import_file(runtime, data)
    assert (again.imported, again.unchanged, again.invalid, again.committed) == (0, 3, 0, True)
    assert rows(runtime, t.devices) == first  # not even provisioned_at moved


def test_a_known_device_id_with_another_key_is_an_error(runtime: Services,
                                                        new: Callable[..., Device]) -> None:
    dev = new()
    import_file(runtime, provisioning_csv([dev.row()]))
    impostor = new()
    fresh = new()
    data = provisioning_csv([{**impostor.row(), "device_id": dev.device_id,
                              "imei": dev.imeis[0]}, fresh.row()])
    report = import_file(runtime, data)
    assert not report.committed
    [(line, problem)] = report.errors
    assert line == 2 and "already provisioned with different data" in problem
    assert imported_ids(runtime) == {dev.device_id}
    assert device_row(runtime, dev.device_id).public_key == dev.key.public().spki_der()


def test_an_imei_of_another_device_is_an_error(runtime: Services,
                                               new: Callable[..., Device]) -> None:
    first = new()
    import_file(runtime, provisioning_csv([first.row()]))
    second = new()
    report = import_file(runtime, provisioning_csv([{**second.row(), "imei": first.imeis[0]}]))
    assert not report.committed
    [(line, problem)] = report.errors
    assert line == 2
    assert first.imeis[0] in problem and first.device_id in problem
    assert imported_ids(runtime) == {first.device_id}


def test_a_known_device_with_other_imeis_is_not_unchanged(runtime: Services,
                                                          new: Callable[..., Device]) -> None:
    dev = new()
    import_file(runtime, provisioning_csv([dev.row()]))
    other_imei = new().imeis[0]
    report = import_file(runtime, provisioning_csv([{**dev.row(), "imei": other_imei}]))
    stored = [r.imei for r in rows(runtime, t.device_imeis)]
    assert report.unchanged == 0, (report.as_json(), stored)
    assert [line for line, _ in report.errors] == [2]


def test_a_csv_without_the_header_is_refused(runtime: Services,
                                            new: Callable[..., Device]) -> None:
    from tenure.domain.errors import InvalidInput

    data = b"id,imei\r\n" + provisioning_csv([new().row()]).split(b"\r\n", 1)[1]
    with pytest.raises(InvalidInput, match="line 1"):
        import_file(runtime, data)
    assert count(runtime, t.devices) == 0


# ------------------------------------------------------------------------------ admin HTTP


@pytest.fixture
def factory_key(runtime: Services) -> str:
    return runtime.api_keys.create("factory", "test line")


def test_admin_import_with_a_factory_key(client: TestClient, runtime: Services,
                                         factory_key: str, new: Callable[..., Device]) -> None:
    devices = [new(), new("P-256", imeis=2)]
    response = client.post(IMPORT, content=provisioning_csv([d.row() for d in devices]),
                           headers={**bearer(factory_key), "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.json() == {"rows": 2, "imported": 2, "unchanged": 0, "invalid": 0,
                               "committed": True, "errors": [], "errors_truncated": False}
    assert imported_ids(runtime) == {d.device_id for d in devices}
    key_id = factory_key.removeprefix("tnr_").split("_", 1)[0]
    assert audit(runtime, "provisioning")[-1].actor == f"apikey:{key_id}"

    jsonl = [new(), new()]
    response = client.post(IMPORT, content=provisioning_jsonl([d.row() for d in jsonl]),
                           headers={**bearer(factory_key),
                                    "Content-Type": "application/x-ndjson"})
    assert response.status_code == 200 and response.json()["imported"] == 2
    # a body without a content type is recognised by its first byte
    sniffed = new()
    response = client.post(IMPORT, content=provisioning_jsonl([sniffed.row()]),
                           headers=bearer(factory_key))
    assert response.status_code == 200 and response.json()["imported"] == 1
    assert sniffed.activate().record()["status"] == "activated"


def test_admin_import_with_an_admin_key(client: TestClient, runtime: Services,
                                        new: Callable[..., Device]) -> None:
    key = runtime.api_keys.create("admin", "root")
    response = client.post(IMPORT, content=provisioning_csv([new().row()]),
                           headers={**bearer(key), "Content-Type": "text/csv"})
    assert response.status_code == 200 and response.json()["imported"] == 1


def test_admin_import_refuses_missing_wrong_and_revoked_keys(
        client: TestClient, runtime: Services, factory_key: str,
        new: Callable[..., Device]) -> None:
    data = provisioning_csv([new().row()])
    csv_type = {"Content-Type": "text/csv"}
    assert_problem(client.post(IMPORT, content=data, headers=csv_type), "unauthorized", 401)
    key_id, _, secret = factory_key.removeprefix("tnr_").partition("_")
    for wrong in (f"tnr_{key_id}_{secret[:-1]}x", "tnr_0000000000000000_x", secret, "tnr_"):
        assert_problem(client.post(IMPORT, content=data, headers={**bearer(wrong), **csv_type}),
                       "unauthorized", 401)
    policy = runtime.api_keys.create("policy", "policy team")
    assert_problem(client.post(IMPORT, content=data, headers={**bearer(policy), **csv_type}),
                   "forbidden", 403)
    assert runtime.api_keys.revoke(key_id)
    assert_problem(client.post(IMPORT, content=data,
                               headers={**bearer(factory_key), **csv_type}),
                   "unauthorized", 401)
    assert count(runtime, t.devices) == 0


def test_admin_import_of_bad_rows_is_a_422_with_line_numbers(
        client: TestClient, runtime: Services, factory_key: str,
        new: Callable[..., Device]) -> None:
    data, good, bad_lines = mixed_csv(new)
    headers = {**bearer(factory_key), "Content-Type": "text/csv"}
    response = client.post(IMPORT, content=data, headers=headers)
    body = assert_problem(response, "invalid-rows", 422)
    assert [e["line"] for e in body["errors"]] == bad_lines
    assert all(e["problem"] for e in body["errors"])
    assert (body["imported"], body["invalid"], body["committed"]) == (0, len(bad_lines), False)
    assert count(runtime, t.devices) == 0

    skipped = client.post(f"{IMPORT}?skip_invalid=true", content=data, headers=headers)
    assert skipped.status_code == 200
    assert (skipped.json()["imported"], skipped.json()["invalid"]) == (3, len(bad_lines))
    assert imported_ids(runtime) == {d.device_id for d in good}


def test_admin_import_of_an_unreadable_file_is_a_problem(client: TestClient, runtime: Services,
                                                         factory_key: str) -> None:
    headers = {**bearer(factory_key), "Content-Type": "text/csv"}
    assert_problem(client.post(IMPORT, content=b"serial,imei\r\nA,1\r\n", headers=headers),
                   "invalid-input", 422)
    assert_problem(client.post(IMPORT, content="device_id\r\n\xff\xfe".encode("latin-1"),
                               headers=headers), "invalid-input", 422)
    assert count(runtime, t.devices) == 0
