"""The local artifact store writes in the background but never shows a stale or missing file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from testflow.runtime.artifacts import (
    LocalArtifactStore,
    flush_writes,
    read_any_artifact,
    read_artifact,
)


def test_a_detail_reads_back_at_once_and_lands_on_disk(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    ref = store.put_json("run-a", "steps.get[0].json", {"status": 200, "body": "é"})
    assert ref.uri.startswith("file://") and ref.uri.endswith("steps.get%5B0%5D.json")
    assert json.loads(read_artifact(ref) or b"null") == {"status": 200, "body": "é"}
    assert store.get_json("run-a", "steps.get[0].json") == {"status": 200, "body": "é"}
    flush_writes()
    on_disk = tmp_path / "artifacts" / "run-a" / "steps.get[0].json"
    assert json.loads(on_disk.read_text()) == {"status": 200, "body": "é"}
    assert ref.size == on_disk.stat().st_size
    assert read_any_artifact(ref) == on_disk.read_bytes()


def test_the_last_write_of_a_name_wins(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    for attempt in range(50):
        store.put_json("run-b", "x.attempts.json", [attempt])
    assert store.get_json("run-b", "x.attempts.json") == [49]
    flush_writes()
    assert json.loads((tmp_path / "run-b" / "x.attempts.json").read_text()) == [49]


def test_a_run_directory_removed_meanwhile_is_created_again(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "a")
    store.put_json("run-c", "one.json", 1)
    flush_writes()
    shutil.rmtree(tmp_path / "a")
    ref = store.put_json("run-c", "two.json", 2)
    flush_writes()
    assert json.loads(read_artifact(ref) or b"null") == 2
    assert (tmp_path / "a" / "run-c" / "two.json").exists()


def test_a_missing_artifact_reads_as_none(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    assert store.get_json("run-d", "nothing.json") is None


def test_a_large_artifact_is_written_whole(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    data = bytes(range(256)) * (12 * 1024)  # 3 MB
    ref = store.put_bytes("run-e", "body.bin", data)
    flush_writes()
    assert (tmp_path / "run-e" / "body.bin").read_bytes() == data
    assert ref.size == len(data)
