"""The server key ring: signing keys on disk (0600), rotation, and the JWKS devices pin.

Layout under `<data dir>/keys/`: `ring.json` (kids, types, states, which one signs),
one `<kid>.pem` per key, and `nonce.secret` (the MAC key of stateless nonces).
Replicas share these files; rotation adds a key that signs from then on, while the
older keys stay published (devices in the field pinned them) until retired.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .keys import KeyType, SigningKey, VerifyingKey


class KeyRingError(RuntimeError):
    pass


@dataclass(frozen=True)
class RingKey:
    kid: str
    key: SigningKey
    state: str  # "active" (signs and verifies), "verifying" (verifies), "retired"
    created: int


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


class KeyRing:
    def __init__(self, directory: Path, keys: list[RingKey], nonce_secret: bytes) -> None:
        self.directory = directory
        self.keys = keys
        self.nonce_secret = nonce_secret
        active = [k for k in keys if k.state == "active"]
        if len(active) != 1:
            raise KeyRingError(f"{directory}: the ring must have exactly one active key")
        self.active = active[0]
        self._verifying = {k.kid: k.key.public() for k in keys if k.state != "retired"}

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def exists(cls, directory: Path) -> bool:
        return (directory / "ring.json").exists()

    @classmethod
    def create(cls, directory: Path, key_type: KeyType = "Ed25519") -> KeyRing:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        if cls.exists(directory):
            raise KeyRingError(f"{directory} already holds a key ring")
        write_secret_file(directory / "nonce.secret", secrets.token_bytes(32))
        ring = cls._with_new_key(directory, [], key_type)
        return ring

    @classmethod
    def load(cls, directory: Path) -> KeyRing:
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
        return cls(directory, keys, nonce_secret)

    @classmethod
    def load_or_create(cls, directory: Path) -> KeyRing:
        return cls.load(directory) if cls.exists(directory) else cls.create(directory)

    # -- changes -------------------------------------------------------------------------
    @classmethod
    def _with_new_key(cls, directory: Path, keys: list[RingKey], key_type: KeyType) -> KeyRing:
        new = SigningKey.generate(key_type)
        kid = f"{time.strftime('%Y%m%d', time.gmtime())}-{secrets.token_hex(4)}"
        write_secret_file(directory / f"{kid}.pem", new.to_pem())
        demoted = [
            RingKey(k.kid, k.key, "verifying" if k.state == "active" else k.state, k.created)
            for k in keys
        ]
        ring = cls(directory, [*demoted, RingKey(kid, new, "active", int(time.time()))],
                   (directory / "nonce.secret").read_bytes())
        ring._save()
        return ring

    def rotate(self, key_type: KeyType = "Ed25519") -> KeyRing:
        """Make a new signing key; the previous ones keep verifying until retired."""
        return self._with_new_key(self.directory, self.keys, key_type)

    def retire(self, kid: str) -> KeyRing:
        if kid == self.active.kid:
            raise KeyRingError("the active key cannot be retired; rotate first")
        if kid not in {k.kid for k in self.keys}:
            raise KeyRingError(f"no key {kid} in the ring")
        keys = [RingKey(k.kid, k.key, "retired" if k.kid == kid else k.state, k.created)
                for k in self.keys]
        ring = KeyRing(self.directory, keys, self.nonce_secret)
        ring._save()
        return ring

    def _save(self) -> None:
        meta = {"keys": [{"kid": k.kid, "type": k.key.key_type, "state": k.state,
                          "created": k.created} for k in self.keys]}
        write_secret_file(self.directory / "ring.json", json.dumps(meta, indent=2).encode())

    # -- use -----------------------------------------------------------------------------
    def verifying_key(self, kid: str) -> VerifyingKey | None:
        return self._verifying.get(kid)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for k in self.keys:
            if k.state == "retired":
                continue
            keys.append({**k.key.public().jwk(), "kid": k.kid, "alg": k.key.alg, "use": "sig"})
        return {"keys": keys}
