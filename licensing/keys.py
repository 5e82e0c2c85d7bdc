"""Issuer keys: the Ed25519 key pair that signs licenses, and the set of issuer public keys a server trusts.

A key is named by its *key id*: the first 16 hex digits of the SHA-256 of its raw public key. A license names
the key id of its issuer, so a server can tell a foreign license (unknown key id) from a tampered one (known key,
bad signature).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from licensing.errors import IssuerKeyError


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class IssuerKeyFiles:
    private_key: Path
    public_key: Path
    key_id: str


def generate_issuer_key(folder: Path, name: str = "issuer") -> IssuerKeyFiles:
    """Write ``<name>-key.pem`` (private, mode 0600) and ``<name>-pub.pem`` into ``folder``; refuses to overwrite."""
    folder.mkdir(parents=True, exist_ok=True)
    private_file, public_file = folder / f"{name}-key.pem", folder / f"{name}-pub.pem"
    for existing in (private_file, public_file):
        if existing.exists():
            raise IssuerKeyError(
                f"{existing} already exists: choose another --name or folder (keys are never overwritten)"
            )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public_file.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return IssuerKeyFiles(private_file, public_file, key_id(key.public_key()))


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IssuerKeyError(f"{what} {path} cannot be read: {exc.strerror or exc}") from exc


def load_private_key(path: Path) -> Ed25519PrivateKey:
    data = _read(path, "issuer private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise IssuerKeyError(f"{path} is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise IssuerKeyError(f"{path} is not an Ed25519 key (make one with `swarm-license keygen`)")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    data = _read(path, "issuer public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise IssuerKeyError(f"{path} is not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise IssuerKeyError(f"{path} is not an Ed25519 public key (the issuer's `<name>-pub.pem` from keygen)")
    return key


class TrustedIssuers(Mapping[str, Ed25519PublicKey]):
    """Issuer public keys by key id."""

    def __init__(self, keys: Iterable[Ed25519PublicKey] = ()) -> None:
        self._keys = {key_id(k): k for k in keys}

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> TrustedIssuers:
        return cls(load_public_key(Path(p)) for p in paths)

    def __getitem__(self, kid: str) -> Ed25519PublicKey:
        return self._keys[kid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)
