"""Observability steps: Prometheus against the real Debian server scraping a local exporter;
Loki, Neo4j and Tempo against a local server replaying responses shaped like their documented
HTTP API answers (tests/activities/recorded/), checking what is sent as well as what is read."""

from __future__ import annotations

import base64
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from testflow.activities import observability as obs
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl.kinds.observability import OBSERVABILITY_KINDS
from tests.activities.conftest_services_sql import MakeCtx, Recorded

KINDS = {k.name: k for k in OBSERVABILITY_KINDS}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


async def step(kind: str, config: dict[str, Any], ctx: StepContext) -> Output:
    """Validate ``config`` with the kind's model (as the runner does) and run the executor."""
    parsed = KINDS[kind].parse_config(config)
    return await getattr(obs, kind.replace(".", "_"))(parsed, ctx)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- Loki


async def test_loki_query_sends_logql_and_reads_streams(
    recorded: Recorded, make_ctx: MakeCtx
) -> None:
    recorded.route("GET", "/loki/api/v1/query_range", "loki_streams.json")
    out = await step(
        "loki.query",
        {
            "url": recorded.url,
            "query": '{app="orders"} |= "o-1"',
            "since": "5m",
            "limit": 50,
            "tenant": "acme",
            "username": "u",
            "password": "p",
            "parse_json": True,
        },
        make_ctx(),
    )
    sent = recorded.requests[0]
    assert sent["query"]["query"] == '{app="orders"} |= "o-1"'
    assert sent["query"]["limit"] == "50" and sent["query"]["direction"] == "backward"
    span_ns = int(sent["query"]["end"]) - int(sent["query"]["start"])
    assert span_ns == 300 * 10**9
    assert sent["headers"]["X-Scope-OrgID"] == "acme"
    assert sent["headers"]["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert out.fields["lines"] == [
        "order o-1 created",
        '{"level":"error","order":"o-1","msg":"payment declined"}',
        "order o-1 received",
    ]  # newest first across streams
    assert out.fields["count"] == 3 and out.fields["streams"] == 2
    assert out.document[1]["json"]["msg"] == "payment declined"
    assert out.document[1]["labels"] == {"app": "orders", "level": "error"}
    assert out.document[0]["json"] is None


async def test_loki_assert_and_metric_queries(recorded: Recorded, make_ctx: MakeCtx) -> None:
    recorded.route("GET", "/loki/api/v1/query_range", "loki_empty.json")
    with pytest.raises(StepFailure) as info:
        await step(
            "loki.assert", {"url": recorded.url, "query": '{app="orders"} |= "o-9"'}, make_ctx()
        )
    assert (
        info.value.type == "AssertionFailed"
        and "returned 0 entries (expected at least 1)" in info.value.message
    )
    out = await step(
        "loki.assert",
        {"url": recorded.url, "query": '{app="x"} |= "ERROR"', "min_results": 0, "max_results": 0},
        make_ctx(),
    )
    assert out.fields["count"] == 0
    recorded.route("GET", "/loki/api/v1/query_range", "loki_matrix.json")
    out = await step(
        "loki.query",
        {
            "url": recorded.url,
            "query": 'count_over_time({app="orders"}[1m])',
            "start": "2023-11-14T22:13:20Z",
        },
        make_ctx(),
    )
    assert out.document == [
        {"metric": {"app": "orders"}, "values": [[1700000000, 2.0], [1700000060, 5.0]]}
    ]
    assert recorded.requests[-1]["query"]["start"] == "1700000000000000000"


# ---------------------------------------------------------------- Neo4j


async def test_neo4j_query_posts_a_transaction_and_reads_rows(
    recorded: Recorded, make_ctx: MakeCtx
) -> None:
    recorded.route("POST", "/db/orders/tx/commit", "neo4j_commit.json")
    cypher = "MATCH (o:Order) WHERE o.customer = $c RETURN o.id AS id, o.status AS status, o.items AS items"
    out = await step(
        "neo4j.query",
        {
            "url": recorded.url,
            "database": "orders",
            "query": cypher,
            "params": {"c": "acme"},
            "username": "neo4j",
            "password": "pw",
        },
        make_ctx(),
    )
    sent = recorded.requests[0]
    assert sent["json"] == {
        "statements": [{"statement": cypher, "parameters": {"c": "acme"}, "includeStats": True}]
    }
    assert sent["headers"]["Authorization"].startswith("Basic ")
    assert out.document == [
        {"id": "o-1", "status": "PAID", "items": 2},
        {"id": "o-2", "status": "NEW", "items": 1},
    ]
    assert out.fields["row_count"] == 2 and out.fields["columns"] == ["id", "status", "items"]
    assert out.fields["stats"]["nodes_created"] == 0
    with pytest.raises(StepFailure) as info:
        await step(
            "neo4j.assert",
            {"url": recorded.url, "database": "orders", "query": cypher, "max_results": 1},
            make_ctx(),
        )
    assert info.value.type == "AssertionFailed" and "expected at most 1" in info.value.message


async def test_neo4j_error_shows_code_message_and_query(
    recorded: Recorded, make_ctx: MakeCtx
) -> None:
    recorded.route("POST", "/db/neo4j/tx/commit", "neo4j_syntax_error.json")
    with pytest.raises(StepFailure) as info:
        await step("neo4j.query", {"url": recorded.url, "query": "MATC (n) RETURN n"}, make_ctx())
    assert "Neo.ClientError.Statement.SyntaxError" in info.value.message
    assert (
        "Invalid input 'MATC'" in info.value.message
        and "query: MATC (n) RETURN n" in info.value.message
    )
    assert info.value.retryable is False


# ---------------------------------------------------------------- OpenTelemetry / Tempo


async def test_otel_inject_makes_w3c_trace_context(make_ctx: MakeCtx) -> None:
    out = await step("otel.inject", {}, make_ctx())
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", out.fields["traceparent"])
    assert out.fields["traceparent"] == f"00-{out.fields['trace_id']}-{out.fields['span_id']}-01"
    assert out.document["headers"] == {"traceparent": out.fields["traceparent"]}
    other = await step("otel.inject", {}, make_ctx())
    assert other.fields["trace_id"] != out.fields["trace_id"]
    out = await step(
        "otel.inject", {"trace_id": TRACE_ID, "sampled": False, "tracestate": "acme=1"}, make_ctx()
    )
    assert out.document["traceparent"].startswith(f"00-{TRACE_ID}-")
    assert out.fields["traceparent"].endswith("-00")
    assert out.fields["headers"]["tracestate"] == "acme=1"
    assert KINDS["otel.inject"].config_problems({"trace_id": "xyz"})
    assert KINDS["otel.inject"].config_problems({"trace_id": "0" * 32})


async def test_otel_assert_reads_a_tempo_trace(recorded: Recorded, make_ctx: MakeCtx) -> None:
    recorded.route("GET", f"/api/traces/{TRACE_ID}", "tempo_trace.json")
    out = await step(
        "otel.assert",
        {
            "url": recorded.url,
            "trace_id": TRACE_ID,
            "tenant": "acme",
            "services": ["orders", "billing"],
            "spans": ["POST /orders"],
            "min_spans": 2,
        },
        make_ctx(),
    )
    assert recorded.requests[0]["headers"]["X-Scope-OrgID"] == "acme"
    assert out.fields["services"] == ["billing", "orders"]
    assert out.fields["span_count"] == 2 and out.fields["error_count"] == 1
    assert out.fields["trace_duration_ms"] == pytest.approx(200.0)
    root, child = out.document
    assert (
        root["trace_id"] == TRACE_ID
        and root["span_id"] == "00f067aa0ba902b7"
        and root["parent_span_id"] is None
    )
    assert root["attributes"] == {"http.method": "POST", "http.status_code": "201"}
    assert (
        child["parent_span_id"] == "00f067aa0ba902b7"
        and child["status"] == "ERROR"
        and child["service"] == "billing"
    )
    with pytest.raises(StepFailure) as info:
        await step(
            "otel.assert",
            {
                "url": recorded.url,
                "trace_id": TRACE_ID,
                "no_errors": True,
                "services": ["shipping"],
            },
            make_ctx(),
        )
    assert info.value.type == "AssertionFailed"
    assert (
        "no span of service 'shipping'" in info.value.message
        and "status ERROR: charge card" in info.value.message
    )


async def test_otel_assert_on_a_missing_trace(recorded: Recorded, make_ctx: MakeCtx) -> None:
    missing = "1" * 32
    out = await step(
        "otel.assert", {"url": recorded.url, "trace_id": missing, "exists": False}, make_ctx()
    )
    assert out.fields["found"] is False
    with pytest.raises(StepFailure, match="the trace was not found"):
        await step("otel.assert", {"url": recorded.url, "trace_id": missing}, make_ctx())


async def test_unreachable_backend_names_host_and_port(make_ctx: MakeCtx) -> None:
    with pytest.raises(StepFailure) as info:
        await step(
            "loki.query", {"url": "http://127.0.0.1:9", "query": '{a="b"}'}, make_ctx(timeout=5)
        )
    assert info.value.type == "InfraError" and "127.0.0.1:9" in info.value.message


def test_backend_url_validation() -> None:
    kind = KINDS["prometheus.query"]
    assert kind.config_problems({"url": "prometheus:9090", "query": "up"})
    assert kind.config_problems({"query": "up"})
    assert kind.config_problems({"url": "{{ env.PROM }}", "query": "up"}) == []


# ---------------------------------------------------------------- Prometheus (real server)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's prometheus scraping a local prometheus_client exporter every 500 ms."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip(
            "SKIPPED LOUDLY: the prometheus binary is missing (apt-get install -y prometheus)"
        )
    from prometheus_client import CollectorRegistry, Counter, start_http_server

    registry = CollectorRegistry()
    orders = Counter("tf_orders", "Orders by status", ["status"], registry=registry)
    orders.labels("paid").inc(3)
    orders.labels("new").inc(1)
    exporter, _thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    tmp = tmp_path_factory.mktemp("prometheus")
    config = tmp / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 500ms, evaluation_interval: 500ms}\n"
        "scrape_configs:\n"
        f"  - job_name: tf\n    static_configs: [{{targets: ['127.0.0.1:{exporter.server_port}']}}]\n"
    )
    port = _free_port()
    log = (tmp / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                body = httpx.get(
                    f"{url}/api/v1/query", params={"query": "tf_orders_total"}, timeout=2
                ).json()
                if len(body["data"]["result"]) == 2:
                    break
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"prometheus did not scrape the exporter: {(tmp / 'prometheus.log').read_text()[-2000:]}"
                )
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        exporter.shutdown()


@pytest.mark.service
@pytest.mark.slow
async def test_prometheus_query_vector_scalar_and_range(prometheus: str, make_ctx: MakeCtx) -> None:
    out = await step(
        "prometheus.query", {"url": prometheus, "query": "sum(tf_orders_total)"}, make_ctx()
    )
    assert out.fields["result_type"] == "vector" and out.fields["value"] == 4.0
    out = await step(
        "prometheus.query",
        {"url": prometheus, "query": "sort_desc(sum by (status) (tf_orders_total))"},
        make_ctx(),
    )
    assert [(s["metric"]["status"], s["value"]) for s in out.document] == [
        ("paid", 3.0),
        ("new", 1.0),
    ]
    assert out.fields["series_count"] == 2
    out = await step(
        "prometheus.query",
        {"url": prometheus, "query": "scalar(sum(tf_orders_total)) * 2"},
        make_ctx(),
    )
    assert out.fields["result_type"] == "scalar" and out.document == 8.0
    out = await step(
        "prometheus.query",
        {
            "url": prometheus,
            "query": "tf_orders_total{status='paid'}",
            "range": {"since": "1m", "step": "1s"},
        },
        make_ctx(),
    )
    assert out.fields["result_type"] == "matrix" and out.fields["value"] == 3.0
    assert out.document[0]["values"] and all(v == 3.0 for _, v in out.document[0]["values"])


@pytest.mark.service
@pytest.mark.slow
async def test_prometheus_assert(prometheus: str, make_ctx: MakeCtx) -> None:
    out = await step(
        "prometheus.assert",
        {"url": prometheus, "query": 'tf_orders_total{status="paid"} >= 3'},
        make_ctx(),
    )
    assert out.fields["series_count"] == 1
    with pytest.raises(StepFailure) as info:
        await step(
            "prometheus.assert", {"url": prometheus, "query": "tf_orders_total > 100"}, make_ctx()
        )
    assert info.value.type == "AssertionFailed" and "returned 0 series" in info.value.message
    out = await step(
        "prometheus.assert",
        {"url": prometheus, "query": "tf_orders_total > 100", "min_results": 0, "max_results": 0},
        make_ctx(),
    )
    assert out.fields["series_count"] == 0


@pytest.mark.service
@pytest.mark.slow
async def test_prometheus_bad_promql_shows_the_servers_message(
    prometheus: str, make_ctx: MakeCtx
) -> None:
    with pytest.raises(StepFailure) as info:
        await step(
            "prometheus.query", {"url": prometheus, "query": "sum(tf_orders_total"}, make_ctx()
        )
    assert (
        info.value.type == "StepFailed"
        and "400" in info.value.message
        and "parse error" in info.value.message
    )
    assert info.value.retryable is False
