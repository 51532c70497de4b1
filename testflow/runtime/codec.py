"""Payload encryption: every payload testflow sends to Temporal is AES-GCM encrypted.

Flows carry secrets (tokens, passwords) in their context; Temporal must never store them in
clear (ARCHITECTURE.md section 4, rule 7). The codec encrypts whole payloads with the first
key and decrypts with any known key (the key id travels in the payload metadata), so keys can
be rotated: add the new key first, keep the old ones until no history needs them.

Large payloads are compressed before they are encrypted (a run's input and result, the state
a long run carries across continue-as-new, pages of progress events): they are JSON with the
same keys over and over, 11-16x smaller compressed (a 2,000-step result, a page of events).
Temporal rejects payloads over 2 MB; what is still that large after compression (a flow of
hundreds of thousands of steps, a huge context) is kept, encrypted, in the artifact store
and Temporal holds a reference (:func:`large_payload_storage`, the SDK's external storage).
A long run's step records go to the store in pages anyway (testflow.activities.records).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ExternalStorage,
    PayloadCodec,
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
)

from testflow.dsl.results import ArtifactRef
from testflow.runtime.artifacts import flush_writes, read_artifact

ENCODING = b"binary/encrypted"
_NONCE = 12
COMPRESSION = "compression"
"""Metadata key of an encrypted payload whose plaintext was compressed (value: ``zlib``)."""
COMPRESS_FROM = 16 * 1024
"""Payloads at least this large (serialised) are compressed before encryption. Small enough
that a page of progress events or a result of a few hundred steps is; large enough that a
step's own input and outcome (a few KB, previews included) are not."""
EXTERNAL_FROM = 1024 * 1024
"""Encoded payloads at least this large go to the artifact store (Temporal rejects 2 MB,
ARCHITECTURE.md section 4). Not lower: a payload under it travels as before, so a deployment
whose API and workers do not share a store loses nothing that worked."""


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

    def __init__(self, keys: EncryptionKeys, *, compress_from: int = COMPRESS_FROM) -> None:
        self.keys = keys
        self.compress_from = compress_from

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encode(payload) for payload in payloads]

    def _encode(self, payload: Payload) -> Payload:
        data = payload.SerializeToString()
        metadata = {"encoding": ENCODING}
        if len(data) >= self.compress_from:
            # Level 1: 11.5x on a 2,000-step result where level 6 gets 13.6x, in 60% of its time.
            packed = zlib.compress(data, 1)
            if len(packed) < len(data):
                data, metadata[COMPRESSION] = packed, b"zlib"
        key_id, blob = self.keys.encrypt(data)
        metadata["encryption-key-id"] = key_id.encode()
        return Payload(metadata=metadata, data=blob)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(_decode_all(self.keys, payloads))


def _decode_all(keys: EncryptionKeys, payloads: Iterable[Payload]) -> Iterable[Payload]:
    for payload in payloads:
        if payload.metadata.get("encoding") != ENCODING:
            yield payload
            continue
        key_id = payload.metadata.get("encryption-key-id", b"").decode()
        data = keys.decrypt(key_id, payload.data)
        compression = payload.metadata.get(COMPRESSION)
        if compression == b"zlib":
            data = zlib.decompress(data)
        elif compression is not None:
            raise ValueError(f"payload compressed with unknown method {compression!r}")
        decoded = Payload()
        decoded.ParseFromString(data)
        yield decoded


class ArtifactPayloadDriver(StorageDriver):
    """Keeps payloads too large for Temporal in the artifact store (a claim check).

    The payloads arrive encoded (encrypted by :class:`EncryptionCodec`), so the store holds
    ciphertext. Every process that decodes them needs the same store: the local directory on
    one machine, or ``TESTFLOW_ARTIFACTS_S3_URL`` for distributed workers and the API.
    """

    def __init__(self, store: Any) -> None:
        self.artifacts = store  # a LocalArtifactStore or S3ArtifactStore (put_bytes, S3: read)

    def name(self) -> str:
        return "testflow-artifacts"

    async def store(
        self, context: StorageDriverStoreContext, payloads: Sequence[Payload]
    ) -> list[StorageDriverClaim]:
        owner = getattr(context.target, "id", None) or "payloads"
        return await asyncio.to_thread(self._put, owner, payloads)

    def _put(self, owner: str, payloads: Sequence[Payload]) -> list[StorageDriverClaim]:
        claims = []
        for payload in payloads:
            data = payload.SerializeToString()
            name = f"payload-{hashlib.sha256(data).hexdigest()[:32]}.bin"
            ref = self.artifacts.put_bytes(owner, name, data)
            claims.append(StorageDriverClaim({"uri": ref.uri, "size": str(ref.size)}))
        # Temporal records the reference next: the bytes must be on disk first.
        flush_writes()
        return claims

    async def retrieve(
        self, context: StorageDriverRetrieveContext, claims: Sequence[StorageDriverClaim]
    ) -> list[Payload]:
        return await asyncio.to_thread(self._get, claims)

    def _get(self, claims: Sequence[StorageDriverClaim]) -> list[Payload]:
        out = []
        for claim in claims:
            uri = claim.claim_data["uri"]
            ref = ArtifactRef(
                name=uri.rsplit("/", 1)[-1], uri=uri, size=int(claim.claim_data["size"])
            )
            data = self.artifacts.read(ref) if uri.startswith("s3://") else read_artifact(ref)
            if data is None:
                raise RuntimeError(
                    f"payload {uri} is not in the artifact store: this process must use the "
                    "store of the worker that wrote it (TESTFLOW_ARTIFACTS_DIR or _S3_URL)"
                )
            payload = Payload()
            payload.ParseFromString(data)
            out.append(payload)
        return out


def large_payload_storage(store: Any, *, threshold: int = EXTERNAL_FROM) -> ExternalStorage:
    """External storage for the data converter: payloads from ``threshold`` bytes up."""
    return ExternalStorage(drivers=[ArtifactPayloadDriver(store)], payload_size_threshold=threshold)
