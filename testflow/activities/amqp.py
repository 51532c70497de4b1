"""AMQP executors (aio-pika, RabbitMQ): ``amqp.publish`` and ``amqp.consume``.

One connection per broker URL per worker is pooled; every step opens its own channel on it.
Publishing uses publisher confirms, and ``mandatory`` turns an unroutable message into an
error instead of a silent drop.

``amqp.consume`` with ``bind`` reads a queue made for the step and bound to the exchange. The
queue is named after the run and step (``testflow.<run>.<step key>``), is not exclusive and
expires an hour after its last use: when the worker dies, the queue keeps collecting messages
and the retry (same name) picks them up -- the AMQP analogue of Kafka's heartbeated offsets.
It is deleted when the step ends. With ``queue`` (an existing queue), matched messages are
acknowledged (consumed) and the others are put back (nack + requeue) when the step ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, TypeVar

import aio_pika
import aiormq.exceptions
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue
from aiormq.abc import DeliveredMessage

from testflow.activities import pools
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.activities.matching import Waiter, decode_payload, encode_payload, resumed_state
from testflow.dsl.kinds.amqp import (
    AmqpClientOptions,
    AmqpConsumeConfig,
    AmqpMessage,
    AmqpPublishConfig,
)

T = TypeVar("T")
QUEUE_EXPIRES_MS = 3_600_000
"""A step's queue outlives a dead worker this long (after its last use) before RabbitMQ drops it."""
HEARTBEAT_EVERY = 1.0
CONTENT_TYPES = {
    "json": "application/json",
    "text": "text/plain",
    "base64": "application/octet-stream",
}
_ERRORS = (aiormq.exceptions.AMQPError, ConnectionError, OSError)


def _url(config: AmqpClientOptions, ctx: StepContext) -> str:
    if config.url:
        return ctx.resolve_url_files(config.url, "AMQP URL")  # cafile=, keyfile=...
    if config.connection:
        return ctx.resolve_url_files(ctx.resolve_dsn(None, config.connection), "AMQP URL")
    raise StepFailure(
        "the step needs a `url` (amqp://...) or a `connection`",
        type="InvalidConfig",
        retryable=False,
    )


async def _guard(what: str, url: str, ctx: StepContext, awaitable: Awaitable[T]) -> T:
    """Await a broker call within the step's time; name the broker (never its password)."""
    where = pools.host_port(url, 5672)
    try:
        return await asyncio.wait_for(awaitable, timeout=max(0.1, ctx.remaining()))
    except TimeoutError:
        raise StepFailure(
            f"RabbitMQ at {where} did not answer ({what}) within the step's time"
        ) from None
    except aiormq.exceptions.ChannelNotFoundEntity as exc:
        raise StepFailure(
            f"{what}: {_reply_text(exc)} (RabbitMQ at {where})", retryable=False
        ) from None
    except _ERRORS as exc:
        raise StepFailure(
            f"cannot {what} (RabbitMQ at {where}): {_reply_text(exc) or type(exc).__name__}"
        ) from None


def _reply_text(exc: BaseException) -> str:
    """The broker's reply text (``NOT_FOUND - no exchange 'x' in vhost '/'``) or the message."""
    frame = exc.args[0] if exc.args else None
    text = getattr(frame, "reply_text", None)
    return str(text) if text else str(exc)


async def _connection(url: str, ctx: StepContext) -> AbstractConnection:
    async def make() -> AbstractConnection:
        timeout = max(0.1, min(ctx.remaining(), 10.0))
        return await _guard("connect", url, ctx, aio_pika.connect(url, timeout=timeout))

    async def close(conn: AbstractConnection) -> None:
        await conn.close()

    conn: AbstractConnection = await pools.get_or_create("amqp.connection", url, make, close)
    if conn.is_closed:  # the broker restarted or dropped us: reconnect once
        await pools.discard("amqp.connection", url)
        conn = await pools.get_or_create("amqp.connection", url, make, close)
    return conn


def _message(item: AmqpMessage) -> aio_pika.Message:
    body = encode_payload(item.value, item.format)
    _, encoding = decode_payload(body)
    props = item.properties
    return aio_pika.Message(
        body,
        headers=item.headers or None,
        content_type=props.content_type or CONTENT_TYPES.get(encoding, "application/octet-stream"),
        content_encoding=props.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT if props.persistent else None,
        priority=props.priority,
        correlation_id=props.correlation_id,
        reply_to=props.reply_to,
        expiration=props.expiration,
        message_id=props.message_id,
        type=props.type,
        user_id=props.user_id,
        app_id=props.app_id,
    )


# -- amqp.publish ---------------------------------------------------------------------------


async def publish(config: AmqpPublishConfig, ctx: StepContext) -> Output:
    """Publish the step's messages in order, each confirmed by the broker."""
    url = _url(config, ctx)
    conn = await _connection(url, ctx)
    channel: AbstractChannel = await _guard(
        "open a channel", url, ctx, conn.channel(publisher_confirms=True)
    )
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    sent: list[dict[str, Any]] = []
    try:
        if config.exchange:
            exchange = await _guard(
                f"find exchange {config.exchange!r}",
                url,
                ctx,
                channel.get_exchange(config.exchange),
            )
        else:
            exchange = channel.default_exchange
        for item in config.all_messages():
            key = item.routing_key if item.routing_key is not None else config.routing_key
            returned = await _guard(
                "publish",
                url,
                ctx,
                exchange.publish(_message(item), routing_key=key, mandatory=config.mandatory),
            )
            if isinstance(returned, DeliveredMessage):  # basic.return: unroutable
                reason = getattr(returned.delivery, "reply_text", "NO_ROUTE")
                raise StepFailure(
                    f"message to exchange {config.exchange or '(default)'!r} with routing key "
                    f"{key!r} reached no queue ({reason}); bind a queue or set mandatory: false",
                    retryable=False,
                )
            sent.append(
                {
                    "exchange": config.exchange,
                    "routing_key": key,
                    "value": item.value,
                    "headers": item.headers,
                }
            )
    finally:
        with contextlib.suppress(*_ERRORS):
            await channel.close()
    took = (loop.time() - t0) * 1000
    where = config.exchange or "the default exchange"
    return Output(
        document=sent,
        fields={"count": len(sent), "duration_ms": round(took, 1)},
        summary=f"published {len(sent)} message(s) to {where} in {took:.0f} ms",
        request={
            "broker": pools.host_port(url, 5672),
            "exchange": config.exchange,
            "messages": sent,
        },
        response={"confirmed": len(sent)},
    )


# -- amqp.consume ---------------------------------------------------------------------------


def message_document(message: AbstractIncomingMessage) -> dict[str, Any]:
    """A delivered message as the JSON-able dict that ``match``, ``$`` and reports see."""
    value, encoding = decode_payload(message.body)
    properties = {
        "content_type": message.content_type,
        "correlation_id": message.correlation_id,
        "message_id": message.message_id,
        "reply_to": message.reply_to,
        "type": message.type,
        "app_id": message.app_id,
        "priority": message.priority,
        "delivery_mode": int(message.delivery_mode) if message.delivery_mode is not None else None,
        "timestamp": message.timestamp.isoformat() if message.timestamp else None,
    }
    return {
        "exchange": message.exchange,
        "routing_key": message.routing_key,
        "value": value,
        "encoding": encoding,
        "headers": pools.jsonable(dict(message.headers or {})),
        "properties": {k: v for k, v in properties.items() if v is not None},
        "redelivered": bool(message.redelivered),
    }


def step_queue_name(ctx: StepContext) -> str:
    """The queue of a ``bind`` consume: the same for every attempt of one step execution."""
    return f"testflow.{ctx.run_id}.{ctx.step_key}"[:255]


async def _declare(
    config: AmqpConsumeConfig, channel: AbstractChannel, url: str, ctx: StepContext
) -> AbstractQueue:
    if config.queue is not None:
        return await _guard(
            f"find queue {config.queue!r}", url, ctx, channel.get_queue(config.queue, ensure=True)
        )
    assert config.bind is not None
    queue = await _guard(
        "declare the step's queue",
        url,
        ctx,
        channel.declare_queue(step_queue_name(ctx), arguments={"x-expires": QUEUE_EXPIRES_MS}),
    )
    exchange = await _guard(
        f"find exchange {config.bind.exchange!r}",
        url,
        ctx,
        channel.get_exchange(config.bind.exchange),
    )
    for key in config.bind.routing_keys:
        await _guard(
            "bind the step's queue",
            url,
            ctx,
            queue.bind(exchange, key, arguments=config.bind.arguments or None),
        )
    return queue


async def consume(config: AmqpConsumeConfig, ctx: StepContext) -> Output:
    """Wait until ``count`` matching messages arrive on the queue, or time out."""
    url = _url(config, ctx)
    source = config.queue or f"exchange {config.bind.exchange if config.bind else ''}"
    waiter = Waiter(config, ctx, source, resumed=resumed_state(ctx))
    conn = await _connection(url, ctx)
    channel: AbstractChannel = await _guard("open a channel", url, ctx, conn.channel())
    inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
    held: list[AbstractIncomingMessage] = []  # unmatched, from a shared queue: put back at the end
    finished = False
    queue: AbstractQueue | None = None
    try:
        await channel.set_qos(prefetch_count=config.prefetch)
        queue = await _declare(config, channel, url, ctx)
        await _guard("consume", url, ctx, queue.consume(inbox.put, no_ack=False))
        last = 0.0
        loop = asyncio.get_running_loop()
        while not waiter.done:
            if loop.time() - last >= HEARTBEAT_EVERY:
                ctx.heartbeat({"queue": queue.name, **waiter.state()})
                last = loop.time()
            left = waiter.remaining()
            if left <= 0:
                raise waiter.timeout()
            try:
                message = await asyncio.wait_for(inbox.get(), timeout=min(left, HEARTBEAT_EVERY))
            except TimeoutError:
                continue
            before = len(waiter.matched)
            waiter.offer(message_document(message))
            if len(waiter.matched) > before:
                # Record the match before acknowledging it: a crash in between re-delivers it.
                ctx.heartbeat({"queue": queue.name, **waiter.state()})
                await message.ack()
            elif config.bind is not None:
                await message.ack()  # the step's own queue: nobody else wants it
            else:
                held.append(message)
        finished = True
    except _ERRORS as exc:
        raise StepFailure(
            f"RabbitMQ at {pools.host_port(url, 5672)} failed while consuming: {exc}"
        ) from None
    finally:
        while not inbox.empty():
            held.append(inbox.get_nowait())
        with contextlib.suppress(*_ERRORS):
            for message in held:
                await message.nack(requeue=True)
            if (
                queue is not None
                and config.bind is not None
                and (finished or waiter.remaining() <= 0)
            ):
                await queue.delete(if_unused=False, if_empty=False)
            await channel.close()
    return waiter.output(
        fields={"queue": queue.name if queue else None},
        request={
            "broker": pools.host_port(url, 5672),
            "queue": config.queue,
            "bind": config.bind.model_dump() if config.bind else None,
            "match": config.match,
        },
    )
