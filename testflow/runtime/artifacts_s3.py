"""An S3 artifact store for distributed workers (``TESTFLOW_ARTIFACTS_S3_URL=s3://bucket/prefix``).

Same interface as :class:`testflow.runtime.artifacts.LocalArtifactStore`, so a worker fleet
without a shared volume keeps step details and large bodies out of Temporal's history just the
same (ARCHITECTURE.md section 2). boto3 blocks on the network: async code (the step runner, the
records activity) calls ``aput_json``/``aget_json``, which run the calls in a thread with the
store's one client (boto3 clients are thread-safe); the payload codec and the result readers
call the blocking methods from their own threads already. Objects live at ``<prefix>/<run_id>/<name>``; references are
``s3://bucket/key`` URIs that the reports read back with :func:`read_any_artifact`.

Credentials and the endpoint come from the usual AWS sources (``AWS_ACCESS_KEY_ID``,
``AWS_ENDPOINT_URL`` for MinIO/moto, profiles, instance roles); nothing is logged.

The client is botocore's: the ``s3`` extra installs aiobotocore, which is built on it (boto3 is
not installed with testflow). A process keeps one client per configuration (endpoint, region,
``AWS_*`` variables), shared by its stores and by :func:`read_any_artifact`'s readers: making
one costs ~20 ms.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from testflow.dsl.results import ArtifactRef
from testflow.runtime.artifacts import _safe


class S3ArtifactStoreError(RuntimeError):
    """The bucket is unreachable or refuses access; the message names the bucket, not secrets."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (bucket, "some/prefix")."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"an S3 artifact store URL looks like s3://bucket/prefix, got {url!r}")
    return parsed.netloc, parsed.path.strip("/")


_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


def shared_client(endpoint_url: str | None = None, region: str | None = None) -> Any:
    """The process's S3 client for this configuration (botocore clients are thread-safe)."""
    aws = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    key = (endpoint_url, region, aws)
    with _clients_lock:  # creating clients from several threads at once is not safe
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = botocore.session.get_session().create_client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                config=Config(
                    retries={"max_attempts": 5, "mode": "standard"},
                    s3={"addressing_style": "path"},
                ),
            )
        return client


class S3ArtifactStore:
    """Artifacts as objects in one bucket under a prefix."""

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        scratch: Path | None = None,
        client: Any | None = None,
    ) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        self.client = client or shared_client(endpoint_url, region)
        # Executors that need a local working directory (downloads, scratch files) still get
        # one; only what is referenced from results goes to the bucket.
        self.root = scratch or Path(tempfile.gettempdir()) / "testflow-artifacts"

    def key_for(self, run_id: str, name: str) -> str:
        parts = [p for p in (self.prefix, _safe(run_id), _safe(name)) if p]
        return "/".join(parts)

    def put_bytes(
        self, run_id: str, name: str, data: bytes, media_type: str = "application/octet-stream"
    ) -> ArtifactRef:
        key = self.key_for(run_id, name)
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=media_type)
        except ClientError as exc:
            raise S3ArtifactStoreError(
                f"cannot write s3://{self.bucket}/{key}: {_code(exc)}"
            ) from exc
        return ArtifactRef(
            name=name, uri=f"s3://{self.bucket}/{key}", size=len(data), media_type=media_type
        )

    def put_json(self, run_id: str, name: str, value: Any) -> ArtifactRef:
        data = json.dumps(value, default=str, ensure_ascii=False).encode()
        return self.put_bytes(run_id, name, data, "application/json")

    async def aput_json(self, run_id: str, name: str, value: Any) -> ArtifactRef:
        """:meth:`put_json` off the event loop (an upload takes a network round trip or more)."""
        return await asyncio.to_thread(self.put_json, run_id, name, value)

    async def aget_json(self, run_id: str, name: str) -> Any | None:
        """:meth:`get_json` off the event loop."""
        return await asyncio.to_thread(self.get_json, run_id, name)

    def get_bytes(self, run_id: str, name: str) -> bytes | None:
        return self._get(self.key_for(run_id, name))

    def get_json(self, run_id: str, name: str) -> Any | None:
        data = self.get_bytes(run_id, name)
        return None if data is None else json.loads(data)

    def read(self, ref: ArtifactRef) -> bytes | None:
        bucket, key = parse_s3_url(ref.uri)
        if bucket != self.bucket:
            raise S3ArtifactStoreError(f"{ref.uri} is not in this store's bucket {self.bucket}")
        return self._get(key)

    def _get(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise S3ArtifactStoreError(
                f"cannot read s3://{self.bucket}/{key}: {_code(exc)}"
            ) from exc
        return bytes(response["Body"].read())


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error"))
