"""The server key ring: signing keys on disk (0600), rotation, and the JWKS devices pin.

Layout under `<data dir>/keys/`: `ring.json` (kids, types, states, which one signs),
one `<kid>.pem` per key, and `nonce.secret` (the MAC key of stateless nonces).
Replicas share these files; rotation adds a key that signs from then on, while the
older keys stay published (devices in the field pinned them) until retired.

New rings sign with ES256 (P-256), which every common JOSE library verifies out of the
box; Ed25519 rings keep working, and a P-256 key can be *published* in one of them
ahead of use, so devices can pin it before it signs their records (and it signs, at
once, the tokens third parties verify): docs/decisions/0010-es256-server-keys.md.

A ring read with `KeyRing.load` follows later changes to its directory: at most once per
`RELOAD_CHECK_SECONDS` it compares the identity of `ring.json` (inode, size, mtime; a
`stat`, no read) with the one it loaded, and re-reads the ring when it differs. So a
`tenure keys rotate`, `activate` or `retire` reaches running servers within seconds,
without a restart; a ring that cannot be read at that moment (damaged, half-copied) is
ignored and the keys in use are kept until a readable one appears.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenure.domain.errors import KeyRingError as KeyRingError  # re-exported

from .keys import KeyType, SigningKey, VerifyingKey

# What a key does, by state. "active": signs (one key; `integrator_key` says which key
# signs third parties' tokens); "published": in the JWKS ahead of use, signs nothing a
# device verifies; "verifying": a former active key kept for devices that pinned it;
# "retired": gone from the JWKS and from verification.
STATES = ("active", "published", "verifying", "retired")

# New rings: ES256 verifies in every JOSE library integrators use; `Ed25519` (RFC 9864)
# is still unknown to PyJWT and Authlib (decision 0010).
DEFAULT_KEY_TYPE: KeyType = "P-256"

# Names an operator may give: the JWS alg or the curve.
_KEY_TYPE_NAMES: dict[str, KeyType] = {
    "es256": "P-256", "p-256": "P-256", "p256": "P-256",
    "ed25519": "Ed25519", "eddsa": "Ed25519",
}


def key_type_named(name: str) -> KeyType:
    """`ES256`/`P-256` or `Ed25519`/`EdDSA` (any case) as the ring's key type."""
    try:
        return _KEY_TYPE_NAMES[name.strip().lower()]
    except KeyError:
        raise KeyRingError(f"unknown key algorithm {name!r}: use ES256 or Ed25519") from None


@dataclass(frozen=True)
class RingKey:
    kid: str
    key: SigningKey
    state: str  # one of STATES
    created: int


def _demoted(state: str) -> str:
    """What a key becomes when another key is made active."""
    return "verifying" if state == "active" else state


def write_secret_file(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, never briefly world-readable."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


RELOAD_CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class _View:
    """One consistent reading of the ring, swapped as a whole on reload (no lock: a
    request sees either the old ring or the new one, never a mix)."""

    keys: list[RingKey]
    active: RingKey
    verifying: dict[str, VerifyingKey]
    integrator_key: RingKey

    @classmethod
    def of(cls, directory: Path, keys: list[RingKey]) -> _View:
        active = [k for k in keys if k.state == "active"]
        if len(active) != 1:
            raise KeyRingError(f"{directory}: the ring must have exactly one active key")
        return cls(keys, active[0],
                   {k.kid: k.key.public() for k in keys if k.state != "retired"},
                   _integrator_key(keys, active[0]))


def _integrator_key(keys: list[RingKey], active: RingKey) -> RingKey:
    """The key for tokens that third parties verify with stock JOSE libraries (public
    status statements, webhook events) rather than devices with pinned keys: the
    active key when it is P-256, else the newest published P-256 key, so an Ed25519
    ring can serve PyJWT and Authlib before its devices pin the new key."""
    if active.key.key_type == "P-256":
        return active
    published = [k for k in keys if k.state == "published" and k.key.key_type == "P-256"]
    return published[-1] if published else active  # keys are kept in order made


def _stamp(directory: Path) -> tuple[int, int, int] | None:
    try:
        st = (directory / "ring.json").stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class KeyRing:
    def __init__(self, directory: Path, keys: list[RingKey], nonce_secret: bytes, *,
                 follow: bool = False, check_seconds: float = RELOAD_CHECK_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.directory = directory
        self.nonce_secret = nonce_secret
        self._view = _View.of(directory, keys)
        self._follow = follow
        self._check_seconds = check_seconds
        self._monotonic = monotonic
        self._stamp = _stamp(directory) if follow else None
        self._checked = monotonic()

    @property
    def keys(self) -> list[RingKey]:
        return self._current().keys

    @property
    def active(self) -> RingKey:
        return self._current().active

    @property
    def integrator_key(self) -> RingKey:
        return self._current().integrator_key

    def _current(self) -> _View:
        """The ring as it is on disk, checked at most every `check_seconds`."""
        if not self._follow:
            return self._view
        now = self._monotonic()
        if now - self._checked < self._check_seconds:
            return self._view
        self._checked = now
        stamp = _stamp(self.directory)
        if stamp is not None and stamp != self._stamp:
            try:
                fresh = KeyRing.load(self.directory, follow=False)
            except KeyRingError:
                return self._view  # mid-copy or damaged: keep signing with what works
            self._view, self._stamp = fresh._view, stamp
        return self._view

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def exists(cls, directory: Path) -> bool:
        return (directory / "ring.json").exists()

    @classmethod
    def create(cls, directory: Path, key_type: KeyType = DEFAULT_KEY_TYPE) -> KeyRing:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        if cls.exists(directory):
            raise KeyRingError(f"{directory} already holds a key ring")
        write_secret_file(directory / "nonce.secret", secrets.token_bytes(32))
        ring = cls._with_new_key(directory, [], key_type)
        return ring

    @classmethod
    def load(cls, directory: Path, follow: bool = True,
             check_seconds: float = RELOAD_CHECK_SECONDS) -> KeyRing:
        """Read the ring; with `follow`, it re-reads itself when the files change."""
        stamp = _stamp(directory)
        try:
            meta = json.loads((directory / "ring.json").read_text())
            keys = [
                RingKey(
                    entry["kid"],
                    SigningKey.from_pem((directory / f"{entry['kid']}.pem").read_bytes()),
                    entry["state"],
                    entry["created"],
                )
                for entry in meta["keys"]
            ]
            if unknown := {k.state for k in keys} - set(STATES):
                raise ValueError(f"unknown key state {sorted(unknown)[0]!r}")
            nonce_secret = (directory / "nonce.secret").read_bytes()
        except FileNotFoundError as exc:
            raise KeyRingError(
                f"no key ring at {directory}: run `tenure init` (or `tenure keys init`)"
            ) from exc
        except (ValueError, KeyError) as exc:
            raise KeyRingError(f"the key ring at {directory} is damaged: {exc}") from exc
        for path in directory.iterdir():
            if path.stat().st_mode & 0o077:
                raise KeyRingError(f"{path} is readable by others; run: chmod 600 {path}")
        ring = cls(directory, keys, nonce_secret, follow=follow, check_seconds=check_seconds)
        ring._stamp = stamp if follow else None  # the files read, not a later write
        return ring

    @classmethod
    def load_or_create(cls, directory: Path, key_type: KeyType = DEFAULT_KEY_TYPE) -> KeyRing:
        return cls.load(directory) if cls.exists(directory) else cls.create(directory, key_type)

    # -- changes -------------------------------------------------------------------------
    @classmethod
    def _with_new_key(cls, directory: Path, keys: list[RingKey], key_type: KeyType,
                      state: str = "active") -> KeyRing:
        new = SigningKey.generate(key_type)
        kid = f"{time.strftime('%Y%m%d', time.gmtime())}-{secrets.token_hex(4)}"
        write_secret_file(directory / f"{kid}.pem", new.to_pem())
        kept = [RingKey(k.kid, k.key, _demoted(k.state) if state == "active" else k.state,
                        k.created) for k in keys]
        ring = cls(directory, [*kept, RingKey(kid, new, state, int(time.time()))],
                   (directory / "nonce.secret").read_bytes())
        ring._save()
        return ring

    def rotate(self, key_type: KeyType | None = None) -> KeyRing:
        """Make a new signing key at once (by default of the active key's type); the
        previous ones keep verifying until retired. Devices that pinned only the old
        keys refuse the new key's records: publish it first (`add`) where that matters."""
        return self._with_new_key(self.directory, self.keys, key_type or self.active.key.key_type)

    def add(self, key_type: KeyType = DEFAULT_KEY_TYPE) -> KeyRing:
        """Publish a new key without making it sign device tokens: devices built (or
        updated) from now on pin it, and `activate` switches to it once the fleet has it."""
        return self._with_new_key(self.directory, self.keys, key_type, state="published")

    def activate(self, kid: str) -> KeyRing:
        """Make a published (or former) key the signing key; the current one keeps verifying."""
        target = self._get(kid)
        if target.state == "active":
            return self
        if target.state == "retired":
            raise KeyRingError(f"{kid} is retired (no longer published); add a new key instead")
        keys = [RingKey(k.kid, k.key, "active" if k.kid == kid else _demoted(k.state), k.created)
                for k in self.keys]
        ring = KeyRing(self.directory, keys, self.nonce_secret)
        ring._save()
        return ring

    def retire(self, kid: str) -> KeyRing:
        if self._get(kid).state == "active":
            raise KeyRingError("the active key cannot be retired; rotate first")
        keys = [RingKey(k.kid, k.key, "retired" if k.kid == kid else k.state, k.created)
                for k in self.keys]
        ring = KeyRing(self.directory, keys, self.nonce_secret)
        ring._save()
        return ring

    def _get(self, kid: str) -> RingKey:
        for key in self.keys:
            if key.kid == kid:
                return key
        raise KeyRingError(f"no key {kid} in the ring")

    def _save(self) -> None:
        meta = {"keys": [{"kid": k.kid, "type": k.key.key_type, "state": k.state,
                          "created": k.created} for k in self.keys]}
        write_secret_file(self.directory / "ring.json", json.dumps(meta, indent=2).encode())

    # -- use -----------------------------------------------------------------------------
    def verifying_key(self, kid: str) -> VerifyingKey | None:
        return self._current().verifying.get(kid)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for k in self.keys:
            if k.state == "retired":
                continue
            keys.append({**k.key.public().jwk(), "kid": k.kid, "alg": k.key.alg, "use": "sig"})
        return {"keys": keys}
