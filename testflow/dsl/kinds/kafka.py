"""Kafka kinds: ``kafka.produce``, ``kafka.consume`` and ``kafka.admin.topics`` (aiokafka)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from testflow.dsl.durations import Duration
from testflow.dsl.kinds.messaging import (
    PAYLOAD_FORMAT_HELP,
    WAIT_DEFAULT_TIMEOUT,
    PayloadFormat,
    WaitOptions,
)
from testflow.dsl.models import FrozenModel, RetrySpec
from testflow.dsl.registry import StepKind


class KafkaSasl(FrozenModel):
    """SASL authentication, passed through to aiokafka."""

    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    username: str
    password: str


class KafkaTls(FrozenModel):
    """TLS to the brokers; files are PEM paths on the worker."""

    ca_file: str | None = Field(None, description="CA bundle (PEM) that signed the brokers.")
    cert_file: str | None = Field(None, description="Client certificate (PEM) for mTLS.")
    key_file: str | None = Field(None, description="Client private key (PEM) for mTLS.")
    key_password: str | None = None
    verify: bool = Field(True, description="Check the brokers' certificates and host names.")


class KafkaClientOptions(FrozenModel):
    """Where the brokers are and how to talk to them."""

    bootstrap_servers: str | list[str] | None = Field(
        None,
        alias="brokers",
        description="host:port (comma-separated or a list); or use `connection`.",
    )
    connection: str | None = Field(
        None, description="A named connection of the environment (its url: host:port,...)."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = Field(
        None, description="Inferred from `sasl`/`tls` when not given."
    )
    sasl: KafkaSasl | None = None
    tls: KafkaTls | None = None
    client_id: str = "testflow"
    request_timeout: Duration = Field(
        timedelta(seconds=10), description="Per-request limit for metadata and produce calls."
    )


class KafkaMessage(FrozenModel):
    """One message to produce."""

    key: str | None = None
    value: Any = Field(None, description="The value: an object/list (JSON), a string, a number.")
    format: PayloadFormat = Field("auto", description=PAYLOAD_FORMAT_HELP)
    headers: dict[str, str] = Field(default_factory=dict)
    partition: int | None = Field(None, ge=0, description="Default: chosen from the key.")


class KafkaProduceConfig(KafkaClientOptions):
    topic: str = Field(min_length=1)
    key: str | None = None
    value: Any = Field(None, description="The value of a single message.")
    format: PayloadFormat = Field("auto", description=PAYLOAD_FORMAT_HELP)
    headers: dict[str, str] = Field(default_factory=dict)
    partition: int | None = Field(None, ge=0)
    messages: list[KafkaMessage] = Field(
        default_factory=list, description="Several messages, produced in order (instead of value)."
    )
    acks: Literal["all", "1", "0"] | int = Field("all", description="Acknowledgements to await.")

    @model_validator(mode="after")
    def _one_shape(self) -> KafkaProduceConfig:
        single = self.key is not None or self.value is not None or self.headers
        if self.messages and single:
            raise ValueError("give either `messages` or a single `key`/`value`/`headers`, not both")
        if not self.messages and not single:
            raise ValueError("nothing to produce: give `value` (and `key`) or `messages`")
        return self

    def all_messages(self) -> list[KafkaMessage]:
        """The messages to produce, the single-message shorthand included."""
        if self.messages:
            return list(self.messages)
        return [
            KafkaMessage(
                key=self.key,
                value=self.value,
                format=self.format,
                headers=self.headers,
                partition=self.partition,
            )
        ]


KafkaStart = Literal["step_start", "earliest", "latest", "flow_start"]


class KafkaConsumeConfig(KafkaClientOptions, WaitOptions):
    topic: str | None = Field(None, description="The topic to read (or `topics`).")
    topics: list[str] = Field(default_factory=list, description="Several topics.")
    start: KafkaStart = Field(
        "step_start",
        description=(
            "Where to read from: step_start (the end of each partition when the step first "
            "started; kept across retries), flow_start (messages timestamped at or after the "
            "run's start: catches events produced before this step), earliest (the whole "
            "log), latest (the end when this attempt starts; a retry skips the gap)."
        ),
    )
    group_id: str | None = Field(
        None, description="Consumer group name (default: a unique one per step). Never committed."
    )
    fetch_max_wait: Duration = Field(
        timedelta(milliseconds=100),
        description="How long the broker may hold a fetch when there is no data (latency).",
    )

    @model_validator(mode="after")
    def _some_topic(self) -> KafkaConsumeConfig:
        if not self.topic and not self.topics:
            raise ValueError("give `topic` or `topics`")
        return self

    def all_topics(self) -> list[str]:
        return sorted({*(self.topics), *([self.topic] if self.topic else [])})


class KafkaTopicSpec(FrozenModel):
    name: str = Field(min_length=1)
    partitions: int = Field(1, ge=1)
    replication_factor: int = Field(1, ge=1)
    config: dict[str, str] = Field(default_factory=dict, description="Topic configs.")


class KafkaAdminTopicsConfig(KafkaClientOptions):
    action: Literal["list", "create", "delete"] = "list"
    topics: list[str | KafkaTopicSpec] = Field(
        default_factory=list, description="Names or {name, partitions, replication_factor, config}."
    )
    exist_ok: bool = Field(False, description="create: a topic that exists already is no error.")
    missing_ok: bool = Field(False, description="delete: a topic that does not exist is no error.")

    @model_validator(mode="after")
    def _topics_given(self) -> KafkaAdminTopicsConfig:
        if self.action != "list" and not self.topics:
            raise ValueError(f"action {self.action!r} needs `topics`")
        return self

    def specs(self) -> list[KafkaTopicSpec]:
        return [KafkaTopicSpec(name=t) if isinstance(t, str) else t for t in self.topics]


KAFKA_KINDS = [
    StepKind(
        name="kafka.produce",
        description="Produce one or several messages to a Kafka topic.",
        input_model=KafkaProduceConfig,
        executor="testflow.activities.kafka:produce",
        mode="quick",
        default_retry=RetrySpec(attempts=1),
        primary="the produced records ([{topic, partition, offset, timestamp, key}])",
        result_fields=("count", "offsets", "partition", "offset"),
        category="messaging",
        icon="kafka",
        example={
            "id": "publishOrder",
            "type": "kafka.produce",
            "brokers": "localhost:9092",
            "topic": "orders.created",
            "key": "{{ orderId }}",
            "value": {"id": "{{ orderId }}", "status": "NEW"},
        },
    ),
    StepKind(
        name="kafka.consume",
        description="Wait for messages on Kafka topics that match; durable across worker restarts.",
        input_model=KafkaConsumeConfig,
        executor="testflow.activities.kafka:consume",
        mode="wait",
        default_timeout=WAIT_DEFAULT_TIMEOUT,
        default_retry=RetrySpec(attempts=3),
        primary="the matched messages ([{topic, partition, offset, timestamp, key, value, headers}])",
        result_fields=("message", "messages", "count", "seen", "duration_ms"),
        category="messaging",
        icon="kafka",
        example={
            "id": "orderEvent",
            "type": "kafka.consume",
            "brokers": "localhost:9092",
            "topic": "orders.created",
            "match": {"key": "{{ orderId }}", "$.status": "NEW"},
            "within": "2m",
            "extract": {"total": "$[0].value.total"},
        },
    ),
    StepKind(
        name="kafka.admin.topics",
        description="List, create or delete Kafka topics.",
        input_model=KafkaAdminTopicsConfig,
        executor="testflow.activities.kafka:admin_topics",
        mode="quick",
        default_retry=RetrySpec(attempts=1),
        primary="the topic names (listed, created or deleted)",
        result_fields=("topics", "count"),
        category="messaging",
        icon="kafka",
        example={
            "id": "topics",
            "type": "kafka.admin.topics",
            "brokers": "localhost:9092",
            "action": "create",
            "topics": [{"name": "orders.created", "partitions": 3}],
            "exist_ok": True,
        },
    ),
]
