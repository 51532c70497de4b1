"""MQTT steps against the real Mosquitto (127.0.0.1:1883)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pydantic import ValidationError

from testflow.activities import mqtt
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl.kinds.mqtt import MQTT_KINDS
from tests.activities.conftest_messaging import MakeMsgCtx

pytestmark = pytest.mark.service

KINDS = {k.name: k for k in MQTT_KINDS}
EXECUTORS = {"mqtt.publish": mqtt.publish, "mqtt.subscribe": mqtt.subscribe}


async def step(kind: str, config: dict[str, Any], ctx: StepContext) -> Output:
    return await EXECUTORS[kind](KINDS[kind].parse_config(config), ctx)


async def until_heartbeat(ctx: StepContext) -> None:
    for _ in range(200):
        if ctx.beats:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the subscribe never heartbeated")


@pytest.fixture
def url(mqtt_address: tuple[str, int]) -> str:
    return f"mqtt://{mqtt_address[0]}:{mqtt_address[1]}"


async def test_wildcards_match_and_count(url: str, msg_ctx: MakeMsgCtx, name: str) -> None:
    ctx = msg_ctx()
    config = {"url": url, "topic": f"{name}/+/status", "count": 2, "match": {"$.online": True}}
    task = asyncio.create_task(step("mqtt.subscribe", config, ctx))
    await until_heartbeat(ctx)
    messages = [
        {"topic": f"{name}/a/status", "value": {"online": False}},
        {"topic": f"{name}/a/other", "value": {"online": True}},
        {"topic": f"{name}/b/status", "value": {"online": True}, "qos": 2},
        {"topic": f"{name}/c/status", "value": {"online": True}, "qos": 0},
    ]
    sent = await step("mqtt.publish", {"url": url, "messages": messages}, msg_ctx())
    assert sent.fields["count"] == 4
    out = await task
    assert [m["topic"] for m in out.document] == [f"{name}/b/status", f"{name}/c/status"]
    assert out.fields["seen"] == 3  # a/other is outside the filter
    assert out.summary.startswith(f"consumed 2 of 2 from {name}/+/status")


async def test_retained_messages_are_skipped_unless_asked_for(
    url: str, msg_ctx: MakeMsgCtx, name: str
) -> None:
    topic = f"{name}/config"
    await step(
        "mqtt.publish", {"url": url, "topic": topic, "value": "v1", "retain": True}, msg_ctx()
    )
    with pytest.raises(StepFailure) as info:
        await step("mqtt.subscribe", {"url": url, "topic": topic, "within": "600ms"}, msg_ctx())
    assert info.value.type == "Timeout" and info.value.details["seen"] == 0
    out = await step("mqtt.subscribe", {"url": url, "topic": topic, "retained": True}, msg_ctx())
    assert out.fields["message"]["value"] == "v1" and out.fields["message"]["retain"] is True
    await step(
        "mqtt.publish",
        {"url": url, "topic": topic, "value": "", "format": "text", "retain": True},
        msg_ctx(),
    )


async def test_mqtt5_user_properties_as_headers(url: str, msg_ctx: MakeMsgCtx, name: str) -> None:
    ctx = msg_ctx()
    config = {
        "url": url,
        "protocol": "5",
        "topic": f"{name}/#",
        "match": {"headers": {"trace": "t-1"}},
    }
    task = asyncio.create_task(step("mqtt.subscribe", config, ctx))
    await until_heartbeat(ctx)
    publish = {"url": url, "protocol": "5", "topic": f"{name}/x", "value": {"n": 1}}
    await step("mqtt.publish", {**publish, "user_properties": {"trace": "t-0"}}, msg_ctx())
    await step("mqtt.publish", {**publish, "user_properties": {"trace": "t-1"}}, msg_ctx())
    out = await task
    assert out.fields["message"]["headers"] == {"trace": "t-1"}


async def test_persistent_session_keeps_messages_sent_during_a_crash(
    url: str, msg_ctx: MakeMsgCtx, name: str
) -> None:
    config = {"url": url, "topic": f"{name}/events", "qos": 1, "match": {"$.n": 2}}
    first = msg_ctx(timeout=30)
    task = asyncio.create_task(step("mqtt.subscribe", config, first))
    await until_heartbeat(first)
    task.cancel()  # the worker dies; the broker keeps the session (same client id on retry)
    with pytest.raises(asyncio.CancelledError):
        await task
    await step(
        "mqtt.publish",
        {"url": url, "topic": f"{name}/events", "value": {"n": 2}, "qos": 1},
        msg_ctx(),
    )
    second = msg_ctx(heartbeat_details=[first.beats[-1]])  # type: ignore[attr-defined]
    second.run_id = first.run_id
    out = await step("mqtt.subscribe", config, second)
    assert out.fields["message"]["value"] == {"n": 2}


async def test_unreachable_broker_fails_fast_naming_the_address(
    msg_ctx: MakeMsgCtx, name: str
) -> None:
    t0 = time.monotonic()
    with pytest.raises(StepFailure, match=r"127\.0\.0\.1:1\b"):
        await step(
            "mqtt.publish",
            {"url": "mqtt://127.0.0.1:1", "topic": name, "value": 1},
            msg_ctx(timeout=3),
        )
    with pytest.raises(StepFailure, match=r"127\.0\.0\.1:1\b"):
        await step(
            "mqtt.subscribe", {"url": "mqtt://127.0.0.1:1", "topic": name}, msg_ctx(timeout=3)
        )
    assert time.monotonic() - t0 < 6.5


def test_bad_input() -> None:
    with pytest.raises(ValidationError, match="wildcards"):
        KINDS["mqtt.publish"].parse_config({"url": "mqtt://x", "topic": "a/+", "value": 1})
    with pytest.raises(ValidationError, match="protocol: '5'"):
        KINDS["mqtt.publish"].parse_config(
            {"url": "mqtt://x", "topic": "a", "value": 1, "user_properties": {"a": "b"}}
        )
    with pytest.raises(ValidationError, match="give `topic` or `topics`"):
        KINDS["mqtt.subscribe"].parse_config({"url": "mqtt://x"})
