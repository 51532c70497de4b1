"""The ``webhook.wait`` step kind: wait for inbound HTTP calls from a partner.

The run gets a URL per webhook name (``{{ webhooks.invoice.url }}``) on the API server or on
the listener ``testflow run`` starts. Deliveries are signalled to the workflow and buffered
from the start of the run, so a callback that arrives before the step starts is not lost.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field

from testflow.dsl.durations import Duration
from testflow.dsl.models import STEP_ID_PATTERN, FrozenModel
from testflow.dsl.registry import StepKind


class WebhookSignature(FrozenModel):
    """HMAC-SHA256 over the raw body, hex encoded, in a header (``sha256=`` prefix allowed)."""

    secret: str = Field(description="The shared secret; use {{ secret('NAME') }}.")
    header: str = Field("X-Signature", description="Header carrying the signature.")
    prefix: str = Field("", description="Text before the hex digest, e.g. 'sha256='.")


class WebhookResponse(FrozenModel):
    status: int = Field(200, ge=100, le=599)
    body: Any = None
    headers: dict[str, str] = Field(default_factory=dict)


class WebhookWaitConfig(FrozenModel):
    name: str = Field(pattern=STEP_ID_PATTERN, description="The webhook's name in its URL.")
    match: dict[str, Any] = Field(
        default_factory=dict,
        description="Deliveries that count: `$.path` keys on the JSON body, `headers.X`, `method`.",
    )
    count: int = Field(1, ge=1, le=10_000, description="How many matching deliveries to wait for.")
    within: Duration = Field(timedelta(minutes=5), description="Give up after this long.")
    signature: WebhookSignature | None = None
    responses: list[WebhookResponse | int] = Field(
        default_factory=list,
        description="What the receiver answers, in order (e.g. [500, 500, 200]); the last repeats.",
    )


WEBHOOK_KINDS = [
    StepKind(
        name="webhook.wait",
        description="Wait for a partner's inbound HTTP call (durable: survives worker restarts).",
        input_model=WebhookWaitConfig,
        mode="workflow",
        default_timeout=timedelta(days=7),
        primary="the matched deliveries (a list of {method, headers, body, query, received_at})",
        result_fields=("count", "deliveries", "rejected", "intervals_ms", "message", "duration_ms"),
        category="messaging",
        icon="inbox",
        example={
            "id": "callback",
            "type": "webhook.wait",
            "name": "invoice",
            "within": "30m",
            "match": {"$.orderId": "{{ orderId }}"},
            "assert": {"count": 1},
        },
    )
]
