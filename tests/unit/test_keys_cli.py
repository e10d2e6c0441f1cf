"""`tenure keys`: what an operator types to choose, publish and switch signing keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenure.cli.main import main
from tenure.crypto.keyring import KeyRing


@pytest.fixture
def keys_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("TENURE_CONFIG", "TENURE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TENURE_DATA_DIR", str(tmp_path / "var"))
    return tmp_path / "var" / "keys"


def rows(out: str) -> list[list[str]]:
    return [line.split("\t") for line in out.splitlines() if "\t" in line]


def test_init_makes_an_es256_ring_by_default(keys_dir: Path, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    assert main(["keys", "init"]) == 0
    ((kid, key_type, state, alg, signs),) = rows(capsys.readouterr().out)
    assert (key_type, state, alg) == ("P-256", "active", "ES256")
    assert signs == "records, unlock tokens, statements, webhooks"
    assert KeyRing.load(keys_dir).active.kid == kid


def test_publish_then_activate_across_types(keys_dir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The documented path from an Ed25519 ring to ES256 (operator guide)."""
    assert main(["keys", "init", "--alg", "Ed25519"]) == 0
    assert "tenure keys add --alg ES256" in capsys.readouterr().err
    assert main(["keys", "add"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    listing = rows(out)[-2:]
    assert [(r[1], r[2], r[4]) for r in listing] == [
        ("Ed25519", "active", "records, unlock tokens"),
        ("P-256", "published", "statements, webhooks")]
    new_kid = listing[1][0]
    assert main(["keys", "activate", new_kid]) == 0
    ring = KeyRing.load(keys_dir)
    assert ring.active.kid == new_kid
    assert [k.state for k in ring.keys] == ["verifying", "active"]


def test_rotate_accepts_the_older_type_option(keys_dir: Path) -> None:
    """`--type P-256` from earlier releases still works."""
    assert main(["keys", "init", "--alg", "Ed25519"]) == 0
    assert main(["keys", "rotate", "--type", "P-256"]) == 0
    assert KeyRing.load(keys_dir).active.key.alg == "ES256"
    assert main(["keys", "rotate"]) == 0  # keeps the type
    assert KeyRing.load(keys_dir).active.key.alg == "ES256"


def test_rotate_says_running_servers_follow_without_a_restart(
        keys_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "init"]) == 0
    capsys.readouterr()
    assert main(["keys", "rotate"]) == 0
    out = capsys.readouterr().out
    assert "follow the change within 2 s" in out and "no restart" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["keys", "activate"], "give the kid: tenure keys activate KID"),
    (["keys", "retire"], "give the kid: tenure keys retire KID"),
    (["keys", "activate", "nope"], "no key nope in the ring"),
])
def test_mistakes_answer_one_line(keys_dir: Path, capsys: pytest.CaptureFixture[str],
                                  argv: list[str], message: str) -> None:
    assert main(["keys", "init"]) == 0
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == f"tenure: error: {message}\n"
