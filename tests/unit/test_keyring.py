"""The server key ring: private keys on disk, rotation without breaking devices, the JWKS.

Uses pytest's tmp_path (a local directory, no database): the ring *is* files, and
their permissions are part of the behaviour an operator relies on.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tenure.crypto.jws import parse_compact, sign_compact
from tenure.crypto.keyring import KeyRing, KeyRingError, key_type_named
from tenure.crypto.keys import verifying_key_from_jwk


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "var" / "keys"


@pytest.fixture
def ring(keys_dir: Path) -> KeyRing:
    """An Ed25519 ring, as every ring made before ES256 became the default."""
    return KeyRing.create(keys_dir, "Ed25519")


def signed_by(ring: KeyRing) -> str:
    return sign_compact({"kid": ring.active.kid}, {"sub": "SN-0001"}, ring.active.key)


def test_create_writes_owner_only_files(ring: KeyRing, keys_dir: Path) -> None:
    """Private keys and the nonce secret are readable by the server's user alone."""
    assert mode(keys_dir) == 0o700
    names = {path.name for path in keys_dir.iterdir()}
    assert {"ring.json", "nonce.secret", f"{ring.active.kid}.pem"} <= names
    for path in keys_dir.iterdir():
        assert mode(path) == 0o600, path.name


def test_create_refuses_to_overwrite_an_existing_ring(ring: KeyRing, keys_dir: Path) -> None:
    """Re-running init must not destroy the keys devices in the field have pinned."""
    with pytest.raises(KeyRingError):
        KeyRing.create(keys_dir)
    assert KeyRing.load(keys_dir).active.kid == ring.active.kid


def test_load_round_trip(ring: KeyRing, keys_dir: Path) -> None:
    """Another replica (or a restart) signs and verifies with the same keys."""
    loaded = KeyRing.load(keys_dir)
    assert loaded.active.kid == ring.active.kid
    assert loaded.nonce_secret == ring.nonce_secret
    assert len(loaded.nonce_secret) >= 32
    assert loaded.jwks() == ring.jwks()
    key = loaded.verifying_key(ring.active.kid)
    assert key is not None
    assert parse_compact(signed_by(ring)).verify_with(key)


def test_load_of_missing_ring_names_the_command(tmp_path: Path) -> None:
    """An operator who forgot to initialise is told what to run."""
    with pytest.raises(KeyRingError, match="tenure"):
        KeyRing.load(tmp_path / "nowhere")


def test_rotate_signs_with_new_key_and_keeps_old_verifying(ring: KeyRing, keys_dir: Path) -> None:
    """Devices that pinned the old key still accept records until it is retired."""
    old_kid, old_token = ring.active.kid, signed_by(ring)
    rotated = ring.rotate()
    assert rotated.active.kid != old_kid
    assert rotated.active.key.key_type == "Ed25519"  # a rotation keeps the ring's type
    assert {k["kid"] for k in rotated.jwks()["keys"]} == {old_kid, rotated.active.kid}
    old_key = rotated.verifying_key(old_kid)
    assert old_key is not None and parse_compact(old_token).verify_with(old_key)
    # The rotation is on disk, for the other replicas.
    reloaded = KeyRing.load(keys_dir)
    assert reloaded.active.kid == rotated.active.kid
    assert reloaded.verifying_key(old_kid) is not None
    assert mode(keys_dir / f"{rotated.active.kid}.pem") == 0o600


def test_retire_removes_key_from_jwks_and_verification(ring: KeyRing, keys_dir: Path) -> None:
    old_kid, old_token = ring.active.kid, signed_by(ring)
    retired = ring.rotate().retire(old_kid)
    assert old_kid not in {k["kid"] for k in retired.jwks()["keys"]}
    assert retired.verifying_key(old_kid) is None
    reloaded = KeyRing.load(keys_dir)
    assert old_kid not in {k["kid"] for k in reloaded.jwks()["keys"]}
    assert reloaded.verifying_key(old_kid) is None
    new_key = reloaded.verifying_key(reloaded.active.kid)
    assert new_key is not None and not parse_compact(old_token).verify_with(new_key)


def test_retiring_the_active_key_is_refused(ring: KeyRing, keys_dir: Path) -> None:
    """Retiring the only signing key would leave the server unable to answer devices."""
    with pytest.raises(KeyRingError, match="rotate"):
        ring.retire(ring.active.kid)
    assert KeyRing.load(keys_dir).active.kid == ring.active.kid


def test_retiring_an_unknown_key_is_refused(ring: KeyRing) -> None:
    with pytest.raises(KeyRingError, match="no-such-kid"):
        ring.retire("no-such-kid")


@pytest.mark.parametrize("readable", ["pem", "nonce.secret", "ring.json"])
@pytest.mark.parametrize("file_mode", [0o644, 0o640, 0o604])
def test_load_refuses_files_readable_by_others(
    ring: KeyRing, keys_dir: Path, readable: str, file_mode: int,
) -> None:
    """A key readable by other users is compromised; the error says how to fix it."""
    path = keys_dir / (f"{ring.active.kid}.pem" if readable == "pem" else readable)
    path.chmod(file_mode)
    with pytest.raises(KeyRingError, match="chmod") as info:
        KeyRing.load(keys_dir)
    assert str(path) in str(info.value)


def test_load_reports_a_damaged_ring(ring: KeyRing, keys_dir: Path) -> None:
    """A truncated ring.json gives a KeyRingError, not a stack trace from json."""
    (keys_dir / "ring.json").write_text("{")
    (keys_dir / "ring.json").chmod(0o600)
    with pytest.raises(KeyRingError, match="damaged"):
        KeyRing.load(keys_dir)


def test_jwks_entries_for_ed25519(ring: KeyRing) -> None:
    """The JWKS devices pin at build time, in RFC 8037 form."""
    (entry,) = ring.jwks()["keys"]
    assert set(entry) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (entry["kty"], entry["crv"], entry["alg"], entry["use"]) == (
        "OKP", "Ed25519", "Ed25519", "sig")
    assert entry["kid"] == ring.active.kid
    assert parse_compact(signed_by(ring)).verify_with(verifying_key_from_jwk(entry))


def test_jwks_entries_for_p256_after_rotation(ring: KeyRing) -> None:
    """A P-256 key is published with `y` and alg ES256, and verifies from the JWK alone."""
    rotated = ring.rotate("P-256")
    by_kid = {entry["kid"]: entry for entry in rotated.jwks()["keys"]}
    entry = by_kid[rotated.active.kid]
    assert set(entry) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (entry["kty"], entry["crv"], entry["alg"], entry["use"]) == (
        "EC", "P-256", "ES256", "sig")
    assert "y" not in by_kid[ring.active.kid]
    assert parse_compact(signed_by(rotated)).verify_with(verifying_key_from_jwk(entry))


def test_jwks_holds_no_private_material(ring: KeyRing) -> None:
    """The JWKS is public; the private scalar `d` must never be in it."""
    rotated = ring.rotate("P-256")
    text = json.dumps(rotated.jwks())
    assert '"d"' not in text


# -- ES256 by default, publishing ahead of use, rotation across types (decision 0010) ----


def test_new_rings_sign_es256_by_default(keys_dir: Path) -> None:
    """A fresh ring signs what every JOSE library verifies: ES256 with a P-256 key."""
    ring = KeyRing.create(keys_dir)
    (entry,) = ring.jwks()["keys"]
    assert (entry["kty"], entry["crv"], entry["alg"]) == ("EC", "P-256", "ES256")
    assert parse_compact(signed_by(ring)).header["alg"] == "ES256"
    assert ring.integrator_key is ring.active
    assert KeyRing.load(keys_dir).active.key.key_type == "P-256"


@pytest.mark.parametrize(("name", "key_type"), [
    ("ES256", "P-256"), ("es256", "P-256"), ("P-256", "P-256"),
    ("Ed25519", "Ed25519"), ("EdDSA", "Ed25519")])
def test_key_type_names(name: str, key_type: str) -> None:
    assert key_type_named(name) == key_type


def test_unknown_key_type_name_is_refused() -> None:
    with pytest.raises(KeyRingError, match="ES256 or Ed25519"):
        key_type_named("RS256")


def test_published_key_is_in_jwks_but_does_not_sign_records(ring: KeyRing, keys_dir: Path
                                                             ) -> None:
    """Devices made from now on can pin the new key while records keep the old one,
    which the fleet in the field pinned."""
    old_kid = ring.active.kid
    added = ring.add("P-256")
    new = added.keys[-1]
    assert (new.state, new.key.key_type) == ("published", "P-256")
    assert added.active.kid == old_kid
    assert {k["kid"] for k in added.jwks()["keys"]} == {old_kid, new.kid}
    assert added.verifying_key(new.kid) is not None
    reloaded = KeyRing.load(keys_dir)
    assert reloaded.active.kid == old_kid
    assert [k.state for k in reloaded.keys] == ["active", "published"]


def test_ed25519_ring_signs_third_party_tokens_with_its_published_p256_key(ring: KeyRing
                                                                         ) -> None:
    """Statements and webhooks go to PyJWT and Authlib, which cannot verify `Ed25519`:
    once a P-256 key is published, it signs them, without touching what devices verify."""
    assert ring.integrator_key is ring.active  # nothing better yet
    added = ring.add("P-256").add("P-256")
    assert added.integrator_key is added.keys[-1]
    assert added.integrator_key.key.alg == "ES256"
    assert added.active.key.key_type == "Ed25519"
    assert added.retire(added.keys[-1].kid).integrator_key.kid == added.keys[1].kid


def test_activate_switches_signing_across_types(ring: KeyRing, keys_dir: Path) -> None:
    """After the fleet pinned the published key, it signs; the Ed25519 key keeps verifying
    (records it signed stay valid until they expire) until retired."""
    old_kid, old_token = ring.active.kid, signed_by(ring)
    added = ring.add("P-256")
    activated = added.activate(added.keys[-1].kid)
    assert activated.active.kid == added.keys[-1].kid
    assert parse_compact(signed_by(activated)).header["alg"] == "ES256"
    old = activated.verifying_key(old_kid)
    assert old is not None and parse_compact(old_token).verify_with(old)
    assert {k.kid: k.state for k in KeyRing.load(keys_dir).keys} == {
        old_kid: "verifying", activated.active.kid: "active"}
    # ... and back, if devices must return to the Ed25519 key
    back = activated.activate(old_kid)
    assert back.active.kid == old_kid
    assert back.integrator_key.kid == old_kid  # a demoted P-256 key no longer signs


def test_activate_refuses_retired_and_unknown_keys(ring: KeyRing) -> None:
    old_kid = ring.active.kid
    rotated = ring.rotate().retire(old_kid)
    with pytest.raises(KeyRingError, match="retired"):
        rotated.activate(old_kid)
    with pytest.raises(KeyRingError, match="no key nope"):
        rotated.activate("nope")
    assert rotated.activate(rotated.active.kid).active.kid == rotated.active.kid


def test_rotate_across_types(ring: KeyRing) -> None:
    rotated = ring.rotate("P-256")
    assert rotated.active.key.alg == "ES256"
    assert rotated.rotate().active.key.alg == "ES256"


def test_load_refuses_an_unknown_state(ring: KeyRing, keys_dir: Path) -> None:
    """A typo in ring.json must not leave a key half-trusted."""
    meta = json.loads((keys_dir / "ring.json").read_text())
    meta["keys"][0]["state"] = "actve"
    (keys_dir / "ring.json").write_text(json.dumps(meta))
    with pytest.raises(KeyRingError, match="actve"):
        KeyRing.load(keys_dir)


def test_pyjwt_keeps_every_es256_key_of_the_jwks(ring: KeyRing) -> None:
    """PyJWT drops JWKS entries it cannot use, silently; the ES256 keys a verifier needs
    must survive it with their kid and algorithm (Ed25519 ones it drops: decision 0010)."""
    jwt = pytest.importorskip("jwt")
    ring = ring.add("P-256").rotate("P-256")
    es_kids = {k.kid for k in ring.keys if k.key.key_type == "P-256"}
    kept = jwt.PyJWKSet.from_dict(ring.jwks()).keys
    assert {k.key_id for k in kept} == es_kids
    assert {k.algorithm_name for k in kept} == {"ES256"}
    token = sign_compact({"kid": ring.active.kid}, {"sub": "SN-0001"}, ring.active.key)
    key = jwt.PyJWKSet.from_dict(ring.jwks())[ring.active.kid]
    assert jwt.decode(token, key, algorithms=["ES256"]) == {"sub": "SN-0001"}

class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_loaded_ring_follows_a_rotation_on_disk(ring: KeyRing, keys_dir: Path) -> None:
    """A running server (a ring loaded once) signs with the key `tenure keys rotate` made
    in another process, after the next check, without being restarted."""
    ticks = Ticks()
    serving = KeyRing.load(keys_dir)
    serving._monotonic = ticks  # the check interval runs on this clock
    serving._checked = ticks.now
    old = serving.active.kid
    rotated = KeyRing.load(keys_dir, follow=False).rotate()  # as `tenure keys rotate` does
    ticks.now += 1.0
    assert serving.active.kid == old  # checked at most once per interval: no stat yet
    ticks.now += 1.5
    assert serving.active.kid == rotated.active.kid
    assert {k["kid"] for k in serving.jwks()["keys"]} == {old, rotated.active.kid}
    assert serving.verifying_key(old) is not None

    KeyRing.load(keys_dir, follow=False).retire(old)
    ticks.now += 3
    assert serving.verifying_key(old) is None
    assert [k["kid"] for k in serving.jwks()["keys"]] == [rotated.active.kid]


def test_a_damaged_ring_on_disk_keeps_the_keys_in_use(ring: KeyRing, keys_dir: Path) -> None:
    """A half-copied ring.json must not take signing down: the old ring stays until a
    readable one appears."""
    serving = KeyRing.load(keys_dir, check_seconds=0)
    kid = serving.active.kid
    (keys_dir / "ring.json").write_text("{not json")
    (keys_dir / "ring.json").chmod(0o600)
    assert serving.active.kid == kid
    ring._save()  # a readable ring again (same keys)
    assert serving.active.kid == kid and len(serving.keys) == 1


def test_a_ring_made_in_memory_does_not_read_the_disk(ring: KeyRing, keys_dir: Path) -> None:
    """Only `load` follows the directory: the ring `rotate` returns is what it says."""
    kid = ring.active.kid
    KeyRing.load(keys_dir, follow=False).rotate()
    assert ring.active.kid == kid
