"""Executors of the observability kinds: Prometheus, Loki, Neo4j (HTTP API), OTel/Tempo.

Each is a thin client of the backend's documented HTTP API over one pooled httpx client per
worker. Responses are reshaped into small documents that JSONPath assertions read well
(``$[0].value``, ``$[*].line``). Prometheus is tested against the real server; Loki, Neo4j
and Tempo cannot run on the development machines and are tested against recorded responses
shaped like their documented ones (docs/steps/observability.md says so).
"""

from testflow.activities.observability.backends import (
    loki_assert,
    loki_query,
    neo4j_assert,
    neo4j_query,
    prometheus_assert,
    prometheus_query,
)
from testflow.activities.observability.otel import otel_assert, otel_inject, tempo_spans

__all__ = [
    "loki_assert",
    "loki_query",
    "neo4j_assert",
    "neo4j_query",
    "otel_assert",
    "otel_inject",
    "prometheus_assert",
    "prometheus_query",
    "tempo_spans",
]
