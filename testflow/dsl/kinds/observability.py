"""Observability step kinds: ``prometheus.query|assert``, ``loki.query|assert``,
``neo4j.query|assert`` and ``otel.inject|assert``.

All talk to the backends' documented HTTP APIs (Prometheus ``/api/v1/query``, Loki
``/loki/api/v1/query_range``, Neo4j's transactional ``/db/{db}/tx/commit``, Tempo
``/api/traces/{id}``). The ``*.assert`` kinds run the same query as ``*.query`` and fail unless
it returns between ``min_results`` and ``max_results`` results, so "an alert-style PromQL
expression holds" or "an error line was logged" is one step; ``assert:`` blocks work on both.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from testflow.dsl.durations import Duration
from testflow.dsl.kinds.sql import is_template
from testflow.dsl.models import FrozenModel, RetrySpec
from testflow.dsl.registry import StepKind

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


class HttpBackend(FrozenModel):
    """Where the backend's HTTP API is, and how to authenticate to it."""

    url: str | None = Field(None, description="Base URL, e.g. http://prometheus:9090.")
    connection: str | None = Field(
        None, description="A connection of the environment file (its url)."
    )
    username: str | None = Field(None, description="Basic auth user.")
    password: str | None = Field(None, description="Basic auth password (use {{ secret('...') }}).")
    token: str | None = Field(None, description="Bearer token.")
    headers: dict[str, str] = Field(default_factory=dict)
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or is_template(value):
            return value
        if not re.match(r"^https?://[^/\s:]+(:\d+)?(/\S*)?$", value):
            raise ValueError("expected a base URL like http://host:9090")
        return value

    @model_validator(mode="after")
    def _has_target(self) -> HttpBackend:
        if not self.url and not self.connection:
            raise ValueError("give a 'url' or a 'connection'")
        if self.token and (self.username or self.password):
            raise ValueError("give basic auth (username/password) or a token, not both")
        return self


class ResultCount(FrozenModel):
    min_results: int = Field(
        1, ge=0, description="Fail with fewer results (series, lines, rows, spans)."
    )
    max_results: int | None = Field(None, ge=0, description="Fail with more results.")


class PrometheusRange(FrozenModel):
    since: Duration = Field(description="Query from now minus this.")
    step: Duration = Field(timedelta(seconds=15), description="Resolution of the range.")


class PrometheusQueryConfig(HttpBackend):
    query: str = Field(min_length=1, description="A PromQL expression.")
    time: str | None = Field(
        None, description="Evaluation time (RFC 3339 or unix seconds); now by default."
    )
    range: PrometheusRange | None = Field(None, description="Run a range query instead.")


class PrometheusAssertConfig(PrometheusQueryConfig, ResultCount):
    pass


class LokiQueryConfig(HttpBackend):
    query: str = Field(min_length=1, description='A LogQL query, e.g. {app="orders"} |= "ERROR".')
    since: Duration = Field(
        timedelta(hours=1), description="Look back this far (when start is not given)."
    )
    start: str | None = Field(None, description="RFC 3339 or unix nanoseconds.")
    end: str | None = None
    limit: int = Field(100, ge=1, le=100_000)
    direction: Literal["backward", "forward"] = "backward"
    tenant: str | None = Field(None, description="X-Scope-OrgID of a multi-tenant Loki.")
    parse_json: bool = Field(
        False, description="Parse each line as JSON into the entry's json field."
    )


class LokiAssertConfig(LokiQueryConfig, ResultCount):
    pass


class Neo4jQueryConfig(HttpBackend):
    query: str = Field(min_length=1, description="A Cypher statement; values go in params.")
    params: dict[str, Any] = Field(default_factory=dict, description="Bound $name parameters.")
    database: str = Field("neo4j", min_length=1)


class Neo4jAssertConfig(Neo4jQueryConfig, ResultCount):
    pass


class OtelInjectConfig(FrozenModel):
    trace_id: str | None = Field(
        None, description="Continue this trace (32 hex digits); a new one by default."
    )
    sampled: bool = True
    tracestate: str | None = Field(None, description="A W3C tracestate to pass along.")

    @field_validator("trace_id")
    @classmethod
    def _trace_id(cls, value: str | None) -> str | None:
        if value is None or is_template(value):
            return value
        if not _TRACE_ID.match(value) or set(value) == {"0"}:
            raise ValueError("a trace id is 32 lowercase hex digits, not all zero")
        return value


class OtelAssertConfig(HttpBackend):
    trace_id: str = Field(
        min_length=1, description="The trace to look up in Tempo (32 hex digits)."
    )
    tenant: str | None = Field(None, description="X-Scope-OrgID of a multi-tenant Tempo.")
    exists: bool = Field(True, description="false: assert that Tempo has no such trace.")
    services: list[str] = Field(default_factory=list, description="Services that must appear.")
    spans: list[str] = Field(default_factory=list, description="Span names that must appear.")
    min_spans: int = Field(0, ge=0)
    no_errors: bool = Field(False, description="Fail when a span has status ERROR.")


def _kind(
    name: str,
    model: type[FrozenModel],
    description: str,
    primary: str,
    fields: tuple[str, ...],
    example: dict[str, Any],
    icon: str,
) -> StepKind:
    return StepKind(
        name=name,
        description=description,
        input_model=model,
        executor=f"testflow.activities.observability:{name.replace('.', '_')}",
        mode="quick",
        default_timeout=timedelta(seconds=30),
        default_retry=RetrySpec(attempts=1),
        primary=primary,
        result_fields=(*fields, "duration_ms"),
        category="observability",
        icon=icon,
        example={"id": name.replace(".", "_"), "type": name, **example},
    )


PROM = ("result_type", "value", "values", "series_count")
LOKI = ("lines", "count", "streams")
NEO = ("rows", "row_count", "columns", "stats")
OBSERVABILITY_KINDS: list[StepKind] = [
    _kind(
        "prometheus.query",
        PrometheusQueryConfig,
        "Run a PromQL query.",
        "the series [{metric, value}]",
        PROM,
        {
            "url": "http://prometheus:9090",
            "query": 'sum(orders_total{status="paid"})',
            "assert": {"value": {"gte": 1}},
        },
        "chart",
    ),
    _kind(
        "prometheus.assert",
        PrometheusAssertConfig,
        "Fail unless a PromQL query returns series.",
        "the series",
        PROM,
        {"url": "http://prometheus:9090", "query": "rate(http_errors_total[1m]) == 0"},
        "chart",
    ),
    _kind(
        "loki.query",
        LokiQueryConfig,
        "Query logs with LogQL.",
        "the entries [{labels, timestamp, line}]",
        LOKI,
        {"url": "http://loki:3100", "query": '{app="orders"} |= "{{ orderId }}"', "since": "5m"},
        "logs",
    ),
    _kind(
        "loki.assert",
        LokiAssertConfig,
        "Fail unless matching log lines exist.",
        "the entries",
        LOKI,
        {
            "url": "http://loki:3100",
            "query": '{app="orders"} |= "ERROR"',
            "max_results": 0,
            "min_results": 0,
        },
        "logs",
    ),
    _kind(
        "neo4j.query",
        Neo4jQueryConfig,
        "Run a Cypher query over Neo4j's HTTP API.",
        "the rows",
        NEO,
        {
            "url": "http://neo4j:7474",
            "query": "MATCH (o:Order {id: $id}) RETURN o.status AS status",
            "params": {"id": "{{ orderId }}"},
        },
        "graph",
    ),
    _kind(
        "neo4j.assert",
        Neo4jAssertConfig,
        "Fail unless a Cypher query returns rows.",
        "the rows",
        NEO,
        {
            "url": "http://neo4j:7474",
            "query": "MATCH (o:Order {id: $id}) RETURN o",
            "params": {"id": "{{ orderId }}"},
        },
        "graph",
    ),
    _kind(
        "otel.inject",
        OtelInjectConfig,
        "Make W3C trace context (traceparent) for the next requests.",
        "{trace_id, span_id, traceparent, headers}",
        ("trace_id", "span_id", "traceparent", "headers"),
        {"extract": {"trace": "$"}},
        "trace",
    ),
    _kind(
        "otel.assert",
        OtelAssertConfig,
        "Look a trace up in Tempo; assert on its services and spans.",
        "the spans",
        ("found", "span_count", "services", "span_names", "error_count", "trace_duration_ms"),
        {"url": "http://tempo:3200", "trace_id": "{{ trace.trace_id }}", "services": ["orders"]},
        "trace",
    ),
]
