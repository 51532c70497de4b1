"""The artifact store: step details and large bodies that must not travel through Temporal.

Step results stay small in workflow history (ARCHITECTURE.md section 2); the full request,
response, rows or messages of a step are written here by the activity and referenced by an
:class:`ArtifactRef`. The default store is a local directory, which the CLI's embedded worker
shares with the reporters; distributed workers point ``TESTFLOW_ARTIFACTS_DIR`` at a shared
volume.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from testflow.dsl.results import ArtifactRef
from testflow.runtime.settings import Settings

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]]+")


def _safe(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name).strip("._")
    return cleaned or "artifact"


class ArtifactStore(Protocol):
    """What the step runner needs of a store (local directory or S3)."""

    root: Path

    def put_json(self, run_id: str, name: str, value: Any) -> ArtifactRef: ...

    def get_json(self, run_id: str, name: str) -> Any | None: ...


class LocalArtifactStore:
    """Files under ``root/<run_id>/``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._made: set[Path] = set()

    def path_for(self, run_id: str, name: str) -> Path:
        return self.root / _safe(run_id) / _safe(name)

    def put_bytes(
        self, run_id: str, name: str, data: bytes, media_type: str = "application/octet-stream"
    ) -> ArtifactRef:
        path = self.path_for(run_id, name)
        if path.parent not in self._made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(path.parent)
        path.write_bytes(data)
        return ArtifactRef(
            name=name, uri=path.resolve().as_uri(), size=len(data), media_type=media_type
        )

    def put_json(self, run_id: str, name: str, value: Any) -> ArtifactRef:
        data = json.dumps(value, default=str, ensure_ascii=False).encode()
        return self.put_bytes(run_id, name, data, "application/json")

    def get_json(self, run_id: str, name: str) -> Any | None:
        path = self.path_for(run_id, name)
        if not path.exists():
            return None
        return json.loads(path.read_text())


def read_artifact(ref: ArtifactRef) -> bytes | None:
    """The content of an artifact, or None when it is gone (reports tolerate that)."""
    parsed = urlparse(ref.uri)
    if parsed.scheme != "file":
        return None
    path = Path(unquote(parsed.path))
    return path.read_bytes() if path.exists() else None


def read_json_artifact(ref: ArtifactRef) -> Any | None:
    data = read_artifact(ref)
    return None if data is None else json.loads(data)


def open_store(settings: Settings) -> ArtifactStore:
    """The store the settings ask for: S3 when ``artifacts_s3_url`` is set, else a directory.

    boto3 is imported only then, so a worker without the ``s3`` extra starts fine.
    """
    if settings.artifacts_s3_url:
        from testflow.runtime.artifacts_s3 import S3ArtifactStore

        return S3ArtifactStore(settings.artifacts_s3_url, scratch=settings.artifact_root)
    return LocalArtifactStore(settings.artifact_root)


def read_any_artifact(ref: ArtifactRef, *, endpoint_url: str | None = None) -> bytes | None:
    """An artifact's bytes from a local file or S3 (None when it is gone)."""
    if ref.uri.startswith("s3://"):
        from testflow.runtime.artifacts_s3 import S3ArtifactStore, parse_s3_url

        bucket, _ = parse_s3_url(ref.uri)
        return S3ArtifactStore(f"s3://{bucket}", endpoint_url=endpoint_url).read(ref)
    return read_artifact(ref)
