"""Kafka steps against a real tansu broker: produce, consume (match, start, resume), admin."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from testflow.activities import kafka
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl.kinds.kafka import KAFKA_KINDS
from testflow.runtime.kafka_broker import TansuBroker
from tests.activities.conftest_messaging import MakeMsgCtx

pytestmark = pytest.mark.service

KINDS = {k.name: k for k in KAFKA_KINDS}
EXECUTORS = {
    "kafka.produce": kafka.produce,
    "kafka.consume": kafka.consume,
    "kafka.admin.topics": kafka.admin_topics,
}


async def step(kind: str, config: dict[str, Any], ctx: StepContext) -> Output:
    """Validate ``config`` with the kind's model (as the runner does) and run the executor."""
    return await EXECUTORS[kind](KINDS[kind].parse_config(config), ctx)


async def until_subscribed(ctx: StepContext) -> None:
    """Wait for the consume's first heartbeat: its start positions are then fixed."""
    for _ in range(200):
        if ctx.beats:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the consume never heartbeated its start positions")


async def produce(broker: TansuBroker, ctx: StepContext, topic: str, **config: Any) -> Output:
    return await step("kafka.produce", {"brokers": broker.bootstrap, "topic": topic, **config}, ctx)


async def test_produce_then_consume_from_step_start(
    kafka_broker: TansuBroker, msg_ctx: MakeMsgCtx, name: str
) -> None:
    await produce(kafka_broker, msg_ctx(), name, key="old", value={"n": 0})  # before the step
    ctx = msg_ctx(timeout=10)
    task = asyncio.create_task(
        step("kafka.consume", {"brokers": kafka_broker.bootstrap, "topic": name}, ctx)
    )
    await until_subscribed(ctx)
    sent = await produce(
        kafka_broker,
        msg_ctx(),
        name,
        key="k1",
        value={"id": 7, "status": "NEW"},
        headers={"type": "created"},
    )
    out = await task
    assert sent.fields["count"] == 1
    assert out.fields["count"] == 1
    message = out.fields["message"]
    assert message == out.document[0]
    assert (message["key"], message["value"], message["headers"]) == (
        "k1",
        {"id": 7, "status": "NEW"},
        {"type": "created"},
    )
    assert message["encoding"] == "json" and message["topic"] == name
    assert (
        message["offset"] == sent.fields["offset"]
        and message["partition"] == sent.fields["partition"]
    )
    assert out.summary.startswith(f"consumed 1 of 1 from {name} in ")


async def test_match_key_headers_jsonpath_and_count(
    kafka_broker: TansuBroker, msg_ctx: MakeMsgCtx, name: str
) -> None:
    messages = [
        {"key": "a", "value": {"status": "NEW", "total": 5}, "headers": {"type": "created"}},
        {"key": "b", "value": {"status": "NEW", "total": 50}, "headers": {"type": "created"}},
        {"key": "b", "value": {"status": "PAID", "total": 60}, "headers": {"type": "created"}},
        {"key": "b", "value": {"status": "NEW", "total": 70}, "headers": {"type": "updated"}},
        {"key": "b", "value": {"status": "NEW", "total": 80}, "headers": {"type": "created"}},
    ]
    await produce(kafka_broker, msg_ctx(), name, messages=messages)
    config = {
        "brokers": kafka_broker.bootstrap,
        "topic": name,
        "start": "earliest",
        "count": 2,
        "match": {
            "key": "b",
            "headers": {"type": "created"},
            "$.status": "NEW",
            "$.total": {"gte": 10},
        },
    }
    out = await step("kafka.consume", config, msg_ctx())
    assert [m["value"]["total"] for m in out.document] == [50, 80]
    assert out.fields["seen"] == 5 and out.fields["count"] == 2


async def test_schema_match_and_timeout_details(
    kafka_broker: TansuBroker, msg_ctx: MakeMsgCtx, name: str
) -> None:
    schema = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
    await produce(
        kafka_broker, msg_ctx(), name, messages=[{"value": {"id": "x"}}, {"value": "plain text"}]
    )
    config = {
        "brokers": kafka_broker.bootstrap,
        "topic": name,
        "start": "earliest",
        "match": {"schema": schema},
    }
    with pytest.raises(StepFailure) as info:
        await step("kafka.consume", {**config, "within": "1s"}, msg_ctx())
    failure = info.value
    assert failure.type == "Timeout"
    assert failure.details["seen"] == 2 and failure.details["matched"] == 0
    # Both samples, in any order: the two messages may sit on different partitions.
    samples = [s["message"]["value"] for s in failure.details["non_matching_samples"]]
    assert sorted(samples, key=repr) == sorted([{"id": "x"}, "plain text"], key=repr)
    await produce(kafka_broker, msg_ctx(), name, value={"id": 3})
    out = await step("kafka.consume", config, msg_ctx())
    assert out.fields["message"]["value"] == {"id": 3}


async def test_flow_start_finds_events_produced_before_the_step(
    kafka_broker: TansuBroker, msg_ctx: MakeMsgCtx, name: str
) -> None:
    await produce(kafka_broker, msg_ctx(), name, key="before-run", value=1)
    await asyncio.sleep(0.05)
    run_started = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await produce(kafka_broker, msg_ctx(), name, key="during-run", value=2)
    config = {
        "brokers": kafka_broker.bootstrap,
        "topic": name,
        "start": "flow_start",
        "within": "1s",
        "count": 2,
    }
    with pytest.raises(StepFailure) as info:
        await step("kafka.consume", config, msg_ctx(run_started_at=run_started))
    assert info.value.details["matched"] == 1 and info.value.details["seen"] == 1
    out = await step("kafka.consume", {**config, "count": 1}, msg_ctx(run_started_at=run_started))
    assert out.fields["message"]["key"] == "during-run"


async def test_step_start_ignores_backlog(
    kafka_broker: TansuBroker, msg_ctx: MakeMsgCtx, name: str
) -> None:
    await produce(kafka_broker, msg_ctx(), name, value="backlog")
    config = {"brokers": kafka_broker.bootstrap, "topic": name, "within": "600ms"}
    with pytest.raises(StepFailure) as info:
        await step("kafka.consume", config, msg_ctx())
    assert info.value.type == "Timeout" and info.value.details["seen"] == 0


async def test_resume_from_heartbeat_finds_message_produced_during_crash(
    kafka_broker: TansuBroker, msg_ctx: MakeMsgCtx, name: str
) -> None:
    """Attempt 1 matches one message and is cancelled (the worker died); a message is produced
    while nothing consumes; attempt 2 resumes from attempt 1's heartbeat and finds it, exactly once."""
    config = {
        "brokers": kafka_broker.bootstrap,
        "topic": name,
        "count": 2,
        "match": {"$.kind": "order"},
    }
    first = msg_ctx(timeout=30)
    task = asyncio.create_task(step("kafka.consume", config, first))
    await until_subscribed(first)
    await produce(
        kafka_broker,
        msg_ctx(),
        name,
        messages=[{"value": {"kind": "noise"}}, {"value": {"kind": "order", "n": 1}}],
    )
    for _ in range(200):
        if first.beats[-1]["matched"]:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    last = first.beats[-1]  # type: ignore[attr-defined]
    assert [m["value"]["n"] for m in last["matched"]] == [1]
    await produce(
        kafka_broker, msg_ctx(), name, value={"kind": "order", "n": 2}
    )  # nobody consumes now

    second = msg_ctx(timeout=10, heartbeat_details=[last])
    out = await step("kafka.consume", config, second)
    assert [m["value"]["n"] for m in out.document] == [1, 2]
    assert len({(m["partition"], m["offset"]) for m in out.document}) == 2
    assert out.fields["seen"] == 3  # noise + order 1 (attempt 1) + order 2 (attempt 2), none twice


async def test_resume_keeps_step_start_positions(
    kafka_broker: TansuBroker, msg_ctx: MakeMsgCtx, name: str
) -> None:
    """A retry of a step_start consume reads from the first attempt's start, not from 'now'."""
    first = msg_ctx(timeout=30)
    task = asyncio.create_task(
        step("kafka.consume", {"brokers": kafka_broker.bootstrap, "topic": name}, first)
    )
    await until_subscribed(first)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await produce(kafka_broker, msg_ctx(), name, value="sent while no worker ran")
    out = await step(
        "kafka.consume",
        {"brokers": kafka_broker.bootstrap, "topic": name},
        msg_ctx(heartbeat_details=[first.beats[-1]]),  # type: ignore[attr-defined]
    )
    assert out.fields["message"]["value"] == "sent while no worker ran"


async def test_payload_formats(kafka_broker: TansuBroker, msg_ctx: MakeMsgCtx, name: str) -> None:
    messages = [
        {"value": "hello"},
        {"value": {"a": 1}, "format": "text"},
        {"value": "/w==", "format": "base64"},
        {"value": 42},
    ]
    # One partition, so the consumed order is the produced order.
    await produce(kafka_broker, msg_ctx(), name, messages=[{**m, "partition": 0} for m in messages])
    out = await step(
        "kafka.consume",
        {"brokers": kafka_broker.bootstrap, "topic": name, "start": "earliest", "count": 4},
        msg_ctx(),
    )
    got = [(m["value"], m["encoding"]) for m in out.document]
    assert got == [("hello", "text"), ({"a": 1}, "json"), ("/w==", "base64"), (42, "json")]


async def test_admin_topics(kafka_broker: TansuBroker, msg_ctx: MakeMsgCtx, name: str) -> None:
    base = {"brokers": kafka_broker.bootstrap}
    created = await step(
        "kafka.admin.topics",
        {**base, "action": "create", "topics": [{"name": name, "partitions": 3}]},
        msg_ctx(),
    )
    assert created.document == [name]
    listed = await step("kafka.admin.topics", base, msg_ctx())
    assert name in listed.fields["topics"]
    with pytest.raises(StepFailure, match=f"{name}: .*exists"):
        await step("kafka.admin.topics", {**base, "action": "create", "topics": [name]}, msg_ctx())
    again = await step(
        "kafka.admin.topics",
        {**base, "action": "create", "topics": [name], "exist_ok": True},
        msg_ctx(),
    )
    assert again.document == [name]
    await step("kafka.admin.topics", {**base, "action": "delete", "topics": [name]}, msg_ctx())
    assert name not in (await step("kafka.admin.topics", base, msg_ctx())).document
    with pytest.raises(StepFailure, match="UnknownTopicOrPartition"):
        await step("kafka.admin.topics", {**base, "action": "delete", "topics": [name]}, msg_ctx())


async def test_multi_partition_topic_consumes_all_partitions(
    kafka_broker: TansuBroker, msg_ctx: MakeMsgCtx, name: str
) -> None:
    base = {"brokers": kafka_broker.bootstrap}
    await step(
        "kafka.admin.topics",
        {**base, "action": "create", "topics": [{"name": name, "partitions": 3}]},
        msg_ctx(),
    )
    await produce(
        kafka_broker, msg_ctx(), name, messages=[{"value": i, "partition": i % 3} for i in range(6)]
    )
    out = await step(
        "kafka.consume", {**base, "topic": name, "start": "earliest", "count": 6}, msg_ctx()
    )
    assert sorted(m["value"] for m in out.document) == list(range(6))
    assert {m["partition"] for m in out.document} == {0, 1, 2}


async def test_unreachable_broker_fails_fast_naming_the_address(
    msg_ctx: MakeMsgCtx, name: str
) -> None:
    t0 = time.monotonic()
    for kind, extra in (
        ("kafka.consume", {"topic": name}),
        ("kafka.produce", {"topic": name, "value": 1}),
    ):
        with pytest.raises(StepFailure, match=r"127\.0\.0\.1:1\b"):
            await step(kind, {"brokers": "127.0.0.1:1", **extra}, msg_ctx(timeout=3))
    assert time.monotonic() - t0 < 6.5  # never beyond the two step timeouts


async def test_missing_topic_times_out_with_the_topic_named(
    kafka_broker: TansuBroker, msg_ctx: MakeMsgCtx
) -> None:
    with pytest.raises(StepFailure, match="tf-no-such-topic") as info:
        await step(
            "kafka.consume",
            {"brokers": kafka_broker.bootstrap, "topic": "tf-no-such-topic", "within": "500ms"},
            msg_ctx(),
        )
    assert info.value.type == "Timeout"


def test_bad_input_is_rejected_with_clear_messages() -> None:
    with pytest.raises(ValidationError, match="nothing to produce"):
        KINDS["kafka.produce"].parse_config({"brokers": "x:1", "topic": "t"})
    with pytest.raises(ValidationError, match="give `topic` or `topics`"):
        KINDS["kafka.consume"].parse_config({"brokers": "x:1"})
    with pytest.raises(ValidationError, match="start"):
        KINDS["kafka.consume"].parse_config({"brokers": "x:1", "topic": "t", "start": "beginning"})
    with pytest.raises(ValidationError, match="needs `topics`"):
        KINDS["kafka.admin.topics"].parse_config({"brokers": "x:1", "action": "delete"})


async def test_flow_start_without_run_start_is_a_config_error(msg_ctx: MakeMsgCtx) -> None:
    ctx = msg_ctx()
    ctx.variables.clear()
    with pytest.raises(StepFailure, match=r"run\.started_at") as info:
        await step(
            "kafka.consume", {"brokers": "127.0.0.1:1", "topic": "t", "start": "flow_start"}, ctx
        )
    assert info.value.type == "InvalidConfig"


def test_within_counts_from_the_first_attempt() -> None:
    """``started_at`` from the heartbeat moves the deadline: a retry does not restart the clock."""
    from testflow.activities.matching import Waiter

    config = KINDS["kafka.consume"].parse_config({"brokers": "x:1", "topic": "t", "within": "10s"})
    ctx = StepContext("r", "f", "s", "k", {}, {}, {}, deadline=time.monotonic() + 60)
    fresh = Waiter(config, ctx, "t")
    resumed = Waiter(config, ctx, "t", resumed={"started_at": time.time() - 8})
    assert 9 < fresh.remaining() <= 10
    assert resumed.remaining() < 2.5
    assert timedelta(seconds=10) == config.within


@pytest.mark.workflow
async def test_produce_and_consume_in_a_flow_on_a_real_worker(
    kafka_broker: TansuBroker, temporal_client: Any, settings: Any, task_queue: str, name: str
) -> None:
    """Through the interpreter, the runner and Temporal: run.started_at reaches flow_start,
    the consume runs as a regular heartbeating activity, and extract reads the message."""
    from tests.workflows.helpers import run_flow

    flow = {
        "context": {"brokers": kafka_broker.bootstrap},
        "steps": [
            {
                "id": "send",
                "type": "kafka.produce",
                "brokers": "{{ brokers }}",
                "topic": name,
                "key": "order-1",
                "value": {"id": "order-1", "total": 30},
            },
            {
                "id": "event",
                "type": "kafka.consume",
                "brokers": "{{ brokers }}",
                "topic": name,
                "start": "flow_start",
                "match": {"key": "order-1"},
                "within": "10s",
                "extract": {"total": "$[0].value.total"},
                "assert": {"count": 1, "$[0].value.id": "order-1"},
            },
        ],
    }
    result, _ = await run_flow(temporal_client, settings, task_queue, flow)
    assert result.status == "passed", [s.error for s in result.steps]
    event = next(s for s in result.steps if s.step_id == "event")
    assert event.extracted == {"total": 30}
    assert event.summary.startswith(f"consumed 1 of 1 from {name}")
