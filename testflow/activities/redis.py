"""Executors of the ``redis.*`` step kinds (redis-py asyncio, one client per URL per worker).

Every command runs within the step's remaining time; an unreachable server is an
``InfraError`` naming host and port, and an error reply (WRONGTYPE, unknown command) a
``StepFailed`` quoting Redis's message and the command (keys only: values may be secrets).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from testflow.activities import pools
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl.kinds.redis import (
    RedisCommandConfig,
    RedisGetConfig,
    RedisHgetConfig,
    RedisHsetConfig,
    RedisKeysConfig,
    RedisLpushConfig,
    RedisLrangeConfig,
    RedisPublishConfig,
    RedisSetConfig,
    RedisTarget,
    RedisXaddConfig,
    RedisXreadConfig,
    ValueFormat,
    check_redis_url,
)


async def _client(url: str) -> Any:
    import redis.asyncio as aioredis

    async def make() -> Any:
        return aioredis.Redis.from_url(url, socket_connect_timeout=10, decode_responses=False)

    async def close(client: Any) -> None:
        await client.aclose()

    return await pools.get_or_create("redis", url, make, close)


def encode(value: Any) -> str | int | float:
    """What is sent for a value: strings and numbers as they are, anything else as JSON."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    return json.dumps(value, ensure_ascii=False)


def decode(value: Any, fmt: ValueFormat) -> Any:
    """A reply value as text (base64 when binary) or parsed JSON."""
    text = pools.jsonable(value)
    if fmt == "json" and isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise StepFailure(f"the value is not JSON ({exc}): {text[:200]!r}") from None
    return text


async def _run(
    config: RedisTarget,
    ctx: StepContext,
    what: str,
    call: Callable[[Any], Awaitable[tuple[Any, dict[str, Any], str]]],
) -> Output:
    """Run ``call(client)`` within the step's time and map Redis errors onto step failures.

    ``call`` returns (document, fields, summary); ``what`` names the command for messages.
    """
    from redis import exceptions as rexc

    url = ctx.resolve_url_files(ctx.resolve_dsn(config.dsn, config.connection), "Redis URL")
    try:
        check_redis_url(url)
    except ValueError as exc:
        raise StepFailure(str(exc), type="InvalidConfig", retryable=False) from None
    address = pools.host_port(url, 6379)
    budget = ctx.remaining()
    started = time.perf_counter()
    try:
        client = await _client(url)
        async with asyncio.timeout(budget):
            document, fields, summary = await call(client)
    except TimeoutError:
        raise StepFailure(
            f"Redis at {address} did not answer {what} within {budget:.1f}s", type="Timeout"
        ) from None
    except rexc.ResponseError as exc:
        raise StepFailure(
            f"Redis error: {exc}\ncommand: {what}", details={"command": what}
        ) from None
    except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
        raise StepFailure(
            f"cannot connect to Redis at {address}: {exc}",
            type="InfraError",
            details={"address": address},
        ) from None
    fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return Output(
        document=document,
        fields=fields,
        summary=summary,
        request={"dsn": pools.redact_dsn(url), "command": what},
        response={k: v for k, v in fields.items() if k != "duration_ms"},
    )


async def redis_get(config: RedisGetConfig, ctx: StepContext) -> Output:
    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        raw = await c.get(config.key)
        value = None if raw is None else decode(raw, config.format)
        return (
            value,
            {"value": value, "exists": raw is not None},
            f"GET {config.key}: {'hit' if raw is not None else 'miss'}",
        )

    return await _run(config, ctx, f"GET {config.key}", call)


async def redis_set(config: RedisSetConfig, ctx: StepContext) -> Output:
    if config.nx and config.xx:
        raise StepFailure("give at most one of nx and xx", type="InvalidConfig", retryable=False)
    ttl_ms = int(config.ttl.total_seconds() * 1000) if config.ttl is not None else None

    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        ok = await c.set(config.key, encode(config.value), px=ttl_ms, nx=config.nx, xx=config.xx)
        return config.value, {"ok": bool(ok)}, f"SET {config.key}: {'OK' if ok else 'not set'}"

    return await _run(config, ctx, f"SET {config.key}", call)


async def redis_del(config: RedisKeysConfig, ctx: StepContext) -> Output:
    keys = config.keys()

    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        deleted = int(await c.delete(*keys))
        return deleted, {"deleted": deleted}, f"DEL {len(keys)} key(s): {deleted} deleted"

    return await _run(config, ctx, f"DEL {' '.join(keys)}", call)


async def redis_exists(config: RedisKeysConfig, ctx: StepContext) -> Output:
    keys = config.keys()

    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        # EXISTS counts a key once per mention: dedupe so "all exist" is count == len(keys).
        unique = list(dict.fromkeys(keys))
        count = int(await c.exists(*unique))
        exists = count == len(unique)
        return exists, {"exists": exists, "count": count}, f"EXISTS: {count}/{len(unique)}"

    return await _run(config, ctx, f"EXISTS {' '.join(keys)}", call)


async def redis_hget(config: RedisHgetConfig, ctx: StepContext) -> Output:
    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        if config.field is None:
            raw = await c.hgetall(config.key)
            value: Any = {pools.jsonable(k): decode(v, config.format) for k, v in raw.items()}
            return (
                value,
                {"value": value, "exists": bool(raw)},
                f"HGETALL {config.key}: {len(raw)} field(s)",
            )
        item = await c.hget(config.key, config.field)
        value = None if item is None else decode(item, config.format)
        return (
            value,
            {"value": value, "exists": item is not None},
            f"HGET {config.key} {config.field}",
        )

    what = f"HGET {config.key} {config.field}" if config.field else f"HGETALL {config.key}"
    return await _run(config, ctx, what, call)


async def redis_hset(config: RedisHsetConfig, ctx: StepContext) -> Output:
    mapping = {k: encode(v) for k, v in config.values.items()}

    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        added = int(await c.hset(config.key, mapping=mapping))
        return added, {"added": added}, f"HSET {config.key}: {added} new field(s)"

    return await _run(config, ctx, f"HSET {config.key}", call)


async def redis_lpush(config: RedisLpushConfig, ctx: StepContext) -> Output:
    values = [encode(v) for v in config.values]

    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        length = int(await c.lpush(config.key, *values))
        return length, {"length": length}, f"LPUSH {config.key}: length {length}"

    return await _run(config, ctx, f"LPUSH {config.key}", call)


async def redis_lrange(config: RedisLrangeConfig, ctx: StepContext) -> Output:
    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        items = [
            decode(v, config.format) for v in await c.lrange(config.key, config.start, config.stop)
        ]
        return (
            items,
            {"items": items, "length": len(items)},
            f"LRANGE {config.key}: {len(items)} item(s)",
        )

    return await _run(config, ctx, f"LRANGE {config.key} {config.start} {config.stop}", call)


async def redis_xadd(config: RedisXaddConfig, ctx: StepContext) -> Output:
    values = {k: encode(v) for k, v in config.values.items()}

    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        entry = pools.jsonable(
            await c.xadd(config.stream, values, id=config.id, maxlen=config.maxlen)
        )
        return entry, {"id": entry}, f"XADD {config.stream}: {entry}"

    return await _run(config, ctx, f"XADD {config.stream}", call)


async def redis_xread(config: RedisXreadConfig, ctx: StepContext) -> Output:
    # Block at most until shortly before the deadline, so an empty read is a normal result
    # (count 0) rather than a timeout; a `poll` around the step turns it into "wait until".
    block_ms: int | None = None
    if config.block is not None:
        block_ms = max(1, int(min(config.block.total_seconds(), ctx.remaining() - 0.5) * 1000))

    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        reply = await c.xread(dict(config.streams), count=config.count, block=block_ms)
        messages = []
        last_ids = dict(config.streams)
        for stream, entries in reply or []:
            name = pools.jsonable(stream)
            for entry_id, values in entries:
                eid = pools.jsonable(entry_id)
                decoded = {pools.jsonable(k): decode(v, config.format) for k, v in values.items()}
                messages.append({"stream": name, "id": eid, "values": decoded})
                last_ids[name] = eid
        fields = {"messages": messages, "count": len(messages), "last_ids": last_ids}
        return (
            messages,
            fields,
            f"XREAD: {len(messages)} entr{'y' if len(messages) == 1 else 'ies'}",
        )

    return await _run(config, ctx, f"XREAD STREAMS {' '.join(config.streams)}", call)


async def redis_publish(config: RedisPublishConfig, ctx: StepContext) -> Output:
    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        receivers = int(await c.publish(config.channel, encode(config.message)))
        return (
            receivers,
            {"receivers": receivers},
            f"PUBLISH {config.channel}: {receivers} receiver(s)",
        )

    return await _run(config, ctx, f"PUBLISH {config.channel}", call)


async def redis_command(config: RedisCommandConfig, ctx: StepContext) -> Output:
    name = str(config.args[0]).upper()

    async def call(c: Any) -> tuple[Any, dict[str, Any], str]:
        result = pools.jsonable(await c.execute_command(*config.args))
        return result, {"result": result}, f"{name}: {str(result)[:80]}"

    # Only the command name and first argument (usually a key) appear in messages.
    shown = " ".join(str(a) for a in config.args[:2])
    return await _run(config, ctx, shown, call)
