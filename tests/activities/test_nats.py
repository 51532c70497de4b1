"""NATS steps against the real nats-server with JetStream (127.0.0.1:4222)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from pydantic import ValidationError

from testflow.activities import nats as nats_steps
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl.kinds.nats import NATS_KINDS
from tests.activities.conftest_messaging import MakeMsgCtx

pytestmark = pytest.mark.service

KINDS = {k.name: k for k in NATS_KINDS}
EXECUTORS = {
    "nats.publish": nats_steps.publish,
    "nats.request": nats_steps.request,
    "nats.subscribe": nats_steps.subscribe,
}


async def step(kind: str, config: dict[str, Any], ctx: StepContext) -> Output:
    return await EXECUTORS[kind](KINDS[kind].parse_config(config), ctx)


async def until_heartbeat(ctx: StepContext) -> None:
    for _ in range(200):
        if ctx.beats:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the subscribe never heartbeated")


@pytest.fixture
async def client(nats_url: str) -> AsyncIterator[NatsClient]:
    nc = await nats.connect(nats_url)
    try:
        yield nc
    finally:
        await nc.close()


@pytest.fixture
async def stream(client: NatsClient, name: str) -> AsyncIterator[str]:
    """A JetStream stream (memory storage) on ``<name>.>``, deleted after the test."""
    js = client.jetstream()
    await js.add_stream(name=name, subjects=[f"{name}.>"], storage="memory")
    try:
        yield name
    finally:
        await js.delete_stream(name)


async def test_core_publish_subscribe_with_wildcards_and_headers(
    nats_url: str, msg_ctx: MakeMsgCtx, name: str
) -> None:
    ctx = msg_ctx()
    config = {
        "url": nats_url,
        "subject": f"{name}.*.created",
        "count": 2,
        "match": {"headers": {"tenant": "acme"}},
    }
    task = asyncio.create_task(step("nats.subscribe", config, ctx))
    await until_heartbeat(ctx)
    messages = [
        {"subject": f"{name}.order.created", "value": {"id": 1}, "headers": {"tenant": "other"}},
        {"subject": f"{name}.order.created", "value": {"id": 2}, "headers": {"tenant": "acme"}},
        {"subject": f"{name}.order.deleted", "value": {"id": 3}, "headers": {"tenant": "acme"}},
        {"subject": f"{name}.invoice.created", "value": {"id": 4}, "headers": {"tenant": "acme"}},
    ]
    await step("nats.publish", {"url": nats_url, "messages": messages}, msg_ctx())
    out = await task
    assert [m["value"]["id"] for m in out.document] == [2, 4]
    assert out.fields["seen"] == 3


async def test_request_reply(
    client: NatsClient, nats_url: str, msg_ctx: MakeMsgCtx, name: str
) -> None:
    async def price(msg: Msg) -> None:
        await msg.respond(b'{"sku": "A1", "price": 12.5}')

    await client.subscribe(f"{name}.price", cb=price)
    await client.flush()
    out = await step(
        "nats.request",
        {"url": nats_url, "subject": f"{name}.price", "value": {"sku": "A1"}},
        msg_ctx(),
    )
    assert out.document == {"sku": "A1", "price": 12.5}
    with pytest.raises(StepFailure, match="no service answers"):
        await step(
            "nats.request", {"url": nats_url, "subject": f"{name}.nobody", "value": 1}, msg_ctx()
        )


async def test_jetstream_publish_and_flow_start(
    nats_url: str, stream: str, msg_ctx: MakeMsgCtx
) -> None:
    publish = {"url": nats_url, "jetstream": True}
    await step(
        "nats.publish", {**publish, "subject": f"{stream}.a", "value": "before the run"}, msg_ctx()
    )
    await asyncio.sleep(0.05)
    run_started = datetime.now(UTC)
    await asyncio.sleep(0.05)
    sent = await step(
        "nats.publish", {**publish, "subject": f"{stream}.a", "value": "during the run"}, msg_ctx()
    )
    assert sent.document[0]["stream"] == stream and sent.document[0]["seq"] == 2
    config = {"url": nats_url, "subject": f"{stream}.>", "jetstream": {"start": "flow_start"}}
    out = await step("nats.subscribe", config, msg_ctx(run_started_at=run_started))
    assert out.fields["message"]["value"] == "during the run" and out.fields["message"]["seq"] == 2
    earliest = await step(
        "nats.subscribe", {**config, "jetstream": {"start": "earliest"}, "count": 2}, msg_ctx()
    )
    assert [m["seq"] for m in earliest.document] == [1, 2]


async def test_jetstream_resume_after_crash_finds_each_message_once(
    nats_url: str, stream: str, msg_ctx: MakeMsgCtx
) -> None:
    publish = {"url": nats_url, "jetstream": True, "subject": f"{stream}.e"}
    await step(
        "nats.publish", {**publish, "value": {"n": 0}}, msg_ctx()
    )  # before the step: ignored
    config = {
        "url": nats_url,
        "subject": f"{stream}.>",
        "jetstream": True,
        "count": 2,
        "match": {"$.ok": True},
    }
    first = msg_ctx(timeout=30)
    task = asyncio.create_task(step("nats.subscribe", config, first))
    await until_heartbeat(first)
    await step("nats.publish", {**publish, "value": {"n": 1, "ok": True}}, msg_ctx())
    for _ in range(200):
        if first.beats[-1]["matched"]:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await step(
        "nats.publish", {**publish, "value": {"n": 2, "ok": True}}, msg_ctx()
    )  # nobody reads now
    out = await step("nats.subscribe", config, msg_ctx(heartbeat_details=[first.beats[-1]]))  # type: ignore[attr-defined]
    assert [m["value"]["n"] for m in out.document] == [1, 2]
    assert [m["seq"] for m in out.document] == [2, 3]


async def test_jetstream_publish_without_stream_is_a_clear_error(
    nats_url: str, msg_ctx: MakeMsgCtx, name: str
) -> None:
    with pytest.raises(StepFailure, match="no JetStream stream stores"):
        await step(
            "nats.publish",
            {"url": nats_url, "jetstream": True, "subject": f"{name}.x", "value": 1},
            msg_ctx(),
        )


async def test_timeout_and_unreachable(nats_url: str, msg_ctx: MakeMsgCtx, name: str) -> None:
    with pytest.raises(StepFailure) as info:
        await step(
            "nats.subscribe", {"url": nats_url, "subject": name, "within": "500ms"}, msg_ctx()
        )
    assert info.value.type == "Timeout"
    t0 = time.monotonic()
    with pytest.raises(StepFailure, match=r"127\.0\.0\.1:1\b"):
        await step(
            "nats.publish",
            {"url": "nats://127.0.0.1:1", "subject": name, "value": 1},
            msg_ctx(timeout=3),
        )
    assert time.monotonic() - t0 < 3.5


def test_bad_input() -> None:
    with pytest.raises(ValidationError, match="wildcards"):
        KINDS["nats.publish"].parse_config({"url": "nats://x", "subject": "a.*", "value": 1})
    with pytest.raises(ValidationError, match="queue"):
        KINDS["nats.subscribe"].parse_config(
            {"url": "nats://x", "subject": "a", "queue": "q", "jetstream": True}
        )
