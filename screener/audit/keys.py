"""Ed25519 keys that sign the audit trail (through the ``cryptography`` package).

The private key stays with the programs that write the trail (``SCREENER_AUDIT_KEY``: a PEM
file readable only by them); an inspector needs only the public key. A key is named by its
``key_id``: the first 16 hex digits of the sha256 of its raw 32-byte public key, written in
every signed entry so that old entries still verify after the key is rotated.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screener.errors import InputError, Location

KEY_ENV = "SCREENER_AUDIT_KEY"
PUBLIC_KEY_ENV = "SCREENER_AUDIT_PUBLIC_KEY"


class AuditKeyError(InputError):
    """A signing or verifying key cannot be read or used."""


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:  # pragma: no cover - cryptography is a dependency
        raise AuditKeyError("signing the audit trail needs the 'cryptography' package") from None
    return serialization, ed25519


def _raw_public(public: Any) -> bytes:
    serialization, _ = _crypto()
    return bytes(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def key_id_of(public: Any) -> str:
    return hashlib.sha256(_raw_public(public)).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private: Any  # Ed25519PrivateKey

    def sign(self, message: bytes) -> str:
        return bytes(self.private.sign(message)).hex()


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    public: Any  # Ed25519PublicKey
    file: str

    def verifies(self, signature: str, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self.public.verify(bytes.fromhex(signature), message)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise AuditKeyError(
            f"cannot read the {what}: {error.strerror or error}", Location(str(path))
        ) from None


def load_signing_key(path: str | Path) -> SigningKey:
    """The Ed25519 private key in a PEM file (PKCS#8, unencrypted)."""
    p = Path(path)
    serialization, ed25519 = _crypto()
    data = _read(p, "audit signing key")
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise AuditKeyError(f"not a PEM private key: {error}", Location(str(p))) from None
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        raise AuditKeyError("not an Ed25519 private key", Location(str(p)))
    return SigningKey(key_id_of(private.public_key()), private)


def load_public_key(path: str | Path) -> PublicKey:
    """An Ed25519 public key in a PEM file (or the public half of a private key file)."""
    p = Path(path)
    serialization, ed25519 = _crypto()
    data = _read(p, "audit public key")
    if b"PRIVATE KEY" in data:
        key = load_signing_key(p)
        return PublicKey(key.key_id, key.private.public_key(), str(p))
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise AuditKeyError(f"not a PEM public key: {error}", Location(str(p))) from None
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise AuditKeyError("not an Ed25519 public key", Location(str(p)))
    return PublicKey(key_id_of(public), public, str(p))


def load_public_keys(paths: Iterable[str | Path]) -> dict[str, PublicKey]:
    keys: dict[str, PublicKey] = {}
    for path in paths:
        key = load_public_key(path)
        keys[key.key_id] = key
    return keys


def signing_key_from_env() -> SigningKey | None:
    """The key named by ``SCREENER_AUDIT_KEY``; None when it is not set. A set but unreadable
    key is an error: the trail is never written unsigned by mistake."""
    name = os.environ.get(KEY_ENV)
    if not name:
        return None
    return load_signing_key(name)


def generate(private_path: str | Path, public_path: str | Path) -> str:
    """Write a new key pair (private file mode 0600); refuses to overwrite. Returns the key id."""
    serialization, ed25519 = _crypto()
    private_path, public_path = Path(private_path), Path(public_path)
    for p in (private_path, public_path):
        if p.exists():
            raise AuditKeyError("already exists; not overwritten", Location(str(p)))
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        private_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        public_path.parent.mkdir(parents=True, exist_ok=True)
        with public_path.open("xb") as handle:
            handle.write(public)
    except OSError as error:
        raise AuditKeyError(
            f"cannot write key: {error.strerror or error}", Location(str(private_path))
        ) from None
    return key_id_of(private.public_key())
