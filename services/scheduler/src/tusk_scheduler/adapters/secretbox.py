"""Sealing secret values at rest: AES-256-GCM, the secret's name as associated data."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

from tusk_common.errors import Corrupted, PreconditionFailed


def key_bytes(text: str) -> bytes:
    """32 key bytes from `TUSK_SECRET_KEY`: base64 or hex of 32 bytes, else the SHA-256 of the text."""
    raw = text.strip()
    for decode in (_b64, _hex):
        key = decode(raw)
        if key is not None and len(key) == 32:
            return key
    return hashlib.sha256(raw.encode()).digest()


def _b64(raw: str) -> bytes | None:
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_" if "-" in raw or "_" in raw else None,
                                validate=True)  # fmt: skip
    except (binascii.Error, ValueError):
        return None


def _hex(raw: str) -> bytes | None:
    try:
        return bytes.fromhex(raw)
    except ValueError:
        return None


class SecretBox:
    """Seals and opens `{key: value}` maps; without a key it refuses to store secrets."""

    def __init__(self, key: SecretStr | None) -> None:
        self._aead = AESGCM(key_bytes(key.get_secret_value())) if key is not None else None

    @property
    def enabled(self) -> bool:
        return self._aead is not None

    def _require(self) -> AESGCM:
        if self._aead is None:
            raise PreconditionFailed(
                "secrets need a key: set TUSK_SECRET_KEY on the scheduler (`tusk up` generates one)"
            )
        return self._aead

    def seal(self, name: str, values: dict[str, str]) -> tuple[bytes, bytes]:
        nonce = os.urandom(12)
        plain = json.dumps(values, sort_keys=True).encode()
        return nonce, self._require().encrypt(nonce, plain, name.encode())

    def open(self, name: str, nonce: bytes, sealed: bytes) -> dict[str, str]:
        try:
            plain = self._require().decrypt(nonce, sealed, name.encode())
        except InvalidTag:
            raise Corrupted(
                f"secret {name!r} cannot be opened: TUSK_SECRET_KEY is not the key it was sealed with",
                secret=name,
            ) from None
        values: dict[str, str] = json.loads(plain)
        return values
