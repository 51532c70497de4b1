"""NATS kinds (nats-py): ``nats.publish``, ``nats.request`` and ``nats.subscribe`` (+ JetStream)."""

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


class NatsClientOptions(FrozenModel):
    servers: str | list[str] | None = Field(
        None,
        alias="url",
        description="nats://host:4222 (a list or comma-separated); or `connection`.",
    )
    connection: str | None = Field(
        None, description="A named connection of the environment (its url)."
    )
    user: str | None = None
    password: str | None = None
    token: str | None = None
    creds_file: str | None = Field(None, description="A .creds file (JWT + nkey).")


class NatsMessage(FrozenModel):
    subject: str | None = Field(None, description="Default: the step's subject.")
    value: Any = None
    format: PayloadFormat = Field("auto", description=PAYLOAD_FORMAT_HELP)
    headers: dict[str, str] = Field(default_factory=dict)


class NatsPublishConfig(NatsClientOptions):
    subject: str | None = None
    value: Any = None
    format: PayloadFormat = Field("auto", description=PAYLOAD_FORMAT_HELP)
    headers: dict[str, str] = Field(default_factory=dict)
    messages: list[NatsMessage] = Field(
        default_factory=list, description="Several messages, in order."
    )
    jetstream: bool = Field(
        False, description="Publish through JetStream and wait for the stream's acknowledgement."
    )
    stream: str | None = Field(
        None, description="JetStream: expect this stream to store the messages."
    )

    @model_validator(mode="after")
    def _check(self) -> NatsPublishConfig:
        if self.messages and (self.value is not None or self.headers):
            raise ValueError("give either `messages` or a single `value`/`headers`, not both")
        if not self.messages and self.value is None:
            raise ValueError("nothing to publish: give `value` or `messages`")
        subjects = (
            [m.subject or self.subject for m in self.messages] if self.messages else [self.subject]
        )
        if any(not s for s in subjects):
            raise ValueError("every message needs a `subject`")
        if any("*" in s or ">" in s for s in subjects if s):
            raise ValueError("a publish subject cannot contain the wildcards * or >")
        return self

    def all_messages(self) -> list[NatsMessage]:
        if self.messages:
            return [
                m if m.subject else m.model_copy(update={"subject": self.subject})
                for m in self.messages
            ]
        return [
            NatsMessage(
                subject=self.subject, value=self.value, format=self.format, headers=self.headers
            )
        ]


class NatsRequestConfig(NatsClientOptions):
    subject: str = Field(min_length=1)
    value: Any = Field(None, description="The request body.")
    format: PayloadFormat = Field("auto", description=PAYLOAD_FORMAT_HELP)
    headers: dict[str, str] = Field(default_factory=dict)
    reply_timeout: Duration = Field(
        timedelta(seconds=5), description="How long to wait for the reply."
    )


NatsStart = Literal["step_start", "earliest", "latest", "flow_start"]


class NatsJetStream(FrozenModel):
    stream: str | None = Field(None, description="Default: the stream that stores the subject.")
    start: NatsStart = Field(
        "step_start",
        description=(
            "step_start (messages stored after the step first started; kept across retries), "
            "flow_start (stored at or after the run's start), earliest (the whole stream), "
            "latest (new messages from this attempt on)."
        ),
    )


class NatsSubscribeConfig(NatsClientOptions, WaitOptions):
    subject: str = Field(min_length=1, description="A subject; * and > wildcards allowed.")
    queue: str | None = Field(None, description="Core NATS: join this queue group.")
    jetstream: NatsJetStream | None = Field(
        None,
        description="Read a JetStream stream (durable: a retry resumes from the last sequence).",
    )

    @model_validator(mode="before")
    @classmethod
    def _jetstream_flag(cls, data: Any) -> Any:
        """``jetstream: true`` is short for ``jetstream: {}``."""
        if isinstance(data, dict) and data.get("jetstream") is True:
            return {**data, "jetstream": {}}
        if isinstance(data, dict) and data.get("jetstream") is False:
            return {k: v for k, v in data.items() if k != "jetstream"}
        return data

    @model_validator(mode="after")
    def _queue_is_core_only(self) -> NatsSubscribeConfig:
        if self.queue and self.jetstream:
            raise ValueError(
                "`queue` groups are for core NATS; JetStream reads use their own consumer"
            )
        return self


_NATS_EXAMPLE_URL = "nats://localhost:4222"

NATS_KINDS = [
    StepKind(
        name="nats.publish",
        description="Publish NATS messages (core, or JetStream with the stream's acknowledgement).",
        input_model=NatsPublishConfig,
        executor="testflow.activities.nats:publish",
        mode="quick",
        default_retry=RetrySpec(attempts=1),
        primary="the published messages ([{subject, value, stream, seq}])",
        result_fields=("count", "duration_ms"),
        category="messaging",
        icon="nats",
        example={
            "id": "emit",
            "type": "nats.publish",
            "url": _NATS_EXAMPLE_URL,
            "subject": "orders.created",
            "value": {"id": 1},
        },
    ),
    StepKind(
        name="nats.request",
        description="Send a NATS request and wait for the reply.",
        input_model=NatsRequestConfig,
        executor="testflow.activities.nats:request",
        mode="quick",
        default_retry=RetrySpec(attempts=1),
        primary="the reply's value (parsed JSON when JSON)",
        result_fields=("headers", "subject", "duration_ms"),
        category="messaging",
        icon="nats",
        example={
            "id": "price",
            "type": "nats.request",
            "url": _NATS_EXAMPLE_URL,
            "subject": "prices.get",
            "value": {"sku": "A1"},
        },
    ),
    StepKind(
        name="nats.subscribe",
        description="Wait for matching NATS messages (core subjects or a JetStream stream).",
        input_model=NatsSubscribeConfig,
        executor="testflow.activities.nats:subscribe",
        mode="wait",
        default_timeout=WAIT_DEFAULT_TIMEOUT,
        default_retry=RetrySpec(attempts=3),
        primary="the matched messages ([{subject, value, headers, stream, seq}])",
        result_fields=("message", "messages", "count", "seen", "duration_ms"),
        category="messaging",
        icon="nats",
        example={
            "id": "shipped",
            "type": "nats.subscribe",
            "url": _NATS_EXAMPLE_URL,
            "subject": "orders.*.shipped",
            "jetstream": {"start": "flow_start"},
            "match": {"$.id": "{{ orderId }}"},
            "within": "1m",
        },
    ),
]
