"""The parts that keep a long run's per-step work and payloads bounded (issue 3 of testflow).

The 10,000-step run itself is in test_long_flow.py; here each part on its own, with small
flows on the session dev server where a run is needed.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import DataConverter

from testflow.dsl.registry import StepKind, default_registry
from testflow.dsl.results import RunResult, StepRecord
from testflow.runtime.artifacts import LocalArtifactStore, read_artifact
from testflow.runtime.codec import (
    COMPRESSION,
    EncryptionCodec,
    EncryptionKeys,
    large_payload_storage,
)
from testflow.runtime.engine import CompactPayloadConverter, Engine
from testflow.runtime.run_events import missed_events
from testflow.runtime.run_results import StoredStepsMissing, with_stored_steps
from testflow.runtime.settings import Settings
from testflow.workflows.state import activity_context
from testflow.workflows.types import KindOptions, RunOptions
from tests.workflows.helpers import flow_of, run_flow

REPO = Path(__file__).resolve().parents[2]
KEY = "k1:" + base64.b64encode(bytes(range(32))).decode()


def _stored(root: Path) -> list[Path]:
    return list(root.rglob("payload-*.bin"))


def _payload(size: int) -> Payload:
    text = json.dumps([{"key": f"steps.s{i}", "status": "passed"} for i in range(size // 40)])
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_codec_compresses_large_payloads_only_and_reads_old_ones() -> None:
    codec = EncryptionCodec(EncryptionKeys.parse(KEY))
    small, large = _payload(2_000), _payload(200_000)
    sealed_small, sealed_large = await codec.encode([small, large])
    assert COMPRESSION not in sealed_small.metadata
    assert sealed_large.metadata[COMPRESSION] == b"zlib"
    assert len(sealed_large.data) < large.ByteSize() / 5
    assert await codec.decode([sealed_small, sealed_large]) == [small, large]
    # Written before compression existed: no compression key, read as it is.
    plain = EncryptionCodec(EncryptionKeys.parse(KEY), compress_from=10**9)
    (old,) = await plain.encode([large])
    assert COMPRESSION not in old.metadata and (await codec.decode([old]))[0] == large
    forged = Payload()
    forged.CopyFrom(sealed_large)
    forged.metadata[COMPRESSION] = b"lz4"
    with pytest.raises(ValueError, match="unknown method"):
        await codec.decode([forged])


async def test_payloads_over_the_threshold_go_to_the_store_encrypted(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    converter = DataConverter(
        payload_converter_class=CompactPayloadConverter,
        payload_codec=EncryptionCodec(EncryptionKeys.parse(KEY)),
        external_storage=large_payload_storage(store, threshold=4_096),
    )
    value = {"records": [{"key": f"s{i}", "token": "s3cret-value"} for i in range(5_000)]}
    small, large = await converter.encode([{"a": 1}, value])
    assert small.metadata["encoding"] == b"binary/encrypted"
    assert large.ByteSize() < 1_000 and large.metadata["encoding"] != b"binary/encrypted"
    files = _stored(tmp_path)
    assert len(files) == 1 and b"s3cret-value" not in files[0].read_bytes()
    assert await converter.decode([small, large]) == [{"a": 1}, value]
    files[0].unlink()
    with pytest.raises(RuntimeError, match="not in the artifact store"):
        await converter.decode([large])


def test_activities_get_the_steps_map_only_when_they_may_read_it() -> None:
    ctx = {"base": "http://x", "steps": {f"s{i}": {"status": "passed"} for i in range(100)}}
    own = {"step_outputs": False, "that": None, "extract": {}}
    assert activity_context(ctx, **own) == {"base": "http://x"}  # type: ignore[arg-type]
    assert activity_context(ctx, step_outputs=True, that=None, extract={}) is ctx
    that = ["{{ steps.s1.status == 'passed' }}"]
    assert activity_context(ctx, step_outputs=False, that=that, extract={}) is ctx
    extract = {"n": "{{ steps | length }}"}
    assert activity_context(ctx, step_outputs=False, that=None, extract=extract) is ctx


def test_only_testflows_own_executors_go_without_step_outputs() -> None:
    kinds = {k.name: KindOptions.of(k) for k in default_registry()}
    assert not kinds["http"].step_outputs and not kinds["transform"].step_outputs
    assert not kinds["mock.verify"].step_outputs
    plugin = StepKind(
        name="shop.scrape", description="", executor="testflow.plugins.executor:execute"
    )
    assert KindOptions.of(plugin).step_outputs
    # What KindOptions.of relies on: no executor of testflow's own reads the map.
    readers = [
        path.relative_to(REPO)
        for folder in ("testflow/activities", "testflow/mocks")
        for path in (REPO / folder).rglob("*.py")
        if path.name not in ("base.py", "runner.py")
        and re.search(r"step_outputs|\bsteps\b[\"']\]", path.read_text())
    ]
    assert readers == []


def _record(key: str) -> StepRecord:
    now = datetime.now(UTC)
    return StepRecord(
        key=key, step_id=key, kind="transform", phase="steps", status="passed", finished_at=now
    )


def test_missed_events_continue_the_stream_from_the_result() -> None:
    now = datetime.now(UTC)
    result = RunResult(
        run_id="r",
        flow="f",
        status="passed",
        started_at=now,
        finished_at=now,
        steps=[_record("a"), _record("b"), _record("c")],
    )
    events = missed_events(result, 7, {"a"})
    assert [(e.seq, e.type, e.step.key if e.step else None) for e in events] == [
        (8, "step_finished", "b"),
        (9, "step_finished", "c"),
        (10, "run_finished", None),
    ]
    assert next(e.type for e in missed_events(result, 0, set())) == "run_started"


def test_missing_pages_are_an_error_not_a_short_report(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    page = store.put_json("r", "steps-00000.json", [_record("a").model_dump(mode="json")])
    now = datetime.now(UTC)
    result = RunResult(run_id="r", flow="f", status="passed", started_at=now, steps=[_record("b")])
    full = with_stored_steps(result.model_copy(update={"steps_stored": [page]}))
    assert [s.key for s in full.steps] == ["a", "b"] and not full.steps_stored
    gone = page.model_copy(update={"uri": page.uri.replace("steps-00000", "steps-00001")})
    with pytest.raises(StoredStepsMissing):
        with_stored_steps(result.model_copy(update={"steps_stored": [gone]}))


@pytest.mark.workflow
async def test_records_move_to_the_store_in_pages(
    temporal_client: Client, settings: Settings, task_queue: str
) -> None:
    steps: list[dict[str, object]] = [
        {"id": f"s{i}", "type": "transform", "set": {"i": i}} for i in range(6)
    ]
    # Reads the steps map in the activity: it must still be sent whole to this step.
    steps.append(
        {
            "id": "check",
            "type": "assert",
            "value": 1,
            "assert": {"that": ["{{ steps.s4.status == 'passed' }}"]},
        }
    )
    options = RunOptions(records_page=3)
    result, events = await run_flow(
        temporal_client, settings, task_queue, {"steps": steps}, options=options
    )
    assert result.status == "passed", result
    assert [s.key for s in result.steps] == [f"s{i}" for i in range(6)] + ["check"]
    assert not result.steps_stored
    finished = [e.step.key for e in events if e.type == "step_finished" and e.step]
    assert sorted(finished) == sorted(s.key for s in result.steps)
    raw: RunResult = await temporal_client.get_workflow_handle(
        result.run_id, result_type=RunResult
    ).result()
    assert [s.key for s in raw.steps] == ["check"] and len(raw.steps_stored) == 2
    assert all(read_artifact(ref) for ref in raw.steps_stored)


@pytest.mark.workflow
async def test_following_a_finished_run_reads_it_from_its_result(
    temporal_client: Client, settings: Settings, task_queue: str
) -> None:
    flow = flow_of({"steps": [{"id": f"s{i}", "type": "log", "message": "m"} for i in range(5)]})
    engine = Engine(settings.model_copy(update={"task_queue": task_queue}), client=temporal_client)
    async with engine:
        handle = await engine.start(flow, environ={})
        await handle.result()
        events: list[object] = []
        result = await engine.follow(handle.id, events.append)
    # The query and the result race; either way the stream is whole, each step once.
    types = [e.type for e in events]  # type: ignore[attr-defined]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    keys = [e.step.key for e in events if e.type == "step_finished"]  # type: ignore[attr-defined]
    assert keys == [f"s{i}" for i in range(5)]
    assert result.status == "passed" and len(result.steps) == 5
