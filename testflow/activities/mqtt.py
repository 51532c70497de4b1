"""MQTT executors (aiomqtt): ``mqtt.publish`` and ``mqtt.subscribe``.

Publishing clients are pooled per broker and credentials per worker. A subscribe connects with
a client id derived from the run and the step and, for QoS 1/2, a persistent session
(``clean_session: false``; MQTT 5: ``clean_start: false`` with a one-hour session expiry):
when the worker dies, the broker queues the messages for that session and the retry -- same
client id -- receives them. The step unsubscribes when it ends, so the broker stops queueing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from testflow.activities import pools
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.activities.matching import Waiter, decode_payload, encode_payload, resumed_state
from testflow.dsl.kinds.mqtt import (
    MqttClientOptions,
    MqttMessage,
    MqttPublishConfig,
    MqttSubscribeConfig,
)

T = TypeVar("T")
SESSION_EXPIRY_S = 3600
HEARTBEAT_EVERY = 1.0


@dataclass(frozen=True)
class _Address:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def _address(config: MqttClientOptions, ctx: StepContext) -> _Address:
    url = config.url or (ctx.resolve_dsn(None, config.connection) if config.connection else None)
    host, port, user, password, tls = (
        config.host,
        config.port,
        config.username,
        config.password,
        config.tls is not None,
    )
    if url:
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise StepFailure(
                f"unsupported MQTT url scheme {parts.scheme!r} (use mqtt:// or mqtts://)",
                type="InvalidConfig",
                retryable=False,
            )
        tls = tls or parts.scheme in ("mqtts", "ssl")
        host = host or parts.hostname
        port = port or parts.port
        user = user or parts.username
        password = password or parts.password
    if not host:
        raise StepFailure(
            "the step needs a `url` (mqtt://host:1883), a `host` or a `connection`",
            type="InvalidConfig",
            retryable=False,
        )
    return _Address(host, port or (8883 if tls else 1883), user, password, tls)


def _tls_context(
    config: MqttClientOptions, address: _Address, ctx: StepContext
) -> ssl.SSLContext | None:
    if not address.tls:
        return None
    opts = config.tls

    def file(path: str | None, what: str) -> str | None:
        return None if path is None else ctx.resolve_file(path, f"tls.{what}")

    context = ssl.create_default_context(cafile=file(opts.ca_file, "ca_file") if opts else None)
    if opts and opts.cert_file:
        cert = ctx.resolve_file(opts.cert_file, "tls.cert_file")
        context.load_cert_chain(cert, file(opts.key_file, "key_file"))
    if opts and not opts.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _client(
    config: MqttClientOptions,
    address: _Address,
    ctx: StepContext,
    *,
    client_id: str | None,
    persistent: bool,
) -> aiomqtt.Client:
    v5 = config.protocol == "5"
    kwargs: dict[str, Any] = {}
    if v5:
        kwargs["clean_start"] = not persistent
        if persistent:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = SESSION_EXPIRY_S
            kwargs["properties"] = props
    else:
        kwargs["clean_session"] = not persistent if client_id else None
    return aiomqtt.Client(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        timeout=max(0.5, min(ctx.remaining(), 10.0)),
        tls_context=_tls_context(config, address, ctx),
        **kwargs,
    )


async def _guard(what: str, address: _Address, ctx: StepContext, awaitable: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(awaitable, timeout=max(0.1, ctx.remaining()))
    except TimeoutError:
        raise StepFailure(
            f"MQTT broker at {address.where} did not answer ({what}) within the step's time"
        ) from None
    except (aiomqtt.MqttError, OSError) as exc:
        raise StepFailure(f"cannot {what} (MQTT broker at {address.where}): {exc}") from None


def _user_properties(values: dict[str, str]) -> Properties | None:
    if not values:
        return None
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.UserProperty = list(values.items())
    return props


# -- mqtt.publish ---------------------------------------------------------------------------


async def publish(config: MqttPublishConfig, ctx: StepContext) -> Output:
    """Publish the messages in order; QoS 1/2 wait for the broker's acknowledgement."""
    address = _address(config, ctx)
    key = hashlib.sha256(repr((address, config.protocol, config.tls)).encode()).hexdigest()

    async def make() -> aiomqtt.Client:
        client = _client(config, address, ctx, client_id=None, persistent=False)
        await _guard("connect", address, ctx, client.__aenter__())
        return client

    async def close(client: aiomqtt.Client) -> None:
        await client.__aexit__(None, None, None)

    client: aiomqtt.Client = await pools.get_or_create("mqtt.client", key, make, close)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    items: list[MqttMessage | None] = [*config.messages] or [None]
    sent: list[dict[str, Any]] = []
    for item in items:
        topic = (item.topic if item else None) or config.topic
        value = item.value if item else config.value
        fmt = item.format if item else config.format
        qos = item.qos if item and item.qos is not None else config.qos
        retain = item.retain if item and item.retain is not None else config.retain
        props = {**config.user_properties, **(item.user_properties if item else {})}
        assert topic is not None  # the model checked it
        try:
            await _guard(
                "publish",
                address,
                ctx,
                client.publish(
                    topic,
                    encode_payload(value, fmt),
                    qos=qos,
                    retain=retain,
                    properties=_user_properties(props),
                ),
            )
        except StepFailure:
            await pools.discard("mqtt.client", key)  # a broken connection is not reused
            raise
        sent.append({"topic": topic, "value": value, "qos": qos, "retain": retain})
    took = (loop.time() - t0) * 1000
    topics = ", ".join(sorted({m["topic"] for m in sent}))
    return Output(
        document=sent,
        fields={"count": len(sent), "duration_ms": round(took, 1)},
        summary=f"published {len(sent)} message(s) to {topics} in {took:.0f} ms",
        request={"broker": address.where, "messages": sent},
        response={"acknowledged": len(sent)},
    )


# -- mqtt.subscribe -------------------------------------------------------------------------


def message_document(message: aiomqtt.Message) -> dict[str, Any]:
    """A received message as the JSON-able dict that ``match``, ``$`` and reports see."""
    payload = message.payload
    raw = (
        payload
        if isinstance(payload, bytes | bytearray)
        else (str(payload).encode() if payload is not None else None)
    )
    value, encoding = decode_payload(raw)
    headers: dict[str, str] = {}
    props = message.properties
    if props is not None and hasattr(props, "UserProperty"):
        headers = {str(k): str(v) for k, v in props.UserProperty}
    return {
        "topic": message.topic.value,
        "value": value,
        "encoding": encoding,
        "qos": message.qos,
        "retain": bool(message.retain),
        "headers": headers,
    }


def session_client_id(ctx: StepContext) -> str:
    """The client id of a subscribe: the same for every attempt of one step execution."""
    digest = hashlib.sha256(f"{ctx.run_id}/{ctx.step_key}".encode()).hexdigest()[:20]
    return f"testflow-{digest}"


async def subscribe(config: MqttSubscribeConfig, ctx: StepContext) -> Output:
    """Wait until ``count`` matching messages arrive on the topic filters, or time out."""
    address = _address(config, ctx)
    filters = config.filters()
    waiter = Waiter(config, ctx, ", ".join(filters), resumed=resumed_state(ctx))
    persistent = config.qos > 0
    client_id = config.client_id or session_client_id(ctx)
    client = _client(config, address, ctx, client_id=client_id, persistent=persistent)
    finished = False
    await _guard("connect", address, ctx, client.__aenter__())
    try:
        for topic in filters:
            await _guard(
                f"subscribe to {topic!r}", address, ctx, client.subscribe(topic, qos=config.qos)
            )
        ctx.heartbeat({"client_id": client_id, **waiter.state()})
        messages = aiter(client.messages)
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not waiter.done:
            left = waiter.remaining()
            if left <= 0:
                raise waiter.timeout()
            try:
                message = await asyncio.wait_for(
                    anext(messages), timeout=min(left, HEARTBEAT_EVERY)
                )
            except TimeoutError:
                message = None
            except aiomqtt.MqttError as exc:
                raise StepFailure(
                    f"the MQTT broker at {address.where} dropped the subscription: {exc}"
                ) from None
            changed = False
            if message is not None and (config.retained or not message.retain):
                before = len(waiter.matched)
                waiter.offer(message_document(message))
                changed = len(waiter.matched) > before
            if changed or loop.time() - last >= HEARTBEAT_EVERY:
                ctx.heartbeat({"client_id": client_id, **waiter.state()})
                last = loop.time()
        finished = True
    finally:
        with contextlib.suppress(aiomqtt.MqttError, OSError, TimeoutError):
            if finished or waiter.remaining() <= 0:  # done for good: stop the broker queueing
                for topic in filters:
                    await asyncio.wait_for(client.unsubscribe(topic), timeout=2)
            await asyncio.wait_for(client.__aexit__(None, None, None), timeout=2)
    return waiter.output(
        fields={"topics": filters},
        request={
            "broker": address.where,
            "topics": filters,
            "qos": config.qos,
            "match": config.match,
        },
    )
