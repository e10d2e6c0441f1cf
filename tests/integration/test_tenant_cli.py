"""`tenure tenant ...` and `tenure apikey create --tenant` as an operator runs them:
one readable line per failure, all-or-nothing assignment files with every bad line and
unknown id reported, progress and a summary."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tenure.agent.device import random_imei
from tenure.cli.main import main
from tenure.crypto.keys import SigningKey


@pytest.fixture
def tenure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> tuple[Path, pytest.MonkeyPatch]:
    for name in ("TENURE_DATABASE_URL", "TENURE_CONFIG", "TENURE_WEBHOOK_ALLOW_INSECURE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TENURE_DATA_DIR", str(tmp_path / "var"))
    return tmp_path, monkeypatch


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def provision(tmp: Path, capsys: pytest.CaptureFixture[str], *ids: str) -> None:
    """Rows as a factory writes them, imported with `tenure provision import`."""
    rows = [",".join((device_id, random_imei(), "Tenure Phone 1", "TP1-128-BLK", "global",
                      base64.b64encode(SigningKey.generate().public().spki_der()).decode()))
            for device_id in ids]
    header = "device_id,imei,model,sku,market,public_key"
    (tmp / "devices.csv").write_text("\n".join([header, *rows]) + "\n")
    assert run(capsys, "provision", "import", str(tmp / "devices.csv"))[0] == 0


def test_create_key_assign_disable(tenure: tuple[Path, pytest.MonkeyPatch],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    tmp, env = tenure
    provision(tmp, capsys, "CLI-1", "CLI-2")
    code, out, err = run(capsys, "tenant", "create", "--kind", "organization",
                         "--name", "Acme Fleet", "--contact", "it@acme.example")
    tenant = out.strip()
    assert code == 0 and f"--tenant {tenant}" in err
    assert f"{tenant}\torganization\tlive\tAcme Fleet" in run(capsys, "tenant", "list")[1]
    assert "contact:     it@acme.example" in run(capsys, "tenant", "show", tenant)[1]

    code, _, err = run(capsys, "apikey", "create", "--role", "organization")
    assert code == 1 and "--tenant" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "apikey", "create", "--role", "creditor", "--tenant", tenant)
    assert code == 1 and "kind 'creditor'" in err
    code, out, _ = run(capsys, "apikey", "create", "--role", "organization", "--tenant", tenant)
    assert code == 0 and out.startswith("tnr_")

    (tmp / "bad.txt").write_text("CLI-1\nnot a device id\n")
    code, _, err = run(capsys, "tenant", "assign", tenant, str(tmp / "bad.txt"))
    assert code == 1 and "bad.txt:2: not a device id" in err and "nothing was assigned" in err
    (tmp / "sales.txt").write_text("# order 7\nCLI-1\n\nCLI-2\nNOT-MADE\n")
    code, out, err = run(capsys, "tenant", "assign", tenant, str(tmp / "sales.txt"))
    assert code == 1 and "unknown device NOT-MADE" in err and "nothing was assigned" in err
    code, out, err = run(capsys, "tenant", "assign", tenant, str(tmp / "sales.txt"),
                         "--skip-unknown", "--progress")
    assert code == 0 and "3 of 3 device ids checked" in err
    assert out.strip() == f"assigned 2 devices to {tenant}, 0 already assigned, 1 unknown skipped"

    code, _, err = run(capsys, "tenant", "create", "--kind", "creditor", "--name", "Loans",
                       "--webhook-url", "http://127.0.0.1:9/hook")
    assert code == 1 and "TENURE_WEBHOOK_ALLOW_INSECURE" in err
    env.setenv("TENURE_WEBHOOK_ALLOW_INSECURE", "1")
    assert run(capsys, "tenant", "create", "--kind", "creditor", "--name", "Loans",
               "--webhook-url", "http://127.0.0.1:9/hook")[0] == 0

    code, out, _ = run(capsys, "tenant", "disable", tenant)
    assert code == 0 and "1 API keys revoked, 0 claims released" in out
    code, _, err = run(capsys, "tenant", "disable", tenant)
    assert code == 1 and "already disabled" in err
    assert run(capsys, "tenant", "show", "nope")[0] == 1
