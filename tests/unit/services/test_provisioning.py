"""Importing the factory's device list: whole or not at all, idempotent, checked row by row."""

from __future__ import annotations

import base64
import io

from tenure.crypto.keys import SigningKey
from tenure.services.provision import Importer

from .conftest import World

HEADER = "device_id,imei,model,sku,market,public_key\n"


def key_b64() -> str:
    return base64.b64encode(SigningKey.generate().public().spki_der()).decode()


def line(device_id: str, imei: str, key: str) -> str:
    return f"{device_id},{imei},Tenure Phone 1,TP1-128-BLK,global,{key}\n"


GOOD = [("TNR0000001", "490154203237518"), ("TNR0000002", "356938035643809")]


def csv_of(*rows: str) -> io.BytesIO:
    return io.BytesIO((HEADER + "".join(rows)).encode())


def test_a_valid_file_is_imported_and_audited(world: World) -> None:
    keys = [key_b64() for _ in GOOD]
    report = Importer(world.uow, world.clock).run(
        csv_of(*(line(d, i, k) for (d, i), k in zip(GOOD, keys, strict=True))), "csv", "test")
    assert (report.committed, report.imported, report.invalid) == (True, 2, 0)
    assert set(world.uow.state.devices) == {"TNR0000001", "TNR0000002"}
    assert world.uow.actions("provisioning") == ["devices.imported"]
    again = Importer(world.uow, world.clock).run(
        csv_of(*(line(d, i, k) for (d, i), k in zip(GOOD, keys, strict=True))), "csv", "test")
    assert (again.imported, again.unchanged) == (0, 2)


def test_one_bad_row_imports_nothing_unless_told_to_skip_it(world: World) -> None:
    rows = (line(*GOOD[0], key_b64()), line("TNR0000003", "123", key_b64()))
    report = Importer(world.uow, world.clock).run(csv_of(*rows), "csv", "test")
    assert not report.committed and report.imported == 0 and report.invalid == 1
    assert report.errors[0][0] == 3  # the line of the file
    assert world.uow.state.devices == {} and world.uow.state.audit == []
    skipped = Importer(world.uow, world.clock).run(csv_of(*rows), "csv", "test",
                                                   skip_invalid=True)
    assert skipped.committed and skipped.imported == 1
    assert set(world.uow.state.devices) == {"TNR0000001"}


def test_a_device_already_provisioned_with_other_data_is_an_error(world: World) -> None:
    Importer(world.uow, world.clock).run(csv_of(line(*GOOD[0], key_b64())), "csv", "test")
    report = Importer(world.uow, world.clock).run(
        csv_of(line(*GOOD[0], key_b64())), "csv", "test")
    assert not report.committed and "different data" in report.errors[0][1]


def test_an_imei_may_belong_to_one_device_only(world: World) -> None:
    imei = GOOD[0][1]
    report = Importer(world.uow, world.clock).run(
        csv_of(line("TNR0000001", imei, key_b64()), line("TNR0000002", imei, key_b64())),
        "csv", "test")
    assert not report.committed and "appears twice" in report.errors[0][1]
    Importer(world.uow, world.clock).run(csv_of(line("TNR0000001", imei, key_b64())), "csv",
                                         "test")
    clash = Importer(world.uow, world.clock).run(
        csv_of(line("TNR0000002", imei, key_b64())), "csv", "test")
    assert "already belongs to device TNR0000001" in clash.errors[0][1]
