"""NATS executors (nats-py): ``nats.publish``, ``nats.request``, ``nats.subscribe``.

One connection per server list and credentials is pooled per worker. Core NATS has no
storage, so a core ``nats.subscribe`` only sees what is published while it listens (and a
worker crash loses what came meanwhile). With ``jetstream`` the step reads a stream through an
ephemeral ordered consumer and heartbeats ``{"next_seq": n}``; a retry starts its consumer at
that stream sequence, so messages stored while no worker ran are still found, exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import api

from testflow.activities import pools
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.activities.matching import (
    Waiter,
    decode_payload,
    encode_payload,
    resumed_state,
    run_start_ms,
)
from testflow.dsl.kinds.nats import (
    NatsClientOptions,
    NatsPublishConfig,
    NatsRequestConfig,
    NatsSubscribeConfig,
)

T = TypeVar("T")
HEARTBEAT_EVERY = 1.0


def _servers(config: NatsClientOptions, ctx: StepContext) -> list[str]:
    raw: str | list[str] | None = config.servers
    if not raw and config.connection:
        raw = ctx.resolve_dsn(None, config.connection)
    if not raw:
        raise StepFailure(
            "the step needs a `url` (nats://host:4222) or a `connection`",
            type="InvalidConfig",
            retryable=False,
        )
    items = raw if isinstance(raw, list) else raw.split(",")
    return [s.strip() if "://" in s else f"nats://{s.strip()}" for s in items if s.strip()]


def _where(servers: list[str]) -> str:
    return ",".join(pools.host_port(s, 4222) for s in servers)


async def _guard(what: str, servers: list[str], ctx: StepContext, awaitable: Awaitable[T]) -> T:
    """Await a NATS call within the step's time; name the servers (never credentials)."""
    try:
        return await asyncio.wait_for(awaitable, timeout=max(0.1, ctx.remaining()))
    except (nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError):
        raise  # the caller says what is missing (a service, a stream)
    except TimeoutError:
        raise StepFailure(
            f"NATS at {_where(servers)} did not answer ({what}) within the step's time"
        ) from None
    except nats.errors.NoServersError:
        raise StepFailure(
            f"cannot connect to NATS at {_where(servers)}: no server answered"
        ) from None
    except (nats.errors.Error, OSError) as exc:
        raise StepFailure(
            f"NATS at {_where(servers)} failed ({what}): {exc or type(exc).__name__}"
        ) from None


async def _ignore(_: Exception | None = None) -> None:
    """nats-py logs every failed (re)connect with a traceback unless given callbacks."""


async def _connection(config: NatsClientOptions, ctx: StepContext) -> tuple[NatsClient, list[str]]:
    servers = _servers(config, ctx)
    secret = repr((servers, config.user, config.password, config.token, config.creds_file))
    key = hashlib.sha256(secret.encode()).hexdigest()

    async def make() -> NatsClient:
        connect = nats.connect(
            servers,
            user=config.user,
            password=config.password,
            token=config.token,
            user_credentials=ctx.resolve_file(config.creds_file, "creds_file")
            if config.creds_file
            else None,
            connect_timeout=max(0.5, min(ctx.remaining(), 5.0)),
            max_reconnect_attempts=3,
            reconnect_time_wait=0.2,
            error_cb=_ignore,
            disconnected_cb=_ignore,
        )
        return await _guard("connect", servers, ctx, connect)

    async def close(client: NatsClient) -> None:
        await client.close()

    client: NatsClient = await pools.get_or_create("nats.client", key, make, close)
    if client.is_closed:
        await pools.discard("nats.client", key)
        client = await pools.get_or_create("nats.client", key, make, close)
    return client, servers


# -- nats.publish / nats.request ------------------------------------------------------------


async def publish(config: NatsPublishConfig, ctx: StepContext) -> Output:
    """Publish in order; with ``jetstream`` each message waits for the stream's ack."""
    client, servers = await _connection(config, ctx)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    sent: list[dict[str, Any]] = []
    js = client.jetstream() if config.jetstream else None
    for message in config.all_messages():
        assert message.subject is not None
        body = encode_payload(message.value, message.format)
        headers = message.headers or None
        record: dict[str, Any] = {"subject": message.subject, "value": message.value}
        if js is not None:
            try:
                ack = await _guard(
                    "publish",
                    servers,
                    ctx,
                    js.publish(message.subject, body, stream=config.stream, headers=headers),
                )
            except (nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError):
                raise StepFailure(
                    f"no JetStream stream stores subject {message.subject!r} (NATS at {_where(servers)})",
                    retryable=False,
                ) from None
            record.update(stream=ack.stream, seq=ack.seq)
        else:
            await _guard(
                "publish", servers, ctx, client.publish(message.subject, body, headers=headers)
            )
        sent.append(record)
    if js is None:
        await _guard("flush", servers, ctx, client.flush(timeout=max(1, int(ctx.remaining()))))
    took = (loop.time() - t0) * 1000
    subjects = ", ".join(sorted({r["subject"] for r in sent}))
    return Output(
        document=sent,
        fields={"count": len(sent), "duration_ms": round(took, 1)},
        summary=f"published {len(sent)} message(s) to {subjects} in {took:.0f} ms",
        request={"servers": _where(servers), "messages": sent},
        response=sent,
    )


def message_document(msg: Msg) -> dict[str, Any]:
    """A received message as the JSON-able dict that ``match``, ``$`` and reports see."""
    value, encoding = decode_payload(msg.data)
    doc: dict[str, Any] = {
        "subject": msg.subject,
        "value": value,
        "encoding": encoding,
        "headers": dict(msg.headers or {}),
    }
    if msg.reply and not msg.reply.startswith("$JS.ACK"):
        doc["reply"] = msg.reply
    try:
        meta = msg.metadata
    except nats.errors.NotJSMessageError:
        return doc
    doc.update(stream=meta.stream, seq=meta.sequence.stream, timestamp=meta.timestamp.isoformat())
    return doc


async def request(config: NatsRequestConfig, ctx: StepContext) -> Output:
    """Send a request and return the reply (``$`` is the reply's decoded value)."""
    client, servers = await _connection(config, ctx)
    timeout = min(config.reply_timeout.total_seconds(), max(0.1, ctx.remaining()))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    body = encode_payload(config.value, config.format)
    try:
        reply = await client.request(
            config.subject, body, timeout=timeout, headers=config.headers or None
        )
    except nats.errors.NoRespondersError:
        raise StepFailure(
            f"no service answers on subject {config.subject!r} (NATS at {_where(servers)})"
        ) from None
    except TimeoutError:
        raise StepFailure(
            f"no reply on subject {config.subject!r} within {timeout:.1f}s (NATS at {_where(servers)})",
            type="Timeout",
        ) from None
    except (nats.errors.Error, OSError) as exc:
        raise StepFailure(f"NATS at {_where(servers)} failed (request): {exc}") from None
    took = (loop.time() - t0) * 1000
    doc = message_document(reply)
    return Output(
        document=doc["value"],
        fields={
            "headers": doc["headers"],
            "subject": config.subject,
            "encoding": doc["encoding"],
            "duration_ms": round(took, 1),
        },
        summary=f"request {config.subject} -> reply in {took:.0f} ms",
        request={
            "servers": _where(servers),
            "subject": config.subject,
            "value": config.value,
            "headers": config.headers,
        },
        response=doc,
    )


# -- nats.subscribe -------------------------------------------------------------------------


async def _jetstream_subscription(
    client: NatsClient,
    config: NatsSubscribeConfig,
    ctx: StepContext,
    servers: list[str],
    state: dict[str, Any],
) -> tuple[Any, str, int | None]:
    """An ordered consumer on the stream; returns (subscription, stream, first sequence)."""
    assert config.jetstream is not None
    js = client.jetstream()
    stream = config.jetstream.stream
    if stream is None:
        try:
            stream = await _guard(
                "find the stream", servers, ctx, js.find_stream_name_by_subject(config.subject)
            )
        except StepFailure as exc:
            raise StepFailure(
                f"no JetStream stream stores {config.subject!r}: {exc.message}", retryable=False
            ) from None
    start = config.jetstream.start
    next_seq = state.get("next_seq") if start != "latest" else None
    cc = api.ConsumerConfig(filter_subject=config.subject)
    if next_seq is not None:
        cc.deliver_policy, cc.opt_start_seq = api.DeliverPolicy.BY_START_SEQUENCE, int(next_seq)
    elif start == "step_start":
        info = await _guard("read the stream", servers, ctx, js.stream_info(stream))
        next_seq = info.state.last_seq + 1
        cc.deliver_policy, cc.opt_start_seq = api.DeliverPolicy.BY_START_SEQUENCE, next_seq
    elif start == "flow_start":
        cc.deliver_policy = api.DeliverPolicy.BY_START_TIME
        cc.opt_start_time = datetime.fromtimestamp(run_start_ms(ctx) / 1000, UTC)
    elif start == "earliest":
        cc.deliver_policy = api.DeliverPolicy.ALL
    else:
        cc.deliver_policy = api.DeliverPolicy.NEW
    sub = await _guard(
        "subscribe",
        servers,
        ctx,
        js.subscribe(config.subject, stream=stream, ordered_consumer=True, config=cc),
    )
    return sub, stream, next_seq


async def subscribe(config: NatsSubscribeConfig, ctx: StepContext) -> Output:
    """Wait until ``count`` matching messages arrive on the subject, or time out."""
    state = resumed_state(ctx)
    waiter = Waiter(config, ctx, config.subject, resumed=state)
    client, servers = await _connection(config, ctx)
    stream: str | None = None
    next_seq: int | None = None
    if config.jetstream is not None:
        if config.jetstream.start == "latest":
            waiter.matched, waiter.seen = [], 0
        sub, stream, next_seq = await _jetstream_subscription(client, config, ctx, servers, state)
    else:
        sub = await _guard(
            "subscribe", servers, ctx, client.subscribe(config.subject, queue=config.queue or "")
        )
        await _guard("flush", servers, ctx, client.flush())  # the subscription is live on return

    def beat() -> None:
        ctx.heartbeat({"stream": stream, "next_seq": next_seq, **waiter.state()})

    try:
        beat()
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not waiter.done:
            left = waiter.remaining()
            if left <= 0:
                raise waiter.timeout()
            changed = False
            try:
                msg = await sub.next_msg(timeout=min(left, HEARTBEAT_EVERY))
            except TimeoutError:
                msg = None
            if msg is not None:
                doc = message_document(msg)
                if "seq" in doc:
                    next_seq = int(doc["seq"]) + 1
                before = len(waiter.matched)
                waiter.offer(doc)
                changed = len(waiter.matched) > before
            if changed or loop.time() - last >= HEARTBEAT_EVERY:
                beat()
                last = loop.time()
        beat()
    finally:
        # The connection may be gone; the server drops the interest with it then.
        with contextlib.suppress(nats.errors.Error, TimeoutError, OSError):
            await asyncio.wait_for(sub.unsubscribe(), timeout=2)
    return waiter.output(
        fields={"subject": config.subject, "stream": stream},
        request={
            "servers": _where(servers),
            "subject": config.subject,
            "jetstream": stream is not None,
            "match": config.match,
        },
    )
