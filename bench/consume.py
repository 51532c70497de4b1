"""Bench: produce -> ``kafka.consume`` step completion, against the broker's own floor.

For each of N messages (default 200):

* floor: a plain aiokafka consumer, already assigned to the topic and polling, measures the
  time from the start of ``send_and_wait`` to the record coming out of ``getmany`` -- the
  broker's own produce -> consume latency with the same fetch settings as the step;
* step: the ``kafka.consume`` executor is started (as the activity runner calls it; no
  Temporal round trip), and once it has heartbeated its start positions the message is
  produced; the time from the start of the produce to the executor returning is measured.
  The step's set-up (consumer start, metadata, offsets) happens before the produce, as in a
  flow where the consume is listening before the trigger, and is reported separately.

Run: ``python bench/consume.py [--n 200] [--brokers host:port]`` (default: a tansu broker
started for the run). Prints p50/p95 of both and the differences; target: step p95 within
50 ms of the floor p95. Exit code 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from testflow.activities import kafka, pools
from testflow.activities.base import StepContext
from testflow.dsl.kinds.kafka import KAFKA_KINDS
from testflow.runtime.kafka_broker import TansuBroker

TARGET_MS = 50.0
CONSUME = next(k for k in KAFKA_KINDS if k.name == "kafka.consume")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def describe(values: list[float]) -> str:
    return f"p50 {pct(values, 0.5):7.1f} ms   p95 {pct(values, 0.95):7.1f} ms   mean {statistics.mean(values):7.1f} ms"


async def floor(bootstrap: str, topic: str, n: int, fetch_wait_ms: int) -> list[float]:
    """The broker's produce -> consume latency with an idle, already-polling consumer."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=fetch_wait_ms
    )
    await producer.start()
    await consumer.start()
    await producer.send_and_wait(topic, b"warm-up", partition=0)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    await consumer.seek_to_end(tp)
    await consumer.position(tp)
    out: list[float] = []
    try:
        for i in range(n):
            want = f"floor-{i}".encode()
            t0 = time.perf_counter()
            await producer.send_and_wait(topic, want, partition=0)
            while True:
                batch = await consumer.getmany(tp, timeout_ms=5000)
                if any(r.value == want for r in batch.get(tp, [])):
                    break
            out.append((time.perf_counter() - t0) * 1000)
    finally:
        await consumer.stop()
        await producer.stop()
    return out


async def step_latency(
    bootstrap: str, topic: str, n: int, fetch_wait_ms: int
) -> tuple[list[float], list[float]]:
    """Produce -> step completion, and the step's set-up time before the produce."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    latencies: list[float] = []
    setups: list[float] = []
    try:
        for i in range(n):
            key = f"step-{i}"
            config = CONSUME.parse_config(
                {
                    "brokers": bootstrap,
                    "topic": topic,
                    "match": {"key": key},
                    "fetch_max_wait": fetch_wait_ms / 1000,
                    "within": "10s",
                }
            )
            subscribed = asyncio.Event()
            ctx = StepContext(
                run_id="bench",
                flow_name="bench",
                step_id="consume",
                step_key=f"steps.c{i}",
                variables={},
                step_outputs={},
                connections={},
                deadline=time.monotonic() + 15,
                heartbeat_fn=lambda *_, ev=subscribed: ev.set(),
            )
            t_setup = time.perf_counter()
            task = asyncio.create_task(kafka.consume(config, ctx))
            await subscribed.wait()
            setups.append((time.perf_counter() - t_setup) * 1000)
            t0 = time.perf_counter()
            await producer.send_and_wait(topic, b'{"n": %d}' % i, key=key.encode(), partition=0)
            out = await task
            latencies.append((time.perf_counter() - t0) * 1000)
            assert out.fields["message"]["key"] == key
    finally:
        await producer.stop()
    return latencies, setups


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="messages per measurement")
    parser.add_argument(
        "--fetch-max-wait", type=int, default=100, help="ms, both sides (the step's default: 100)"
    )
    parser.add_argument("--brokers", help="bootstrap host:port (default: start a tansu broker)")
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    broker = None if args.brokers else TansuBroker().start()
    bootstrap = args.brokers or broker.bootstrap  # type: ignore[union-attr]
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        base = await floor(bootstrap, topic, args.n, args.fetch_max_wait)
        steps, setups = await step_latency(bootstrap, topic, args.n, args.fetch_max_wait)
        await pools.close_all()
    finally:
        if broker is not None:
            broker.stop()
    where = f"tansu at {bootstrap}" if broker else bootstrap
    print(
        f"kafka.consume bench: {args.n} messages, {where}, fetch_max_wait {args.fetch_max_wait} ms"
    )
    print(f"  broker floor (produce -> getmany):      {describe(base)}")
    print(f"  step (produce -> executor returns):     {describe(steps)}")
    print(f"  step set-up before the produce:         {describe(setups)}")
    d50 = pct(steps, 0.5) - pct(base, 0.5)
    d95 = pct(steps, 0.95) - pct(base, 0.95)
    print(
        f"  step - floor: p50 {d50:+.1f} ms, p95 {d95:+.1f} ms; ratio p50 {pct(steps, 0.5) / pct(base, 0.5):.2f}x, "
        f"p95 {pct(steps, 0.95) / pct(base, 0.95):.2f}x"
    )
    ok = d95 <= TARGET_MS
    print(
        f"  target: step p95 within {TARGET_MS:.0f} ms of the floor p95 -> {'MET' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
