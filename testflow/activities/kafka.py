"""Kafka executors (aiokafka): ``kafka.produce``, ``kafka.consume``, ``kafka.admin.topics``.

Producers are pooled per bootstrap servers and security settings per worker (a producer's
start costs a metadata round trip). A consume builds its own consumer with manual partition
assignment: no group rebalance to wait for, no offsets committed, and exact control of where
each partition starts.

Durability of ``kafka.consume`` (ARCHITECTURE.md section 4, rule 4): the consumer heartbeats
``{"next": {"topic/partition": next_offset}, "matched": [...], "seen": n, "started_at": t}``.
The first heartbeat is sent right after the start positions are chosen, so a retry after a
worker crash resumes from the recorded offsets -- not from "now" -- and a message produced
while no worker was running is still found, exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, for_code
from aiokafka.helpers import create_ssl_context
from aiokafka.structs import ConsumerRecord

from testflow.activities import pools
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.activities.matching import (
    Waiter,
    decode_payload,
    decode_text,
    encode_payload,
    resumed_state,
    run_start_ms,
)
from testflow.dsl.kinds.kafka import (
    KafkaAdminTopicsConfig,
    KafkaClientOptions,
    KafkaConsumeConfig,
    KafkaProduceConfig,
    KafkaStart,
)

T = TypeVar("T")
HEARTBEAT_EVERY = 1.0
"""Seconds between heartbeats while nothing changes (Temporal throttles them anyway)."""
MAX_HEARTBEAT_MATCHES = 256 * 1024
"""Matched messages larger than this (JSON bytes) are not heartbeated; a retry re-reads them."""

# -- connection -----------------------------------------------------------------------------


def bootstrap_servers(config: KafkaClientOptions, ctx: StepContext) -> list[str]:
    """The ``host:port`` list of a step: its own ``brokers`` or a named connection's url."""
    raw: str | list[str] | None = config.bootstrap_servers
    if not raw and config.connection:
        raw = ctx.resolve_dsn(None, config.connection)
    if not raw:
        raise StepFailure(
            "the step needs `brokers` (host:port) or a `connection`",
            type="InvalidConfig",
            retryable=False,
        )
    items = raw if isinstance(raw, list) else raw.split(",")
    out = [
        item.strip().removeprefix("kafka://").removeprefix("tcp://").rstrip("/") for item in items
    ]
    return [item for item in out if item]


def _ssl_context(config: KafkaClientOptions, ctx: StepContext) -> ssl.SSLContext | None:
    tls = config.tls
    if tls is None:
        return None

    def file(path: str | None, what: str) -> str | None:
        return None if path is None else ctx.resolve_file(path, f"tls.{what}")

    context: ssl.SSLContext = create_ssl_context(
        cafile=file(tls.ca_file, "ca_file"),
        certfile=file(tls.cert_file, "cert_file"),
        keyfile=file(tls.key_file, "key_file"),
        password=tls.key_password,
    )
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def client_kwargs(config: KafkaClientOptions, ctx: StepContext) -> dict[str, Any]:
    """Keyword arguments shared by aiokafka's producer, consumer and admin client."""
    protocol: str | None = config.security_protocol
    if protocol is None:
        protocol = {
            (False, False): "PLAINTEXT",
            (False, True): "SSL",
            (True, False): "SASL_PLAINTEXT",
            (True, True): "SASL_SSL",
        }[(config.sasl is not None, config.tls is not None)]
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(config, ctx),
        "client_id": config.client_id,
        "request_timeout_ms": int(config.request_timeout.total_seconds() * 1000),
        "security_protocol": protocol,
        "ssl_context": _ssl_context(config, ctx),
    }
    if config.sasl is not None:
        kwargs["sasl_mechanism"] = config.sasl.mechanism
        kwargs["sasl_plain_username"] = config.sasl.username
        kwargs["sasl_plain_password"] = config.sasl.password
    return kwargs


async def _bounded(what: str, servers: list[str], ctx: StepContext, awaitable: Awaitable[T]) -> T:
    """Await a connect/metadata call within the step's time; name the brokers on failure."""
    where = ",".join(servers)
    try:
        return await asyncio.wait_for(awaitable, timeout=max(0.1, ctx.remaining()))
    except TimeoutError:
        raise StepFailure(
            f"Kafka at {where} did not answer ({what}) within the step's time"
        ) from None
    except KafkaConnectionError as exc:
        raise StepFailure(f"cannot connect to Kafka at {where} ({what}): {exc}") from None
    except KafkaError as exc:
        raise StepFailure(f"Kafka at {where} failed ({what}): {exc}") from None


async def _producer(config: KafkaClientOptions, ctx: StepContext) -> AIOKafkaProducer:
    kwargs = client_kwargs(config, ctx)
    # The key never leaves the process; hashing keeps a password out of any debug dump.
    fingerprint = repr(sorted((k, repr(v)) for k, v in kwargs.items() if k != "ssl_context"))
    fingerprint += repr(config.tls)
    key = hashlib.sha256(fingerprint.encode()).hexdigest()

    async def make() -> AIOKafkaProducer:
        producer = AIOKafkaProducer(acks="all", linger_ms=0, **kwargs)
        try:
            await _bounded("connect", kwargs["bootstrap_servers"], ctx, producer.start())
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def close(producer: AIOKafkaProducer) -> None:
        await producer.stop()

    result: AIOKafkaProducer = await pools.get_or_create("kafka.producer", key, make, close)
    return result


# -- kafka.produce --------------------------------------------------------------------------


async def produce(config: KafkaProduceConfig, ctx: StepContext) -> Output:
    """Produce the step's messages in order; wait for every acknowledgement."""
    producer = await _producer(config, ctx)
    servers = bootstrap_servers(config, ctx)
    t0 = time.monotonic()
    futures = []
    sent: list[dict[str, Any]] = []
    for message in config.all_messages():
        value = encode_payload(message.value, message.format) if message.value is not None else None
        headers = [(name, text.encode("utf-8")) for name, text in message.headers.items()]
        future = await _bounded(
            "send",
            servers,
            ctx,
            producer.send(
                config.topic,
                value=value,
                key=message.key.encode("utf-8") if message.key is not None else None,
                partition=message.partition,
                headers=headers or None,
            ),
        )
        futures.append(future)
        sent.append({"key": message.key, "value": message.value, "headers": message.headers})
    metas = await _bounded("acknowledgement", servers, ctx, asyncio.gather(*futures))
    took = (time.monotonic() - t0) * 1000
    records = [
        {
            "topic": meta.topic,
            "partition": meta.partition,
            "offset": meta.offset,
            "timestamp": _iso(meta.timestamp),
            "key": item["key"],
        }
        for meta, item in zip(metas, sent, strict=True)
    ]
    where = ", ".join(sorted({f"{r['partition']}@{r['offset']}" for r in records}))
    return Output(
        document=records,
        fields={
            "count": len(records),
            "offsets": [r["offset"] for r in records],
            "partition": records[-1]["partition"],
            "offset": records[-1]["offset"],
            "duration_ms": round(took, 1),
        },
        summary=f"produced {len(records)} message(s) to {config.topic} ({where}) in {took:.0f} ms",
        request={"topic": config.topic, "brokers": servers, "messages": sent},
        response=records,
    )


# -- kafka.consume --------------------------------------------------------------------------


def _iso(timestamp_ms: int | None) -> str | None:
    if timestamp_ms is None or timestamp_ms < 0:
        return None
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).isoformat()


def record_document(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    """A consumed record as the JSON-able dict that ``match``, ``$`` and reports see."""
    value, encoding = decode_payload(record.value)
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": _iso(record.timestamp),
        "timestamp_ms": record.timestamp,
        "key": decode_text(record.key),
        "value": value,
        "encoding": encoding,
        "headers": {name: decode_text(raw) for name, raw in (record.headers or ())},
    }


def _tp_key(tp: TopicPartition) -> str:
    return f"{tp.topic}/{tp.partition}"


async def _partitions(
    consumer: AIOKafkaConsumer, topics: list[str], waiter: Waiter, beat: _Beat
) -> tuple[list[TopicPartition], set[str]]:
    """Every partition of ``topics`` and the topics that did not exist yet at first look.

    A topic that does not exist yet is waited for (within the deadline, heartbeating): the
    system under test may create it with its first event.
    """
    late: set[str] = set()
    while True:
        # consumer.topics() fetches fresh metadata but drops it; partitions_for_topic() reads a
        # cache that is only refreshed for subscribed topics. Read the fresh copy instead.
        cluster = await consumer._client.fetch_all_metadata()
        missing = [t for t in topics if not cluster.partitions_for_topic(t)]
        if not missing:
            tps = [
                TopicPartition(t, p)
                for t in topics
                for p in sorted(cluster.partitions_for_topic(t) or ())
            ]
            return tps, late
        late.update(missing)
        if waiter.remaining() <= 0:
            raise StepFailure(
                f"topic(s) {', '.join(missing)} do not exist "
                f"(waited {waiter.config.within or 'the step timeout'})",
                type="Timeout",
                details={"missing_topics": missing},
            )
        beat.maybe_send(changed=False)
        await asyncio.sleep(min(0.2, waiter.remaining()))


async def _start_positions(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    start: KafkaStart,
    flow_start_ms: int | None,
) -> dict[TopicPartition, int]:
    if start == "earliest":
        return dict(await consumer.beginning_offsets(tps))
    if start in ("step_start", "latest"):
        return dict(await consumer.end_offsets(tps))
    assert flow_start_ms is not None
    beginning = await consumer.beginning_offsets(tps)
    found = await consumer.offsets_for_times(dict.fromkeys(tps, flow_start_ms))
    out: dict[TopicPartition, int] = {}
    for tp in tps:
        hit = found.get(tp)
        # Brokers that do not implement timestamp lookups (tansu answers timestamp -1) are
        # scanned from the beginning; records older than the run are skipped client-side.
        out[tp] = hit.offset if hit is not None and hit.timestamp >= 0 else beginning[tp]
    return out


async def consume(config: KafkaConsumeConfig, ctx: StepContext) -> Output:
    """Wait until ``count`` matching records arrive on the topics, or time out."""
    topics = config.all_topics()
    state = resumed_state(ctx)
    waiter = Waiter(config, ctx, ", ".join(topics), resumed=state)
    resume: dict[str, int] = {}
    if state and config.start == "latest":  # by definition a retry starts at the new end
        waiter.matched, waiter.seen = [], 0
    elif state and state.get("matched") is not None:
        resume = {str(k): int(v) for k, v in (state.get("next") or {}).items()}
    elif state:  # the matches were too large to heartbeat: re-read from the start positions
        resume = {str(k): int(v) for k, v in (state.get("start") or {}).items()}
        waiter.matched, waiter.seen = [], 0
    flow_start_ms = run_start_ms(ctx) if config.start == "flow_start" else None
    kwargs = client_kwargs(config, ctx)
    consumer = AIOKafkaConsumer(
        group_id=config.group_id or f"testflow-{ctx.run_id}-{ctx.step_key}-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=int(config.fetch_max_wait.total_seconds() * 1000),
        **kwargs,
    )
    servers = kwargs["bootstrap_servers"]
    try:
        await _bounded("connect", servers, ctx, consumer.start())
        start: dict[str, int] = {}
        if config.start != "latest":
            start = {str(k): int(v) for k, v in (state.get("start") or {}).items()}
        nxt = dict(resume)
        beat = _Beat(ctx, waiter, start, nxt)
        tps, late = await _bounded(
            "metadata", servers, ctx, _partitions(consumer, topics, waiter, beat)
        )
        positions = {tp: resume[_tp_key(tp)] for tp in tps if _tp_key(tp) in resume}
        # A partition that did not exist when the step started (its topic was created later,
        # or a retry finds a partition the first attempt never saw) holds only newer records:
        # for step_start it is read from its beginning.
        grown = config.start == "step_start" and bool(state)
        by_mode: dict[KafkaStart, list[TopicPartition]] = {}
        for tp in tps:
            if tp in positions:
                continue
            mode: KafkaStart = config.start
            if config.start == "step_start" and (tp.topic in late or grown):
                mode = "earliest"
            by_mode.setdefault(mode, []).append(tp)
        for mode, group in by_mode.items():
            positions.update(
                await _bounded(
                    "offsets", servers, ctx, _start_positions(consumer, group, mode, flow_start_ms)
                )
            )
        # Assign and seek in one go, without yielding to the loop: a partition assigned
        # without a position makes the fetcher look one up and fetch from there first.
        consumer.assign(tps)
        for tp, offset in positions.items():
            consumer.seek(tp, offset)
            start.setdefault(_tp_key(tp), offset)
            nxt[_tp_key(tp)] = offset
        beat.send()  # record the start positions before anything else can go wrong
        while not waiter.done:
            left = waiter.remaining()
            if left <= 0:
                raise waiter.timeout()
            batch = await consumer.getmany(
                timeout_ms=max(1, int(min(left, HEARTBEAT_EVERY) * 1000))
            )
            for tp in sorted(batch, key=_tp_key):
                for record in batch[tp]:
                    nxt[_tp_key(tp)] = record.offset + 1
                    if flow_start_ms is not None and 0 <= record.timestamp < flow_start_ms:
                        continue
                    if waiter.offer(record_document(record)):
                        break
                if waiter.done:
                    break
            beat.maybe_send(changed=bool(batch))
        beat.send()
    except KafkaError as exc:
        raise StepFailure(f"Kafka at {','.join(servers)} failed while consuming: {exc}") from None
    finally:
        await consumer.stop()
    return waiter.output(
        fields={"topics": topics, "positions": nxt},
        request={
            "brokers": servers,
            "topics": topics,
            "start": config.start,
            "match": config.match,
        },
    )


class _Beat:
    """Heartbeats the consume position: now, or when it changed, at most every second."""

    def __init__(
        self, ctx: StepContext, waiter: Waiter, start: dict[str, int], nxt: dict[str, int]
    ) -> None:
        self.ctx, self.waiter, self.start, self.nxt = ctx, waiter, start, nxt
        self.last = 0.0

    def send(self) -> None:
        state = self.waiter.state()
        if len(repr(state["matched"])) > MAX_HEARTBEAT_MATCHES:
            state["matched"] = None
        self.ctx.heartbeat({"v": 1, "start": self.start, "next": dict(self.nxt), **state})
        self.last = time.monotonic()

    def maybe_send(self, *, changed: bool) -> None:
        if changed or time.monotonic() - self.last >= HEARTBEAT_EVERY:
            self.send()


# -- kafka.admin.topics ---------------------------------------------------------------------


async def admin_topics(config: KafkaAdminTopicsConfig, ctx: StepContext) -> Output:
    """List, create or delete topics; creating an existing topic fails unless ``exist_ok``."""
    kwargs = client_kwargs(config, ctx)
    servers = kwargs["bootstrap_servers"]
    admin = AIOKafkaAdminClient(**kwargs)
    try:
        await _bounded("connect", servers, ctx, admin.start())
        if config.action == "list":
            names = sorted(await _bounded("list topics", servers, ctx, admin.list_topics()))
        elif config.action == "create":
            new = [
                NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=s.config)
                for s in config.specs()
            ]
            response = await _bounded("create topics", servers, ctx, admin.create_topics(new))
            names = _check_errors(response.topic_errors, ok_code=36 if config.exist_ok else None)
        else:
            names = [s.name for s in config.specs()]
            response = await _bounded("delete topics", servers, ctx, admin.delete_topics(names))
            names = _check_errors(
                response.topic_error_codes, ok_code=3 if config.missing_ok else None
            )
    finally:
        await admin.close()
    return Output(
        document=names,
        fields={"topics": names, "count": len(names)},
        summary=f"{config.action}: {len(names)} topic(s)"
        + (f" ({', '.join(names[:5])})" if names else ""),
        request={
            "brokers": servers,
            "action": config.action,
            "topics": [s.name for s in config.specs()],
        },
        response=names,
    )


def _check_errors(results: list[Any], ok_code: int | None) -> list[str]:
    """Topic names of an admin response; raise for per-topic errors (except ``ok_code``)."""
    names, errors = [], []
    for item in results:
        topic, code = item[0], item[1]
        if code in (0, ok_code):
            names.append(topic)
        else:
            message = item[2] if len(item) > 2 and item[2] else for_code(code).__name__
            errors.append(f"{topic}: {message}")
    if errors:
        raise StepFailure("; ".join(errors), details={"errors": errors}, retryable=False)
    return names
