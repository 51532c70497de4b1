"""Payload encryption: every payload testflow sends to Temporal is AES-GCM encrypted.

Flows carry secrets (tokens, passwords) in their context; Temporal must never store them in
clear (ARCHITECTURE.md section 4, rule 7). The codec encrypts whole payloads with the first
key and decrypts with any known key (the key id travels in the payload metadata), so keys can
be rotated: add the new key first, keep the old ones until no history needs them.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
_NONCE = 12


class EncryptionKeys:
    """An ordered set of AES-256 keys by id; the first one encrypts."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        for key_id, key in keys:
            if len(key) != 32:
                raise ValueError(f"encryption key {key_id!r} must be 32 bytes (AES-256)")
        self.current_id = keys[0][0]
        self._aead = {key_id: AESGCM(key) for key_id, key in keys}

    @classmethod
    def parse(cls, text: str) -> EncryptionKeys:
        """Parse ``id:base64key,id2:base64key2``."""
        keys = []
        for item in filter(None, (part.strip() for part in text.split(","))):
            key_id, sep, encoded = item.partition(":")
            if not sep:
                raise ValueError("encryption keys look like 'id:base64key[,id:base64key]'")
            keys.append((key_id, base64.b64decode(encoded)))
        return cls(keys)

    @classmethod
    def load_or_create(cls, configured: str | None, home: Path) -> EncryptionKeys:
        """The configured keys, or a key generated once and kept in ``home/keys`` (mode 600)."""
        if configured:
            return cls.parse(configured)
        path = home / "keys" / "payload.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(f"local:{base64.b64encode(os.urandom(32)).decode()}\n")
            tmp.chmod(0o600)
            tmp.replace(path)
        return cls.parse(path.read_text().strip())

    def encrypt(self, data: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(_NONCE)
        return self.current_id, nonce + self._aead[self.current_id].encrypt(nonce, data, None)

    def decrypt(self, key_id: str, blob: bytes) -> bytes:
        aead = self._aead.get(key_id)
        if aead is None:
            raise ValueError(f"payload encrypted with unknown key id {key_id!r}")
        return aead.decrypt(blob[:_NONCE], blob[_NONCE:], None)


class EncryptionCodec(PayloadCodec):
    """Temporal payload codec: AES-GCM over the serialised payload."""

    def __init__(self, keys: EncryptionKeys) -> None:
        self.keys = keys

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            key_id, blob = self.keys.encrypt(payload.SerializeToString())
            out.append(
                Payload(
                    metadata={"encoding": ENCODING, "encryption-key-id": key_id.encode()},
                    data=blob,
                )
            )
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(_decode_all(self.keys, payloads))


def _decode_all(keys: EncryptionKeys, payloads: Iterable[Payload]) -> Iterable[Payload]:
    for payload in payloads:
        if payload.metadata.get("encoding") != ENCODING:
            yield payload
            continue
        key_id = payload.metadata.get("encryption-key-id", b"").decode()
        decoded = Payload()
        decoded.ParseFromString(keys.decrypt(key_id, payload.data))
        yield decoded
