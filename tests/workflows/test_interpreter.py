"""The interpreter on a real dev server: each construct, with real HTTP steps."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import Client

from testflow.runtime.engine import Engine
from testflow.runtime.settings import Settings
from tests.workflows.helpers import flow_of, run_flow

pytestmark = pytest.mark.workflow


def create_order(step_id: str = "create", **extra: object) -> dict[str, object]:
    return {
        "id": step_id,
        "type": "http",
        "request": {"method": "POST", "url": "{{ base }}/orders", "json": {"product": "book", "price": 12}},
        "extract": {f"{step_id}_id": "$.id"},
        "assert": {"status": 201, "$.status": "NEW"},
        **extra,
    }


async def test_sequential_http_with_extraction(temporal_client: Client, settings: Settings, task_queue: str, demo_url: str) -> None:
    result, events = await run_flow(
        temporal_client, settings, task_queue,
        {
            "context": {"base": demo_url},
            "steps": [
                create_order(),
                {
                    "id": "read",
                    "type": "http",
                    "request": {"url": "{{ base }}/orders/{{ create_id }}"},
                    "assert": {"status": 200, "$.id": "{{ create_id }}", "$.price": {"gte": 10}},
                },
            ],
        },
    )
    assert result.status == "passed", result
    assert [s.step_id for s in result.steps] == ["create", "read"]
    assert result.context["create_id"] == result.steps[0].extracted["create_id"]
    assert result.steps[1].assertions and all(a.passed for a in result.steps[1].assertions)
    kinds = [e.type for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.count("step_finished") == 2


async def test_failed_assertion_skips_rest_and_runs_teardown(temporal_client: Client, settings: Settings, task_queue: str, demo_url: str) -> None:
    result, _ = await run_flow(
        temporal_client, settings, task_queue,
        {
            "context": {"base": demo_url},
            "steps": [
                {**create_order(), "assert": {"status": 200}},
                {"id": "never", "type": "log", "message": "not reached"},
            ],
            "teardown": [{"id": "cleanup", "type": "log", "message": "cleaning {{ base }}"}],
        },
    )
    assert result.status == "failed"
    by_id = {s.step_id: s for s in result.steps}
    assert by_id["create"].status == "failed"
    assert by_id["create"].error is not None and by_id["create"].error.type == "AssertionFailed"
    failed = [a for a in by_id["create"].assertions if not a.passed]
    assert failed[0].path == "status" and failed[0].expected == 200 and failed[0].actual == 201
    assert by_id["never"].status == "skipped"
    assert by_id["cleanup"].status == "passed" and by_id["cleanup"].phase == "teardown"


async def test_retries_are_counted(temporal_client: Client, settings: Settings, task_queue: str) -> None:
    result, _ = await run_flow(
        temporal_client, settings, task_queue,
        {
            "steps": [
                {
                    "id": "down",
                    "type": "http",
                    "request": {"url": "http://127.0.0.1:9/nothing"},
                    "retry": {"attempts": 3, "initial_interval": "100ms", "backoff": "fixed"},
                    "timeout": "2s",
                }
            ]
        },
    )
    step = result.steps[0]
    assert result.status == "failed"
    assert step.status == "error" and step.attempts == 3
    assert step.error is not None and "127.0.0.1:9" in step.error.message
    assert [a.attempt for a in step.attempt_errors] == [1, 2, 3]


async def test_poll_until_assertions_pass(temporal_client: Client, settings: Settings, task_queue: str, demo_url: str) -> None:
    result, _ = await run_flow(
        temporal_client, settings, task_queue,
        {
            "context": {"base": demo_url},
            "steps": [
                create_order(),
                {"id": "pay", "type": "http", "request": {"method": "POST", "url": "{{ base }}/orders/{{ create_id }}/pay", "params": {"after_ms": 1200}}},
                {
                    "id": "paid",
                    "type": "poll",
                    "every": "300ms",
                    "within": "20s",
                    "step": {"id": "check", "type": "http", "request": {"url": "{{ base }}/orders/{{ create_id }}"}, "assert": {"$.status": "PAID"}},
                },
            ],
        },
    )
    assert result.status == "passed", result.steps
    paid = result.steps[-1]
    assert paid.step_id == "paid" and paid.attempts >= 2  # the first tries saw NEW


async def test_dag_runs_independent_steps_concurrently(temporal_client: Client, settings: Settings, task_queue: str) -> None:
    wait = {"type": "delay", "duration": "1s"}
    result, _ = await run_flow(
        temporal_client, settings, task_queue,
        {
            "steps": [
                {"id": "a", **wait},
                {"id": "b", **wait},
                {"id": "c", "type": "log", "message": "after a and b", "depends_on": ["a", "b"]},
            ]
        },
    )
    assert result.status == "passed"
    by_id = {s.step_id: s for s in result.steps}
    a, b, c = by_id["a"], by_id["b"], by_id["c"]
    assert a.started_at and b.started_at and c.started_at and a.finished_at and b.finished_at
    # a and b overlap (both started before either finished); c starts after both.
    assert max(a.started_at, b.started_at) < min(a.finished_at, b.finished_at)
    assert c.started_at >= max(a.finished_at, b.finished_at)


async def test_parallel_failure_cancels_siblings(temporal_client: Client, settings: Settings, task_queue: str) -> None:
    result, _ = await run_flow(
        temporal_client, settings, task_queue,
        {
            "steps": [
                {
                    "id": "fan",
                    "type": "parallel",
                    "branches": [
                        [{"id": "slow", "type": "delay", "duration": "30s"}],
                        [{"id": "bad", "type": "assert", "value": 1, "assert": {"$": 2}}],
                    ],
                }
            ]
        },
    )
    by_id = {s.step_id: s for s in result.steps}
    assert result.status == "failed"
    assert by_id["bad"].status == "failed"
    assert by_id["slow"].status == "cancelled"
    assert result.duration_ms < 20_000


async def test_when_for_each_group_transform(temporal_client: Client, settings: Settings, task_queue: str) -> None:
    result, _ = await run_flow(
        temporal_client, settings, task_queue,
        {
            "context": {"items": [1, 2, 3], "mode": "fast"},
            "steps": [
                {"id": "skipme", "type": "log", "message": "x", "when": "mode == 'slow'"},
                {
                    "id": "each",
                    "type": "group",
                    "for_each": "{{ items }}",
                    "as": "n",
                    "steps": [{"id": "double", "type": "transform", "set": {"last": "{{ n * 2 }}"}}],
                },
                {"id": "check", "type": "assert", "value": "{{ last }}", "assert": {"$": 6}},
            ],
        },
    )
    assert result.status == "passed", result.steps
    keys = [s.key for s in result.steps]
    assert "each[2].double" in keys and "skipme" in keys
    assert next(s for s in result.steps if s.key == "skipme").status == "skipped"
    assert result.context["last"] == 6


async def test_hooks_and_sub_flow(temporal_client: Client, settings: Settings, task_queue: str) -> None:
    sub = flow_of({"name": "sub", "context": {"x": 0}, "steps": [{"id": "inc", "type": "transform", "set": {"y": "{{ x + 1 }}"}}]})
    flow = flow_of(
        {
            "hooks": {"before_step": [{"id": "pre", "type": "log", "message": "before"}]},
            "steps": [{"id": "child", "type": "call", "flow": "sub.yaml", "inputs": {"x": 41}, "outputs": {"answer": "y"}}],
        }
    )
    call = flow.steps[0].model_copy(update={"resolved": sub})
    flow = flow.model_copy(update={"steps": [call]})
    result, _ = await run_flow(temporal_client, settings, task_queue, flow)
    assert result.status == "passed", result.steps
    assert result.context["answer"] == 42


async def test_templates_are_deterministic_and_secrets_masked(temporal_client: Client, settings: Settings, task_queue: str) -> None:
    result, events = await run_flow(
        temporal_client, settings, task_queue,
        {
            "context": {"token": "{{ secret('API_TOKEN') }}", "n": "{{ random.int(10, 100) }}", "id": "{{ uuid() }}"},
            "steps": [{"id": "say", "type": "log", "message": "token={{ token }} n={{ n }}"}],
        },
        environ={"API_TOKEN": "s3cr3t-value"},
    )
    assert result.status == "passed"
    assert 10 <= result.context["n"] <= 100 and isinstance(result.context["n"], int)
    dumped = result.model_dump_json() + "".join(e.model_dump_json() for e in events)
    assert "s3cr3t-value" not in dumped
    assert result.context["token"] == "***"


async def test_cancellation_runs_teardown(temporal_client: Client, settings: Settings, task_queue: str) -> None:
    flow = flow_of(
        {
            "steps": [{"id": "wait", "type": "delay", "duration": "60s"}],
            "teardown": [{"id": "cleanup", "type": "log", "message": "cleanup"}],
        }
    )
    engine = Engine(settings.model_copy(update={"task_queue": task_queue}), client=temporal_client)
    async with engine:
        handle = await engine.start(flow, environ={})
        await asyncio.sleep(1.0)
        await handle.cancel()
        result = await engine.follow(handle.id)
    by_id = {s.step_id: s for s in result.steps}
    assert result.status == "cancelled"
    assert by_id["wait"].status == "cancelled"
    assert by_id["cleanup"].status == "passed"


@pytest.mark.slow
async def test_long_flow_continues_as_new(temporal_client: Client, settings: Settings, task_queue: str) -> None:
    steps = [{"id": f"s{i}", "type": "transform", "set": {"i": i}} for i in range(3000)]
    result, _events = await run_flow(temporal_client, settings, task_queue, {"steps": steps})
    assert result.status == "passed"
    assert len(result.steps) == 3000 and result.context["i"] == 2999
    handle = temporal_client.get_workflow_handle(result.run_id)
    desc = await handle.describe()
    assert desc.run_id != desc.raw_description.workflow_execution_info.first_run_id  # rolled over


async def test_webhook_wait_buffers_early_deliveries(temporal_client: Client, settings: Settings, task_queue: str) -> None:
    from datetime import UTC, datetime

    from testflow.workflows.types import WebhookConfig, WebhookDelivery

    flow = flow_of(
        {
            "steps": [
                {"id": "url", "type": "transform", "set": {"callback": "{{ webhooks.invoice.url }}"}},
                {"id": "pause", "type": "delay", "duration": "2s"},
                {
                    "id": "invoice",
                    "type": "webhook.wait",
                    "name": "invoice",
                    "count": 2,
                    "within": "20s",
                    "match": {"$.order": "A1"},
                    "extract": {"amount": "$[1].body.amount"},
                    "assert": {"count": 2, "rejected": 1},
                },
            ]
        }
    )
    engine = Engine(settings.model_copy(update={"task_queue": task_queue}), client=temporal_client)
    async with engine:
        handle = await engine.start(flow, environ={}, webhook_base="http://127.0.0.1:9999")
        await asyncio.sleep(0.5)
        config = await handle.query("webhook_config", "invoice", result_type=WebhookConfig)
        assert config.known and config.token.startswith(handle.id)

        def delivery(body: dict[str, object], accepted: bool = True) -> WebhookDelivery:
            return WebhookDelivery(name="invoice", body=body, received_at=datetime.now(UTC), accepted=accepted)

        # These arrive while the run is still in `pause`: they must be buffered, not lost.
        await handle.signal("webhook", delivery({"order": "A1", "amount": 10}))
        await handle.signal("webhook", delivery({"order": "B2", "amount": 99}))
        await handle.signal("webhook", delivery({"order": "A1", "amount": 0}, accepted=False))
        await handle.signal("webhook", delivery({"order": "A1", "amount": 20}))
        result = await engine.follow(handle.id)
    assert result.status == "passed", result.steps
    assert result.context["callback"] == f"http://127.0.0.1:9999/hooks/{config.token}/invoice"
    assert result.context["amount"] == 20
