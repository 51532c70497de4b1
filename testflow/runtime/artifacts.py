"""The artifact store: step details and large bodies that must not travel through Temporal.

Step results stay small in workflow history (ARCHITECTURE.md section 2); the full request,
response, rows or messages of a step are written here by the activity and referenced by an
:class:`ArtifactRef`. The default store is a local directory, which the CLI's embedded worker
shares with the reporters; distributed workers point ``TESTFLOW_ARTIFACTS_DIR`` at a shared
volume.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlparse

from testflow.dsl.results import ArtifactRef
from testflow.runtime.settings import Settings

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]]+")
_RUN_DIRS = 1024
"""Run directories a store remembers as created (least recently used forgotten first)."""


def _safe(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name).strip("._")
    return cleaned or "artifact"


class _Writer:
    """One background thread that writes files, in the order they were queued, in batches.

    Creating a file costs 0.03-1.5 ms on a busy disk, and waking a thread for each file costs
    a GIL hand-over; a quick step writes one detail file, so doing either per step showed in
    the per-step overhead (bench/steps.py). Bytes are produced (and the reference returned)
    at once; the thread wakes when work arrives, lets a batch gather for up to
    ``BATCH_S`` and writes it. Until a file lands, its pending bytes answer reads in this
    process, and :func:`flush_writes` waits for all.
    """

    BATCH_S = 0.05

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # the thread waits for files to write
        self._done = threading.Condition(self._lock)  # flushers wait for none to be pending
        self._todo: list[tuple[str, bytes]] = []
        self._pending: dict[str, bytes] = {}
        self._urgent = False
        self._thread: threading.Thread | None = None

    def put(self, path: str, data: bytes) -> None:
        with self._lock:
            self._pending[path] = data
            self._todo.append((path, data))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="testflow-artifacts", daemon=True
                )
                self._thread.start()
            elif len(self._todo) == 1:
                self._work.notify()

    def pending(self, path: str) -> bytes | None:
        with self._lock:
            return self._pending.get(path)

    def flush(self, timeout: float = 30.0) -> None:
        with self._lock:
            if self._pending:
                self._urgent = True
                self._work.notify()
                self._done.wait_for(lambda: not self._pending, timeout=timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._work.wait_for(lambda: bool(self._todo))
                if not self._urgent:
                    self._work.wait(timeout=self.BATCH_S)  # a flush cuts the gathering short
                batch, self._todo, self._urgent = self._todo, [], False
            for path, data in batch:
                _write(path, data)
            with self._lock:
                for path, data in batch:
                    if self._pending.get(path) is data:
                        del self._pending[path]
                if not self._pending:
                    self._done.notify_all()


def _write(path: str, data: bytes) -> None:
    try:
        try:
            _write_file(path, data)
        except FileNotFoundError:  # the run's directory was removed meanwhile
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _write_file(path, data)
    except OSError as exc:  # reports show such a detail as unavailable
        log.warning("cannot write artifact %s: %s", path, exc)


def _write_file(path: str, data: bytes) -> None:
    # os-level calls: open() builds a buffered file object for one write (half the CPU).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


_writer = _Writer()
atexit.register(_writer.flush)


def flush_writes(timeout: float = 30.0) -> None:
    """Wait until every artifact queued by this process is on disk (reports, shutdown)."""
    _writer.flush(timeout)


class ArtifactStore(Protocol):
    """What the step runner needs of a store (local directory or S3)."""

    root: Path

    def put_json(self, run_id: str, name: str, value: Any) -> ArtifactRef: ...

    def get_json(self, run_id: str, name: str) -> Any | None: ...

    # What async code calls: the S3 store's calls block on the network (they run in a thread).
    async def aput_json(self, run_id: str, name: str, value: Any) -> ArtifactRef: ...

    async def aget_json(self, run_id: str, name: str) -> Any | None: ...


class LocalArtifactStore:
    """Files under ``root/<run_id>/``, written in the background (see :class:`_Writer`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        # run id -> (resolved directory, its file:// URI), created once per run: resolving
        # and creating it for every step cost several system calls.
        self._dirs: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def path_for(self, run_id: str, name: str) -> Path:
        return self.root / _safe(run_id) / _safe(name)

    def _run_dir(self, run_id: str) -> tuple[str, str]:
        known = self._dirs.get(run_id)
        if known is not None:
            self._dirs.move_to_end(run_id)
            return known
        directory = (self.root / _safe(run_id)).resolve()
        directory.mkdir(parents=True, exist_ok=True)
        known = self._dirs[run_id] = (str(directory), directory.as_uri())
        while len(self._dirs) > _RUN_DIRS:
            self._dirs.popitem(last=False)
        return known

    def put_bytes(
        self, run_id: str, name: str, data: bytes, media_type: str = "application/octet-stream"
    ) -> ArtifactRef:
        directory, uri = self._run_dir(run_id)
        safe = _safe(name)
        _writer.put(f"{directory}/{safe}", data)
        return ArtifactRef(
            name=name, uri=f"{uri}/{quote(safe)}", size=len(data), media_type=media_type
        )

    def put_json(self, run_id: str, name: str, value: Any) -> ArtifactRef:
        data = json.dumps(value, default=str, ensure_ascii=False).encode()
        return self.put_bytes(run_id, name, data, "application/json")

    async def aput_json(self, run_id: str, name: str, value: Any) -> ArtifactRef:
        # No thread hop: the bytes are queued to the writer thread, nothing here blocks.
        return self.put_json(run_id, name, value)

    async def aget_json(self, run_id: str, name: str) -> Any | None:
        return self.get_json(run_id, name)  # a small local file (only for retried steps)

    def get_json(self, run_id: str, name: str) -> Any | None:
        path = self.path_for(run_id, name)
        data = _writer.pending(str(path.resolve()))
        if data is None:
            if not path.exists():
                return None
            data = path.read_bytes()
        return json.loads(data)


def read_artifact(ref: ArtifactRef) -> bytes | None:
    """The content of an artifact, or None when it is gone (reports tolerate that)."""
    parsed = urlparse(ref.uri)
    if parsed.scheme != "file":
        return None
    path = Path(unquote(parsed.path))
    pending = _writer.pending(str(path))
    if pending is not None:
        return pending
    return path.read_bytes() if path.exists() else None


def read_json_artifact(ref: ArtifactRef) -> Any | None:
    data = read_artifact(ref)
    return None if data is None else json.loads(data)


def open_store(settings: Settings) -> ArtifactStore:
    """The store the settings ask for: S3 when ``artifacts_s3_url`` is set, else a directory.

    botocore is imported only then, so a worker without the ``s3`` extra starts fine.
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
