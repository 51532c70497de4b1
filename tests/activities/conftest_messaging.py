"""Fixtures of the messaging step tests (Kafka, AMQP, MQTT, NATS) against real brokers.

RabbitMQ (5672, guest/guest), Mosquitto (1883) and NATS with JetStream (4222) run on the
development machines and in CI (``.ci/run`` starts them when down); a tansu Kafka broker is
started here for the session. A test skips -- loudly, with the address -- only when its
broker cannot be reached or started. Addresses can be overridden with TESTFLOW_TEST_AMQP_URL,
TESTFLOW_TEST_MQTT_HOST/_PORT and TESTFLOW_TEST_NATS_URL.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from testflow.activities import pools
from testflow.activities.base import StepContext
from testflow.runtime.kafka_broker import BrokerUnavailable, TansuBroker

AMQP_URL = os.environ.get("TESTFLOW_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
MQTT_HOST = os.environ.get("TESTFLOW_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("TESTFLOW_TEST_MQTT_PORT", "1883"))
NATS_URL = os.environ.get("TESTFLOW_TEST_NATS_URL", "nats://127.0.0.1:4222")


MakeMsgCtx = Callable[..., StepContext]


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require(service: str, host: str, port: int) -> None:
    """Skip the test, naming the service and address, when the broker is not reachable."""
    if not _reachable(host, port):
        pytest.skip(f"*** {service} is NOT reachable at {host}:{port}: start it (.ci/run does) ***")


@pytest.fixture(scope="session", autouse=True)
def quiet_broker_clients() -> None:
    """aiokafka and friends log every refused connection at ERROR; the steps report it instead."""
    for name in ("aiokafka", "aio_pika", "aiormq", "nats", "paho", "aiomqtt"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[TansuBroker]:
    """A tansu Kafka-protocol broker (in-memory storage) on a free port, for the session."""
    broker = TansuBroker()
    try:
        broker.start()
    except BrokerUnavailable as exc:
        pytest.skip(f"*** no Kafka broker for the tests: {exc} ***")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def amqp_url() -> str:
    parts = urlsplit(AMQP_URL)
    require("RabbitMQ", parts.hostname or "127.0.0.1", parts.port or 5672)
    return AMQP_URL


@pytest.fixture
def mqtt_address() -> tuple[str, int]:
    require("Mosquitto", MQTT_HOST, MQTT_PORT)
    return MQTT_HOST, MQTT_PORT


@pytest.fixture
def nats_url() -> str:
    parts = urlsplit(NATS_URL)
    require("NATS", parts.hostname or "127.0.0.1", parts.port or 4222)
    return NATS_URL


@pytest.fixture
def name() -> str:
    """A topic/queue/subject name unique to this test."""
    return f"tf-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def msg_ctx() -> MakeMsgCtx:
    """``msg_ctx(timeout=5, heartbeat_details=[...], run_started_at=datetime)``.

    Heartbeats land in ``ctx.beats`` (a list), as Temporal would record them.
    """

    def make(
        timeout: float = 10.0,
        heartbeat_details: list[Any] | None = None,
        run_started_at: datetime | None = None,
        connections: dict[str, dict[str, Any]] | None = None,
    ) -> StepContext:
        beats: list[Any] = []
        started = run_started_at or datetime.now(UTC)
        ctx = StepContext(
            run_id=f"run-{uuid.uuid4().hex[:8]}",
            flow_name="messaging",
            step_id="wait",
            step_key="steps.wait",
            variables={"run": {"started_at": started.isoformat()}},
            step_outputs={},
            connections=connections or {},
            deadline=time.monotonic() + timeout,
            heartbeat_details=list(heartbeat_details or []),
            heartbeat_fn=lambda *details: beats.append(
                details[0] if len(details) == 1 else list(details)
            ),
        )
        ctx.beats = beats  # type: ignore[attr-defined]
        return ctx

    return make


@pytest.fixture(scope="session", autouse=True)
async def close_messaging_pools() -> AsyncIterator[None]:
    """Close pooled producers/connections the executors cached, at the end of the session."""
    yield
    await pools.close_all()
