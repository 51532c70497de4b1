"""Redis steps against the real local Redis: every verb, JSON values, errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from testflow.activities import redis as redis_steps
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl.kinds.redis import REDIS_KINDS
from tests.activities.conftest_services_sql import REDIS_URL, MakeCtx

pytestmark = pytest.mark.service

KINDS = {k.name: k for k in REDIS_KINDS}


async def step(kind: str, config: dict[str, Any], ctx: StepContext) -> Output:
    """Validate ``config`` with the kind's model (as the runner does) and run the executor."""
    parsed = KINDS[kind].parse_config({"dsn": REDIS_URL, **config})
    executor = getattr(redis_steps, KINDS[kind].executor.split(":")[1])  # type: ignore[union-attr]
    return await executor(parsed, ctx)


async def test_set_get_exists_del(unique: str, make_ctx: MakeCtx) -> None:
    out = await step(
        "redis.set", {"key": unique, "value": {"status": "PAID", "n": 2}, "ttl": "30s"}, make_ctx()
    )
    assert out.fields["ok"] is True
    out = await step("redis.get", {"key": unique, "format": "json"}, make_ctx())
    assert out.document == {"status": "PAID", "n": 2}
    assert out.fields["exists"] is True
    out = await step("redis.get", {"key": unique}, make_ctx())
    assert out.document == '{"status": "PAID", "n": 2}'
    out = await step("redis.set", {"key": unique, "value": "x", "nx": True}, make_ctx())
    assert out.fields["ok"] is False  # NX: the key exists
    out = await step("redis.exists", {"key": [unique, f"{unique}_missing"]}, make_ctx())
    assert out.fields == {"exists": False, "count": 1, "duration_ms": out.fields["duration_ms"]}
    out = await step("redis.del", {"key": [unique, f"{unique}_missing"]}, make_ctx())
    assert out.fields["deleted"] == 1
    out = await step("redis.get", {"key": unique}, make_ctx())
    assert out.document is None and out.fields["exists"] is False


async def test_ttl_is_applied(unique: str, make_ctx: MakeCtx) -> None:
    await step("redis.set", {"key": unique, "value": 5, "ttl": "90s"}, make_ctx())
    out = await step("redis.command", {"args": ["PTTL", unique]}, make_ctx())
    assert 0 < out.document <= 90_000
    await step("redis.del", {"key": unique}, make_ctx())


async def test_hash(unique: str, make_ctx: MakeCtx) -> None:
    out = await step(
        "redis.hset", {"key": unique, "values": {"email": "a@b.c", "age": 41}}, make_ctx()
    )
    assert out.document == 2
    out = await step("redis.hget", {"key": unique, "field": "email"}, make_ctx())
    assert out.document == "a@b.c"
    out = await step("redis.hget", {"key": unique}, make_ctx())
    assert out.document == {"email": "a@b.c", "age": "41"}
    out = await step("redis.hget", {"key": unique, "field": "nope"}, make_ctx())
    assert out.fields["exists"] is False
    await step("redis.del", {"key": unique}, make_ctx())


async def test_list(unique: str, make_ctx: MakeCtx) -> None:
    out = await step("redis.lpush", {"key": unique, "values": ["a", {"job": 2}]}, make_ctx())
    assert out.fields["length"] == 2
    out = await step("redis.lrange", {"key": unique}, make_ctx())
    assert out.document == ['{"job": 2}', "a"]
    out = await step(
        "redis.lrange", {"key": unique, "start": 0, "stop": 0, "format": "json"}, make_ctx()
    )
    assert out.document == [{"job": 2}]
    await step("redis.del", {"key": unique}, make_ctx())


async def test_stream_add_and_read(unique: str, make_ctx: MakeCtx) -> None:
    first = await step(
        "redis.xadd", {"stream": unique, "values": {"order": "o-1", "total": 10}}, make_ctx()
    )
    await step("redis.xadd", {"stream": unique, "values": {"order": "o-2"}}, make_ctx())
    out = await step("redis.xread", {"stream": unique}, make_ctx())
    assert [m["values"]["order"] for m in out.document] == ["o-1", "o-2"]
    assert out.document[0] == {
        "stream": unique,
        "id": first.fields["id"],
        "values": {"order": "o-1", "total": "10"},
    }
    out = await step(
        "redis.xread",
        {"streams": {unique: out.fields["last_ids"][unique]}, "block": "200ms"},
        make_ctx(),
    )
    assert out.fields["count"] == 0  # nothing new: an empty read, not an error
    await step("redis.del", {"key": unique}, make_ctx())


async def test_xread_block_waits_for_a_new_entry(unique: str, make_ctx: MakeCtx) -> None:
    reader = asyncio.create_task(
        step("redis.xread", {"streams": {unique: "$"}, "block": "5s"}, make_ctx())
    )
    await asyncio.sleep(0.2)
    await step("redis.xadd", {"stream": unique, "values": {"late": "yes"}}, make_ctx())
    out = await reader
    assert [m["values"] for m in out.document] == [{"late": "yes"}]
    await step("redis.del", {"key": unique}, make_ctx())


async def test_publish_reaches_a_subscriber(unique: str, make_ctx: MakeCtx) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    pubsub = client.pubsub()
    await pubsub.subscribe(unique)
    await pubsub.get_message(timeout=1.0)  # the subscribe confirmation
    out = await step("redis.publish", {"channel": unique, "message": {"type": "ping"}}, make_ctx())
    assert out.fields["receivers"] == 1
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2.0)
    assert message is not None and message["data"] == b'{"type": "ping"}'
    await pubsub.aclose()
    await client.aclose()


async def test_command_and_error_reply(unique: str, make_ctx: MakeCtx) -> None:
    out = await step("redis.command", {"args": ["INCRBY", unique, 5]}, make_ctx())
    assert out.document == 5
    with pytest.raises(StepFailure) as info:
        await step("redis.lrange", {"key": unique}, make_ctx())  # a string, not a list
    assert info.value.type == "StepFailed"
    assert "WRONGTYPE" in info.value.message and f"LRANGE {unique}" in info.value.message
    await step("redis.del", {"key": unique}, make_ctx())


async def test_unreachable_redis_names_host_and_port(make_ctx: MakeCtx) -> None:
    kind = KINDS["redis.get"]
    config = kind.parse_config({"dsn": "redis://:hunter2@127.0.0.1:9/0", "key": "k"})
    with pytest.raises(StepFailure) as info:
        await redis_steps.redis_get(config, make_ctx(timeout=5))
    assert info.value.type == "InfraError"
    assert "127.0.0.1:9" in info.value.message and "hunter2" not in info.value.message


def test_bad_url_is_a_validation_error() -> None:
    kind = KINDS["redis.get"]
    assert kind.config_problems({"dsn": "http://x", "key": "k"})
    assert kind.config_problems({"dsn": "redis://h:port/0", "key": "k"})
    assert kind.config_problems({"dsn": "{{ env.REDIS }}", "key": "k"}) == []
    assert kind.config_problems({"key": "k"})  # neither dsn nor connection
