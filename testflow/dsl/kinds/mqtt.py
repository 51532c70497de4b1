"""MQTT kinds (aiomqtt): ``mqtt.publish`` and ``mqtt.subscribe``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from testflow.dsl.kinds.messaging import (
    PAYLOAD_FORMAT_HELP,
    WAIT_DEFAULT_TIMEOUT,
    PayloadFormat,
    WaitOptions,
)
from testflow.dsl.models import FrozenModel, RetrySpec
from testflow.dsl.registry import StepKind

Qos = Literal[0, 1, 2]


class MqttTls(FrozenModel):
    ca_file: str | None = Field(None, description="CA bundle (PEM) of the broker.")
    cert_file: str | None = Field(None, description="Client certificate (PEM) for mTLS.")
    key_file: str | None = None
    verify: bool = True


class MqttClientOptions(FrozenModel):
    url: str | None = Field(
        None,
        description="mqtt://user:password@host:1883 (mqtts:// for TLS); or host/port or `connection`.",
    )
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    connection: str | None = Field(
        None, description="A named connection of the environment (its url)."
    )
    protocol: Literal["3.1.1", "5"] = Field("3.1.1", description="MQTT protocol version.")
    tls: MqttTls | None = None
    client_id: str | None = Field(None, description="Default: derived from the run and step.")


class MqttMessage(FrozenModel):
    topic: str | None = Field(None, description="Default: the step's topic.")
    value: Any = None
    format: PayloadFormat = Field("auto", description=PAYLOAD_FORMAT_HELP)
    qos: Qos | None = None
    retain: bool | None = None
    user_properties: dict[str, str] = Field(default_factory=dict, description="MQTT 5 only.")


class MqttPublishConfig(MqttClientOptions):
    topic: str | None = Field(None, description="Topic name (no wildcards).")
    value: Any = None
    format: PayloadFormat = Field("auto", description=PAYLOAD_FORMAT_HELP)
    qos: Qos = 1
    retain: bool = False
    user_properties: dict[str, str] = Field(default_factory=dict, description="MQTT 5 only.")
    messages: list[MqttMessage] = Field(
        default_factory=list, description="Several messages, in order."
    )

    @model_validator(mode="after")
    def _check(self) -> MqttPublishConfig:
        if self.messages and self.value is not None:
            raise ValueError("give either `messages` or a single `value`, not both")
        if not self.messages and self.value is None:
            raise ValueError("nothing to publish: give `value` or `messages`")
        topics = [m.topic or self.topic for m in self.messages] if self.messages else [self.topic]
        if any(not t for t in topics):
            raise ValueError("every message needs a `topic`")
        if any("+" in t or "#" in t for t in topics if t):
            raise ValueError("a publish topic cannot contain the wildcards + or #")
        props = self.user_properties or any(m.user_properties for m in self.messages)
        if props and self.protocol != "5":
            raise ValueError("user_properties need protocol: '5'")
        return self


class MqttSubscribeConfig(MqttClientOptions, WaitOptions):
    topic: str | None = Field(None, description="A topic filter (+ and # wildcards), or `topics`.")
    topics: list[str] = Field(default_factory=list)
    qos: Qos = Field(
        1,
        description="QoS 1 or 2 with a persistent session keeps messages sent during a worker crash.",
    )
    retained: bool = Field(
        False, description="Count retained messages (old state replayed on subscribe) too."
    )

    @model_validator(mode="after")
    def _some_topic(self) -> MqttSubscribeConfig:
        if not self.topic and not self.topics:
            raise ValueError("give `topic` or `topics` (topic filters)")
        return self

    def filters(self) -> list[str]:
        return sorted({*self.topics, *([self.topic] if self.topic else [])})


MQTT_KINDS = [
    StepKind(
        name="mqtt.publish",
        description="Publish MQTT messages (QoS 0/1/2, retain).",
        input_model=MqttPublishConfig,
        executor="testflow.activities.mqtt:publish",
        mode="quick",
        default_retry=RetrySpec(attempts=1),
        primary="the published messages ([{topic, value, qos, retain}])",
        result_fields=("count", "duration_ms"),
        category="messaging",
        icon="mqtt",
        example={
            "id": "telemetry",
            "type": "mqtt.publish",
            "url": "mqtt://localhost:1883",
            "topic": "devices/{{ deviceId }}/status",
            "value": {"online": True},
            "qos": 1,
        },
    ),
    StepKind(
        name="mqtt.subscribe",
        description="Wait for matching MQTT messages on topic filters (wildcards).",
        input_model=MqttSubscribeConfig,
        executor="testflow.activities.mqtt:subscribe",
        mode="wait",
        default_timeout=WAIT_DEFAULT_TIMEOUT,
        default_retry=RetrySpec(attempts=3),
        primary="the matched messages ([{topic, value, qos, retain, headers}])",
        result_fields=("message", "messages", "count", "seen", "duration_ms"),
        category="messaging",
        icon="mqtt",
        example={
            "id": "ack",
            "type": "mqtt.subscribe",
            "url": "mqtt://localhost:1883",
            "topic": "devices/+/ack",
            "match": {"$.device": "{{ deviceId }}"},
            "within": "30s",
        },
    ),
]
