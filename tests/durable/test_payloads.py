"""Payload hygiene: a 10 MB response passes through a real run and the history stays small;
step details land in the artifact store (local directory, or S3 on moto's server)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client
from temporalio.worker import Worker

from testflow.activities.runner import StepRunner
from testflow.dsl.models import Flow
from testflow.dsl.registry import default_registry
from testflow.dsl.results import ArtifactRef
from testflow.runtime.artifacts import LocalArtifactStore, read_any_artifact
from testflow.runtime.artifacts_s3 import S3ArtifactStore, S3ArtifactStoreError, parse_s3_url
from testflow.runtime.engine import Engine
from testflow.runtime.settings import Settings
from testflow.runtime.worker import workflow_runner
from testflow.workflows import WORKFLOWS

BIG = 10 * 1024 * 1024
HISTORY_LIMIT = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def big_server() -> Iterator[str]:
    """A real HTTP server answering a ~10 MB JSON document."""
    items = [{"i": i, "text": "x" * 90} for i in range(BIG // 100)]
    payload = json.dumps({"items": items, "total": len(items)}).encode()
    assert len(payload) >= BIG

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_url: str) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    return moto_url


def _bucket(name: str) -> str:
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def test_s3_store_round_trip_and_errors(aws_env: str) -> None:
    bucket = _bucket("tf-artifacts-unit")
    store = S3ArtifactStore(f"s3://{bucket}/ci/run 1")
    ref = store.put_json("run-x/../y", "step a.json", {"ok": True, "n": [1, 2]})
    assert ref.uri == f"s3://{bucket}/ci/run 1/run-x_.._y/step_a.json"
    assert store.get_json("run-x/../y", "step a.json") == {"ok": True, "n": [1, 2]}
    assert read_any_artifact(ref) == b'{"ok": true, "n": [1, 2]}'
    assert store.get_json("run-x", "missing.json") is None
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        parse_s3_url("http://bucket/x")
    with pytest.raises(S3ArtifactStoreError, match="s3://no-such-bucket-here/"):
        S3ArtifactStore("s3://no-such-bucket-here").put_bytes("r", "n", b"x")
    with pytest.raises(S3ArtifactStoreError, match="not in this store's bucket"):
        store.read(ArtifactRef(name="n", uri="s3://other/k", size=1, media_type="x"))


async def _history_bytes(client: Client, run_id: str) -> int:
    request = GetWorkflowExecutionHistoryRequest(namespace=client.namespace)
    request.execution.workflow_id = run_id
    total = 0
    while True:
        page = await client.workflow_service.get_workflow_execution_history(request)
        total += page.history.ByteSize()
        if not page.next_page_token:
            return total
        request.next_page_token = page.next_page_token


@pytest.mark.workflow
@pytest.mark.slow
@pytest.mark.parametrize("where", ["local", "s3"])
async def test_ten_megabyte_body_keeps_history_small(
    where: str,
    request: pytest.FixtureRequest,
    temporal_client: Client,
    settings: Settings,
    task_queue: str,
    big_server: str,
    tmp_path: Path,
) -> None:
    store: LocalArtifactStore | S3ArtifactStore
    if where == "s3":
        request.getfixturevalue("aws_env")
        store = S3ArtifactStore(f"s3://{_bucket('tf-artifacts-big')}/runs")
    else:
        store = LocalArtifactStore(tmp_path / "artifacts")
    registry = default_registry()
    runner = StepRunner(registry, store, preview_bytes=settings.preview_bytes)  # type: ignore[arg-type]
    flow = Flow.model_validate(
        {
            "name": "big body",
            "steps": [
                {
                    "id": "download",
                    "type": "http",
                    "request": {"url": f"{big_server}/export"},
                    "extract": {"total": "$.total", "last": "$.items[-1].i"},
                    "assert": {"status": 200, "$.items": {"len": BIG // 100}},
                }
            ],
        }
    )
    worker = Worker(
        temporal_client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=runner.activities(),
        workflow_runner=workflow_runner(),
    )
    engine = Engine(
        settings.model_copy(update={"task_queue": task_queue}),
        client=temporal_client,
        with_worker=False,
    )
    async with worker, engine:
        handle = await engine.start(flow, environ={})
        result = await engine.follow(handle.id)
    assert result.status == "passed", result.steps[0].error
    assert result.context["total"] == BIG // 100 and result.context["last"] == BIG // 100 - 1
    history = await _history_bytes(temporal_client, result.run_id)
    assert history < HISTORY_LIMIT, f"history is {history} bytes"
    step = result.steps[0]
    assert step.detail is not None and step.detail.uri.startswith(
        "s3://" if where == "s3" else "file://"
    )
    detail = json.loads(read_any_artifact(step.detail) or b"null")
    assert len(detail["response"]["body"]["items"]) == BIG // 100  # the full body, not a preview
    print(f"\n[{where}] 10 MB body: history {history} bytes, detail {step.detail.size} bytes")
