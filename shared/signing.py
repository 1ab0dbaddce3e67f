"""Ed25519 keys of the emitting instances: generated on first start, kept in the data directory,
and published on the AUDIT stream so any service or auditor can check any signature."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.envelope import UnknownCanonicalization, b64, sha256_hex, unb64, unsigned_bytes


def key_id(public_raw: bytes) -> str:
    return sha256_hex(public_raw)[:24]


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @cached_property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @cached_property
    def key_id(self) -> str:
        return key_id(self.public_raw)

    def sign(self, envelope: dict[str, Any]) -> str:
        return self.sign_bytes(unsigned_bytes(envelope))

    def sign_bytes(self, unsigned: bytes) -> str:
        """The signature of an envelope's unsigned canonical bytes."""
        return b64(self.private.sign(unsigned))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """The key at ``path``; created (mode 0600) if missing. Several processes may start at
        once: the key appears atomically (hard link of a complete file) and the first wins."""
        if not path.exists():
            key = cls.generate()
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            pem = key.private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process won; use its key
            finally:
                tmp.unlink()
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(loaded)


class Keyring:
    """Public keys by key id."""

    def __init__(self) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}

    def add(self, public_raw: bytes) -> str:
        kid = key_id(public_raw)
        self._keys[kid] = Ed25519PublicKey.from_public_bytes(public_raw)
        return kid

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def verify(self, envelope: dict[str, Any]) -> str | None:
        """None if the signature is good, else the reason it is not."""
        kid = envelope.get("keyid")
        signature = envelope.get("signature")
        if not isinstance(kid, str) or not isinstance(signature, str):
            return "unsigned"
        public = self._keys.get(kid)
        if public is None:
            return f"unknown signing key {kid}"
        try:
            signed = unsigned_bytes(envelope)
        except UnknownCanonicalization as exc:
            return str(exc)
        except ValueError:  # not expressible in RFC 8785 (a number beyond 2^53, ...)
            return "bad signature"
        try:
            public.verify(unb64(signature), signed)
        except (InvalidSignature, ValueError):
            return "bad signature"
        return None
