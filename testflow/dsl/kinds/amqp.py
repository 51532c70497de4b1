"""AMQP 0-9-1 kinds (RabbitMQ, aio-pika): ``amqp.publish`` and ``amqp.consume``."""

from __future__ import annotations

from typing import Any

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


class AmqpClientOptions(FrozenModel):
    url: str | None = Field(
        None,
        description="amqp://user:password@host:5672/vhost (amqps:// for TLS); or `connection`.",
    )
    connection: str | None = Field(None, description="A named connection of the environment.")


class AmqpProperties(FrozenModel):
    """Basic properties of a message; all optional."""

    content_type: str | None = Field(None, description="Default: application/json or text/plain.")
    content_encoding: str | None = None
    correlation_id: str | None = None
    message_id: str | None = None
    reply_to: str | None = None
    expiration: Duration | None = Field(None, description="Per-message TTL.")
    priority: int | None = Field(None, ge=0, le=255)
    persistent: bool = Field(False, description="delivery_mode 2: survives a broker restart.")
    type: str | None = None
    app_id: str | None = None
    user_id: str | None = None


class AmqpMessage(FrozenModel):
    value: Any = Field(None, description="The body: an object/list (JSON), a string, a number.")
    format: PayloadFormat = Field("auto", description=PAYLOAD_FORMAT_HELP)
    headers: dict[str, Any] = Field(default_factory=dict)
    routing_key: str | None = Field(None, description="Default: the step's routing_key.")
    properties: AmqpProperties = Field(default_factory=AmqpProperties)


class AmqpPublishConfig(AmqpClientOptions):
    exchange: str = Field(
        "", description='The exchange ("" is the default exchange: routes to a queue by name).'
    )
    routing_key: str = ""
    value: Any = None
    format: PayloadFormat = Field("auto", description=PAYLOAD_FORMAT_HELP)
    headers: dict[str, Any] = Field(default_factory=dict)
    properties: AmqpProperties = Field(default_factory=AmqpProperties)
    messages: list[AmqpMessage] = Field(
        default_factory=list, description="Several messages, in order."
    )
    mandatory: bool = Field(
        True, description="Fail when no queue receives the message (unroutable)."
    )

    @model_validator(mode="after")
    def _one_shape(self) -> AmqpPublishConfig:
        if self.messages and (self.value is not None or self.headers):
            raise ValueError("give either `messages` or a single `value`/`headers`, not both")
        if not self.messages and self.value is None:
            raise ValueError("nothing to publish: give `value` or `messages`")
        return self

    def all_messages(self) -> list[AmqpMessage]:
        if self.messages:
            return list(self.messages)
        return [
            AmqpMessage(
                value=self.value,
                format=self.format,
                headers=self.headers,
                properties=self.properties,
            )
        ]


class AmqpBinding(FrozenModel):
    """A temporary queue bound to an exchange, made for this step and deleted after it."""

    exchange: str = Field(min_length=1)
    routing_keys: list[str] = Field(
        default_factory=lambda: ["#"],
        description="Binding keys (topic exchanges: * and # wildcards).",
    )
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="Binding arguments (headers exchanges)."
    )


class AmqpConsumeConfig(AmqpClientOptions, WaitOptions):
    queue: str | None = Field(None, description="An existing queue to read (or `bind`).")
    bind: AmqpBinding | None = Field(
        None, description="Read a temporary queue bound to an exchange."
    )
    prefetch: int = Field(100, ge=1, le=10_000, description="Messages in flight at once.")

    @model_validator(mode="after")
    def _one_source(self) -> AmqpConsumeConfig:
        if (self.queue is None) == (self.bind is None):
            raise ValueError(
                "give exactly one of `queue` (an existing queue) or `bind` (exchange + keys)"
            )
        return self


AMQP_KINDS = [
    StepKind(
        name="amqp.publish",
        description="Publish messages to an AMQP exchange (RabbitMQ), with publisher confirms.",
        input_model=AmqpPublishConfig,
        executor="testflow.activities.amqp:publish",
        mode="quick",
        default_retry=RetrySpec(attempts=1),
        primary="the published messages ([{exchange, routing_key, value}])",
        result_fields=("count", "duration_ms"),
        category="messaging",
        icon="rabbitmq",
        example={
            "id": "notify",
            "type": "amqp.publish",
            "url": "amqp://guest:guest@localhost:5672/",
            "exchange": "orders",
            "routing_key": "order.created",
            "value": {"id": "{{ orderId }}"},
        },
    ),
    StepKind(
        name="amqp.consume",
        description="Wait for matching messages on a queue or on a temporary queue bound to an exchange.",
        input_model=AmqpConsumeConfig,
        executor="testflow.activities.amqp:consume",
        mode="wait",
        default_timeout=WAIT_DEFAULT_TIMEOUT,
        default_retry=RetrySpec(attempts=3),
        primary="the matched messages ([{exchange, routing_key, value, headers, properties}])",
        result_fields=("message", "messages", "count", "seen", "duration_ms"),
        category="messaging",
        icon="rabbitmq",
        example={
            "id": "shipped",
            "type": "amqp.consume",
            "url": "amqp://guest:guest@localhost:5672/",
            "bind": {"exchange": "orders", "routing_keys": ["order.shipped"]},
            "match": {"$.id": "{{ orderId }}"},
            "within": "1m",
        },
    ),
]
