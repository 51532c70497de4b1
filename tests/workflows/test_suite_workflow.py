"""SuiteWorkflow on the real dev server: bounded concurrency, failures, fail-fast, cancellation,
a worker restart, and the replay of a committed history.

A small partner on loopback counts the requests in flight and remembers every path it was
sent, so the tests see which flows really ran, how many at once, and which teardowns ran.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from testflow.dsl.results import RunResult
from testflow.runtime.engine import Engine, data_converter
from testflow.runtime.settings import Settings
from testflow.runtime.worker import build_worker, workflow_runner
from testflow.workflows import WORKFLOWS
from testflow.workflows.suite import ChildSummary, SuiteChild, SuiteInput, SuiteProgress
from tests.partners import CountingPartner
from tests.workflows.helpers import flow_of
from tests.workflows.replay_cases import TEST_KEYS

pytestmark = pytest.mark.workflow

HISTORY = Path(__file__).resolve().parent / "histories" / "suite_basic.json"


def hit(url: str, step_id: str = "hit") -> dict[str, Any]:
    return {"id": step_id, "type": "http", "request": {"url": url}, "assert": {"status": 200}}


def suite_of(
    engine: Engine, flows: list[dict[str, Any]], *, concurrency: int, fail_fast: bool = False
) -> SuiteInput:
    children = []
    for data in flows:
        prepared = engine.prepare(flow_of(data), environ={})
        children.append(SuiteChild(run_id=prepared.run_id, input=prepared))
    return SuiteInput(
        name="a suite", children=children, concurrency=concurrency, fail_fast=fail_fast
    )


def engine_for(settings: Settings, client: Client, task_queue: str, *, worker: bool) -> Engine:
    queue_settings = settings.model_copy(update={"task_queue": task_queue})
    return Engine(queue_settings, client=client, with_worker=worker)


async def progress(engine: Engine, suite_id: str) -> SuiteProgress:
    assert engine.client is not None
    handle = engine.client.get_workflow_handle(suite_id)
    answer: SuiteProgress = await handle.query("progress", 0, result_type=SuiteProgress)
    return answer


async def until(engine: Engine, suite_id: str, check: Any, what: str) -> SuiteProgress:
    for _ in range(600):
        state = await progress(engine, suite_id)
        if check(state):
            return state
        await asyncio.sleep(0.1)
    raise AssertionError(f"never saw {what}: {state}")


async def test_concurrency_is_honoured(
    temporal_client: Client, settings: Settings, task_queue: str, partner: CountingPartner
) -> None:
    partner.hold = 3  # one more than the suite allows: held until the 3 s timeout if it obeys
    flows = [{"name": f"f{i}", "steps": [hit(f"{partner.url}/wait/{i}")]} for i in range(4)]
    async with engine_for(settings, temporal_client, task_queue, worker=True) as engine:
        suite = suite_of(engine, flows, concurrency=2)
        handle = await engine.start_suite(suite)
        result = await handle.result()
    assert result.status == "passed" and result.done
    assert [c.status for c in result.children] == ["passed"] * 4
    assert all(c.counts["passed"] == 1 for c in result.children)
    assert sorted(partner.paths) == sorted(f"/wait/{i}" for i in range(4))
    assert partner.max_in_flight == 2
    # The children are real runs under the ids the starter chose.
    assert [c.run_id for c in result.children] == [c.run_id for c in suite.children]
    child = temporal_client.get_workflow_handle(suite.children[0].run_id, result_type=RunResult)
    assert (await child.result()).status == "passed"


async def test_a_failing_child_fails_the_suite_and_the_others_still_run(
    temporal_client: Client, settings: Settings, task_queue: str, partner: CountingPartner
) -> None:
    bad = {"id": "bad", "type": "assert", "value": 1, "assert": {"$": 2}}
    flows = [
        {"name": "ok1", "steps": [hit(f"{partner.url}/ok1")]},
        {"name": "bad", "steps": [bad]},
        {"name": "ok2", "steps": [hit(f"{partner.url}/ok2")]},
    ]
    async with engine_for(settings, temporal_client, task_queue, worker=True) as engine:
        result = await (await engine.start_suite(suite_of(engine, flows, concurrency=1))).result()
    assert result.status == "failed"
    assert [c.status for c in result.children] == ["passed", "failed", "passed"]
    assert result.children[1].counts["failed"] == 1
    assert set(partner.paths) == {"/ok1", "/ok2"}


async def test_fail_fast_lets_running_children_finish(
    temporal_client: Client, settings: Settings, task_queue: str, partner: CountingPartner
) -> None:
    bad = {"id": "bad", "type": "assert", "value": 1, "assert": {"$": 2}}
    flows = [
        {"name": "held", "steps": [hit(f"{partner.url}/gate/held")]},
        {"name": "bad", "steps": [bad]},
        {"name": "later", "steps": [hit(f"{partner.url}/later")]},
    ]
    async with engine_for(settings, temporal_client, task_queue, worker=True) as engine:
        handle = await engine.start_suite(suite_of(engine, flows, concurrency=2, fail_fast=True))
        await until(engine, handle.id, lambda p: p.children[1].status == "failed", "bad fail")
        partner.gate.set()  # `held` was running when `bad` failed: it goes on
        result = await handle.result()
    assert result.status == "failed"
    assert [(c.status, c.started) for c in result.children] == [
        ("passed", True),
        ("failed", True),
        ("cancelled", False),
    ]
    assert set(partner.paths) == {"/gate/held"}


async def test_fail_fast_starts_no_more_children(
    temporal_client: Client, settings: Settings, task_queue: str, partner: CountingPartner
) -> None:
    bad = {"id": "bad", "type": "assert", "value": 1, "assert": {"$": 2}}
    flows = [
        {"name": "bad", "steps": [bad]},
        {"name": "later1", "steps": [hit(f"{partner.url}/later1")]},
        {"name": "later2", "steps": [hit(f"{partner.url}/later2")]},
    ]
    async with engine_for(settings, temporal_client, task_queue, worker=True) as engine:
        suite = suite_of(engine, flows, concurrency=1, fail_fast=True)
        result = await (await engine.start_suite(suite)).result()
    assert result.status == "failed"
    assert [(c.status, c.started) for c in result.children] == [
        ("failed", True),
        ("cancelled", False),
        ("cancelled", False),
    ]
    assert not partner.paths


async def test_cancel_cancels_children_and_their_teardown_runs(
    temporal_client: Client, settings: Settings, task_queue: str, partner: CountingPartner
) -> None:
    flows = [
        {
            "name": f"slow{i}",
            "steps": [{"id": "wait", "type": "delay", "duration": "5m"}],
            "teardown": [hit(f"{partner.url}/teardown/{i}", "clean")],
        }
        for i in range(3)
    ]
    async with engine_for(settings, temporal_client, task_queue, worker=True) as engine:
        suite = suite_of(engine, flows, concurrency=2)
        handle = await engine.start_suite(suite)
        await until(
            engine, handle.id, lambda p: sum(c.started for c in p.children) == 2, "2 started"
        )
        await handle.cancel()
        result = await handle.result()
    assert result.status == "cancelled"
    assert [(c.status, c.started) for c in result.children] == [
        ("cancelled", True),
        ("cancelled", True),
        ("cancelled", False),
    ]
    assert set(partner.paths) == {"/teardown/0", "/teardown/1"}
    for child in suite.children[:2]:
        run = temporal_client.get_workflow_handle(child.run_id, result_type=RunResult)
        outcome = await run.result()
        assert outcome.status == "cancelled"
        assert [s.step_id for s in outcome.steps if s.status == "passed"] == ["clean"]


async def test_a_worker_restart_mid_suite_loses_nothing(
    temporal_client: Client, settings: Settings, task_queue: str, partner: CountingPartner
) -> None:
    flows = [
        {
            "name": f"r{i}",
            "steps": [hit(f"{partner.url}/gate/{i}"), hit(f"{partner.url}/after/{i}", "after")],
        }
        for i in range(4)
    ]
    queue_settings = settings.model_copy(update={"task_queue": task_queue})
    async with engine_for(settings, temporal_client, task_queue, worker=False) as engine:
        suite = suite_of(engine, flows, concurrency=2)
        first = build_worker(temporal_client, queue_settings, engine.registry)
        running = asyncio.create_task(first.run())
        handle = await engine.start_suite(suite)
        # Two children are inside their first request when the worker goes away.
        for _ in range(600):
            if len(partner.paths) >= 2:
                break
            await asyncio.sleep(0.1)
        assert len(partner.paths) == 2
        partner.gate.set()  # lets the held requests answer while the worker shuts down
        await first.shutdown()
        await running
        second = build_worker(temporal_client, queue_settings, engine.registry)
        async with second:
            result = await handle.result()
    assert result.status == "passed"
    assert [c.status for c in result.children] == ["passed"] * 4
    assert {p for p in partner.paths if p.startswith("/after/")} == {
        f"/after/{i}" for i in range(4)
    }


async def test_suite_history_replays() -> None:
    """The committed history of a small suite replays on the current SuiteWorkflow."""
    assert HISTORY.exists(), f"{HISTORY} is missing: python -m tests.workflows.record_suite_history"
    converter = data_converter(Settings(home=Path(tempfile.mkdtemp()), encryption_keys=TEST_KEYS))
    replayer = Replayer(
        workflows=list(WORKFLOWS), data_converter=converter, workflow_runner=workflow_runner()
    )
    history = WorkflowHistory.from_json("replay-suite", HISTORY.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, str(result.replay_failure)


async def test_a_suite_of_500_flows_fits_in_temporal_payloads(settings: Settings) -> None:
    """Input and result of a 500-flow suite, encoded as the worker sends them (compact JSON,
    compressed, encrypted), stay under Temporal's 2 MB payload limit without the artifact
    store. The flows differ (an id in every URL), so they do not compress into each other."""
    engine = Engine(settings)
    children = []
    for _ in range(500):
        key = uuid.uuid4().hex
        steps = [hit(f"http://partner.example/{key}/{n}", f"s{n}") for n in range(10)]
        prepared = engine.prepare(flow_of({"name": f"flow {key}", "steps": steps}), environ={})
        children.append(SuiteChild(run_id=prepared.run_id, input=prepared))
    suite = SuiteInput(name="big", children=children, concurrency=8)
    result = SuiteProgress(
        name="big",
        status="failed",
        done=True,
        started_at=datetime.now(UTC),
        finished_at=datetime.now(UTC),
        concurrency=8,
        children=[
            ChildSummary(
                run_id=c.run_id,
                flow=c.input.flow.name,
                status="failed",
                started=True,
                counts={"passed": 9, "failed": 1, "error": 0, "skipped": 0, "cancelled": 0},
            )
            for c in children
        ],
    )
    converter = data_converter(settings)
    assert converter.payload_codec is not None
    for value in (suite, result):
        raw = converter.payload_converter.to_payloads([value])
        encoded = await converter.payload_codec.encode(raw)
        assert encoded[0].ByteSize() < 1024 * 1024, type(value).__name__
