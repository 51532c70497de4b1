"""AMQP steps against the real RabbitMQ (127.0.0.1:5672, guest/guest)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractConnection
from pydantic import ValidationError

from testflow.activities import amqp
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl.kinds.amqp import AMQP_KINDS
from tests.activities.conftest_messaging import MakeMsgCtx

pytestmark = pytest.mark.service

KINDS = {k.name: k for k in AMQP_KINDS}
EXECUTORS = {"amqp.publish": amqp.publish, "amqp.consume": amqp.consume}


async def step(kind: str, config: dict[str, Any], ctx: StepContext) -> Output:
    return await EXECUTORS[kind](KINDS[kind].parse_config(config), ctx)


@pytest.fixture
async def connection(amqp_url: str) -> AsyncIterator[AbstractConnection]:
    conn = await aio_pika.connect(amqp_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def channel(connection: AbstractConnection) -> AbstractChannel:
    """A channel of the test's own, to set up queues/exchanges and to look at what is left."""
    return await connection.channel()


async def until_heartbeat(ctx: StepContext) -> None:
    for _ in range(200):
        if ctx.beats:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the consume never heartbeated")


async def test_publish_to_queue_and_consume_matching_leaves_the_rest(
    amqp_url: str, channel: AbstractChannel, msg_ctx: MakeMsgCtx, name: str
) -> None:
    queue = await channel.declare_queue(name, arguments={"x-expires": 60_000})
    messages = [
        {"value": {"id": 1, "status": "NEW"}},
        {
            "value": {"id": 2, "status": "PAID"},
            "headers": {"Kind": "order"},
            "properties": {"correlation_id": "c-2"},
        },
        {"value": "not json"},
    ]
    sent = await step(
        "amqp.publish", {"url": amqp_url, "routing_key": name, "messages": messages}, msg_ctx()
    )
    assert sent.fields["count"] == 3
    out = await step(
        "amqp.consume",
        {
            "url": amqp_url,
            "queue": name,
            "match": {"$.status": "PAID", "headers": {"kind": "order"}},
        },
        msg_ctx(),
    )
    message = out.fields["message"]
    assert message["value"] == {"id": 2, "status": "PAID"} and message["routing_key"] == name
    assert message["properties"]["correlation_id"] == "c-2"
    assert message["properties"]["content_type"] == "application/json"
    assert out.fields["seen"] >= 2
    left = []
    while (got := await queue.get(fail=False, timeout=2)) is not None:
        left.append(got.body)
        await got.ack()
    assert sorted(left) == [b"not json", b'{"id":1,"status":"NEW"}']
    await queue.delete(if_unused=False, if_empty=False)


async def test_bind_to_exchange_with_routing_keys(
    amqp_url: str,
    connection: AbstractConnection,
    channel: AbstractChannel,
    msg_ctx: MakeMsgCtx,
    name: str,
) -> None:
    await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, auto_delete=True)
    ctx = msg_ctx()
    config = {
        "url": amqp_url,
        "bind": {"exchange": name, "routing_keys": ["order.*"]},
        "count": 2,
        "match": {"value": {"ok": True}},
    }
    task = asyncio.create_task(step("amqp.consume", config, ctx))
    await until_heartbeat(ctx)
    publish = {"url": amqp_url, "exchange": name, "mandatory": False}
    await step(
        "amqp.publish",
        {**publish, "routing_key": "invoice.created", "value": {"ok": True}},
        msg_ctx(),
    )
    await step(
        "amqp.publish",
        {**publish, "routing_key": "order.created", "value": {"ok": False}},
        msg_ctx(),
    )
    await step(
        "amqp.publish",
        {**publish, "routing_key": "order.created", "value": {"ok": True, "n": 1}},
        msg_ctx(),
    )
    await step(
        "amqp.publish",
        {**publish, "routing_key": "order.paid", "value": {"ok": True, "n": 2}},
        msg_ctx(),
    )
    out = await task
    assert [(m["routing_key"], m["value"]["n"]) for m in out.document] == [
        ("order.created", 1),
        ("order.paid", 2),
    ]
    assert out.fields["seen"] == 3  # invoice.* never reached the step's queue
    with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):  # deleted after the step
        await (await connection.channel()).get_queue(out.fields["queue"], ensure=True)


async def test_retry_resumes_the_steps_queue_and_finds_what_came_during_the_crash(
    amqp_url: str, channel: AbstractChannel, msg_ctx: MakeMsgCtx, name: str
) -> None:
    await channel.declare_exchange(name, aio_pika.ExchangeType.FANOUT, auto_delete=False)
    config = {"url": amqp_url, "bind": {"exchange": name}, "match": {"$.n": 7}}
    first = msg_ctx(timeout=30)
    task = asyncio.create_task(step("amqp.consume", config, first))
    await until_heartbeat(first)
    task.cancel()  # the worker dies
    with pytest.raises(asyncio.CancelledError):
        await task
    await step("amqp.publish", {"url": amqp_url, "exchange": name, "value": {"n": 7}}, msg_ctx())
    second = msg_ctx(heartbeat_details=[first.beats[-1]])  # type: ignore[attr-defined]
    second.run_id = first.run_id  # the same step execution, a later attempt
    out = await step("amqp.consume", config, second)
    assert out.fields["message"]["value"] == {"n": 7}
    await channel.exchange_delete(name)


async def test_timeout_reports_samples(
    amqp_url: str, channel: AbstractChannel, msg_ctx: MakeMsgCtx, name: str
) -> None:
    queue = await channel.declare_queue(name, arguments={"x-expires": 60_000})
    await step("amqp.publish", {"url": amqp_url, "routing_key": name, "value": {"n": 1}}, msg_ctx())
    with pytest.raises(StepFailure) as info:
        await step(
            "amqp.consume",
            {"url": amqp_url, "queue": name, "match": {"$.n": 2}, "within": "700ms"},
            msg_ctx(),
        )
    assert info.value.type == "Timeout"
    assert info.value.details["non_matching_samples"][0]["message"]["value"] == {"n": 1}
    assert "$.n" in info.value.details["non_matching_samples"][0]["reason"]
    await queue.delete(if_unused=False, if_empty=False)


async def test_unroutable_and_missing_names_are_clear_errors(
    amqp_url: str, msg_ctx: MakeMsgCtx, name: str
) -> None:
    with pytest.raises(StepFailure, match="reached no queue"):
        await step(
            "amqp.publish",
            {"url": amqp_url, "routing_key": f"{name}-nobody", "value": 1},
            msg_ctx(),
        )
    with pytest.raises(StepFailure, match=f"no exchange '{name}'"):
        await step("amqp.publish", {"url": amqp_url, "exchange": name, "value": 1}, msg_ctx())
    with pytest.raises(StepFailure, match=f"no queue '{name}'"):
        await step("amqp.consume", {"url": amqp_url, "queue": name, "within": "1s"}, msg_ctx())


async def test_unreachable_broker_fails_fast_naming_the_address(msg_ctx: MakeMsgCtx) -> None:
    t0 = time.monotonic()
    with pytest.raises(StepFailure, match=r"127\.0\.0\.1:1\b") as info:
        await step(
            "amqp.publish",
            {"url": "amqp://guest:secret@127.0.0.1:1/", "routing_key": "q", "value": 1},
            msg_ctx(timeout=3),
        )
    assert "secret" not in info.value.message
    assert time.monotonic() - t0 < 3.5


def test_bad_input() -> None:
    with pytest.raises(ValidationError, match="exactly one of `queue`"):
        KINDS["amqp.consume"].parse_config({"url": "amqp://x"})
    with pytest.raises(ValidationError, match="nothing to publish"):
        KINDS["amqp.publish"].parse_config({"url": "amqp://x", "routing_key": "q"})
