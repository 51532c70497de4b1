"""The ``webhook.wait`` step kind: wait for inbound HTTP calls from a partner.

The run gets a URL per webhook name (``{{ webhooks.invoice.url }}``) on the API server or on
the listener ``testflow run`` starts. Deliveries are signalled to the workflow and buffered
from the start of the run, so a callback that arrives before the step starts is not lost.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag, field_validator, model_validator

from testflow.dsl.durations import Duration
from testflow.dsl.jws_keys import (
    DEFAULT_ALGORITHMS,
    algorithm_problem,
    fit_problem,
    jwks_url_problem,
    load_key,
    load_key_set,
)
from testflow.dsl.models import STEP_ID_PATTERN, FrozenModel
from testflow.dsl.registry import StepKind


class WebhookSignature(FrozenModel):
    """HMAC-SHA256 over the raw body, hex encoded, in a header (``sha256=`` prefix allowed)."""

    type: Literal["hmac"] = Field("hmac", description="`hmac` (the default) or `jws`.")
    secret: str = Field(description="The shared secret; use {{ secret('NAME') }}.")
    header: str = Field("X-Signature", description="Header carrying the signature.")
    prefix: str = Field("", description="Text before the hex digest, e.g. 'sha256='.")


def _allowed_algorithm(alg: str) -> str:
    problem = algorithm_problem(alg)
    if problem is not None:
        raise ValueError(problem)
    return alg


# Checked per item, so a refused algorithm is reported at its own position in the list.
JwsAlgorithm = Annotated[str, AfterValidator(_allowed_algorithm)]


class WebhookJwsSignature(FrozenModel):
    """A detached compact JWS (``header..signature``) over the raw body, in a header.

    Both RFC 7515 (payload base64url-encoded in the signing input) and RFC 7797 unencoded
    payloads (``"b64": false, "crit": ["b64"]`` in the JWS header) verify. Exactly one key
    source: ``key`` (PEM or JWK), ``jwks`` (inline) or ``jwks_url`` (fetched and cached).
    """

    type: Literal["jws"]
    header: str = Field("X-JWS-Signature", description="Header carrying the detached JWS.")
    key: str | dict[str, Any] | None = Field(
        None, description="The partner's public key: PEM text, JWK JSON text or a JWK mapping."
    )
    jwks: str | dict[str, Any] | None = Field(
        None, description='The partner\'s public keys as a JWKS ({"keys": [...]}), inline.'
    )
    jwks_url: str | None = Field(
        None,
        pattern=r"^(https?://|\{\{)",
        description=(
            "https URL of the partner's JWKS (plain http only for 127.0.0.1, ::1, localhost); "
            "fetched with a 5 s timeout, no redirects, at most 64 KiB; kept 5 minutes."
        ),
    )
    algorithms: list[JwsAlgorithm] = Field(
        default_factory=lambda: list(DEFAULT_ALGORITHMS),
        min_length=1,
        description="Accepted `alg` values (asymmetric only; `none` and HS* are refused).",
    )

    @field_validator("key")
    @classmethod
    def _usable_key(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if value is not None and _checkable(value):
            load_key(value)  # KeyProblem is a ValueError: a flow error at the key's position
        return value

    @field_validator("jwks")
    @classmethod
    def _usable_jwks(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if value is not None and _checkable(value):
            load_key_set(value)
        return value

    @field_validator("jwks_url")
    @classmethod
    def _safe_jwks_url(cls, value: str | None) -> str | None:
        # A templated URL is checked by the receiver once rendered; in a workflow the starter
        # has checked it already (and a replayed run must not fail on a rule added later).
        if value is not None and _checkable(value):
            problem = jwks_url_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> WebhookJwsSignature:
        given = [n for n in ("key", "jwks", "jwks_url") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "a JWS signature needs exactly one of `key`, `jwks` or `jwks_url`"
                + (f" (got {', '.join(given)})" if given else "")
            )
        inline = self.key if self.key is not None else self.jwks
        if inline is not None and _checkable(inline):
            keys = [load_key(self.key)] if self.key is not None else load_key_set(inline).keys
            problem = fit_problem(keys, self.algorithms)
            if problem is not None:
                raise ValueError(problem)
        return self


def _checkable(value: str | dict[str, Any]) -> bool:
    """Whether key material can be checked now: not a template (only its rendered value can
    be), and not inside a workflow, which validates the rendered step again: importing
    cryptography in the sandbox is not deterministic-safe, and the receiver checks it anyway."""
    if "{{" in (value if isinstance(value, str) else json.dumps(value)):
        return False
    from temporalio import workflow

    return not workflow.in_workflow()


def _signature_tag(value: Any) -> str:
    """``type`` picks the signature model; without one it is HMAC (flows written before JWS)."""
    if isinstance(value, dict):
        return str(value.get("type", "hmac"))
    return str(getattr(value, "type", "hmac"))


Signature = Annotated[
    Annotated[WebhookSignature, Tag("hmac")] | Annotated[WebhookJwsSignature, Tag("jws")],
    Discriminator(
        _signature_tag,
        custom_error_type="signature_type",
        custom_error_message="signature `type` must be 'hmac' (the default) or 'jws'",
    ),
]


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
    signature: Signature | None = None
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
