"""The S3 artifact store from async code, on moto's S3 server: uploads and reads leave the event
loop free, a long run's record pages round-trip through it, one client per configuration."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from testflow.activities.records import store_records_activity
from testflow.dsl.results import RunResult, StepRecord
from testflow.runtime.artifacts_s3 import S3ArtifactStore, shared_client
from testflow.runtime.run_results import with_stored_steps
from testflow.workflows.types import RecordsPage
from tests.durable.test_payloads import aws_env, moto_url  # noqa: F401 (fixtures)


@pytest.fixture
def bucket(aws_env: str) -> str:  # noqa: F811
    name = f"tf-async-{uuid.uuid4().hex[:8]}"
    shared_client().create_bucket(Bucket=name)
    return name


def _threads_of_calls(store: S3ArtifactStore) -> list[int]:
    """The threads botocore makes the store's S3 calls on (its own event hooks)."""
    seen: list[int] = []

    def note(**_: Any) -> None:
        seen.append(threading.get_ident())

    store.client.meta.events.register("before-call.s3.PutObject", note)
    store.client.meta.events.register("before-call.s3.GetObject", note)
    return seen


async def test_async_calls_run_off_the_event_loop(bucket: str) -> None:
    store = S3ArtifactStore(f"s3://{bucket}/runs")
    seen = _threads_of_calls(store)
    ref = await store.aput_json("run-1", "step.json", {"ok": True})
    assert await store.aget_json("run-1", "step.json") == {"ok": True}
    assert await store.aget_json("run-1", "missing.json") is None
    assert ref.uri == f"s3://{bucket}/runs/run-1/step.json"
    assert len(seen) == 3
    assert threading.get_ident() not in seen  # the loop's thread made none of them


async def test_record_pages_round_trip_through_s3(bucket: str) -> None:
    store = S3ArtifactStore(f"s3://{bucket}/runs")
    seen = _threads_of_calls(store)
    now = datetime.now(UTC)
    records = [
        StepRecord(key=f"s{i}", step_id=f"s{i}", kind="log", phase="steps", status="passed")
        for i in range(5)
    ]
    activity = store_records_activity(store)
    refs = [
        await activity(RecordsPage(run_id="run-long", index=0, records=records[:2])),
        await activity(RecordsPage(run_id="run-long", index=1, records=records[2:4])),
    ]
    assert [r.uri.rsplit("/", 1)[-1] for r in refs] == ["steps-00000.json", "steps-00001.json"]
    assert threading.get_ident() not in seen
    result = RunResult(
        run_id="run-long",
        flow="long",
        status="passed",
        started_at=now,
        steps=records[4:],
        steps_stored=refs,
    )
    whole = await asyncio.to_thread(with_stored_steps, result)  # read_any_artifact: s3:// refs
    assert [s.key for s in whole.steps] == [f"s{i}" for i in range(5)]
    assert not whole.steps_stored


def test_one_client_per_configuration(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    first = S3ArtifactStore("s3://a/x").client
    assert S3ArtifactStore("s3://b/y").client is first  # readers of other buckets share it
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert S3ArtifactStore("s3://a/x").client is not first  # another endpoint: its own


def test_the_store_needs_no_boto3() -> None:
    """The ``s3`` extra installs aiobotocore (so botocore), not boto3."""
    code = (
        "import sys; sys.modules['boto3'] = None\n"
        "from testflow.runtime.artifacts_s3 import S3ArtifactStore\n"
        "print(type(S3ArtifactStore('s3://b/p', region='us-east-1').client).__name__)\n"
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "S3"
