"""Input fields shared by the messaging kinds (Kafka, AMQP, MQTT, NATS).

Every "wait for messages" kind takes the same ``match``/``count``/``within`` trio so a flow
reads the same whatever the broker; every "send" kind takes a payload with the same
``format`` rule. Executors live in :mod:`testflow.activities`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field

from testflow.dsl.durations import Duration
from testflow.dsl.models import FrozenModel

PayloadFormat = Literal["auto", "json", "text", "base64"]
PAYLOAD_FORMAT_HELP = (
    "How `value` becomes bytes: auto (a string is sent as UTF-8 text, anything else as JSON), "
    "json, text, or base64 (a base64 string decoded to raw bytes)."
)
MATCH_HELP = (
    "Which messages count. Keys: `key`, `headers` ({name: value}), `topic`/`subject`/"
    "`routing_key`, `value` (subset of the decoded value), JSONPath keys on the value "
    "(`$.status: NEW`, `$.total: {gte: 10}`) with the assertion matchers, and `schema` "
    "(a JSON Schema, inline or a file path) the value must satisfy. All must hold."
)
WAIT_DEFAULT_TIMEOUT = timedelta(minutes=5)


class WaitOptions(FrozenModel):
    """How long to wait and which messages count."""

    match: dict[str, Any] = Field(default_factory=dict, description=MATCH_HELP)
    count: int = Field(1, ge=1, le=100_000, description="How many matching messages to wait for.")
    within: Duration | None = Field(
        None,
        description=(
            "Give up after this long (measured from the first attempt, so a retry after a "
            "worker crash does not restart the clock). Defaults to the step's timeout."
        ),
    )
    samples: int = Field(
        5, ge=0, le=100, description="Non-matching messages kept to explain a timeout."
    )


class Payload(FrozenModel):
    """A message body and how to encode it."""

    value: Any = Field(None, description="The body: an object/list (JSON), a string, a number.")
    format: PayloadFormat = Field("auto", description=PAYLOAD_FORMAT_HELP)
    headers: dict[str, str] = Field(default_factory=dict, description="Message headers.")
