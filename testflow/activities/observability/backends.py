"""Prometheus, Loki and Neo4j executors over their documented HTTP APIs."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from testflow.activities.base import Output, StepContext, StepFailure
from testflow.activities.observability.client import call_api, check_count, make_output
from testflow.dsl.kinds.observability import (
    LokiAssertConfig,
    LokiQueryConfig,
    Neo4jAssertConfig,
    Neo4jQueryConfig,
    PrometheusAssertConfig,
    PrometheusQueryConfig,
)

# ------------------------------------------------------------------------------ Prometheus


def _number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


async def _prometheus(config: PrometheusQueryConfig, ctx: StepContext) -> tuple[Output, int]:
    started = time.perf_counter()
    params: dict[str, Any] = {"query": config.query}
    if config.range is not None:
        end = time.time()
        params |= {
            "start": end - config.range.since.total_seconds(),
            "end": end,
            "step": max(config.range.step.total_seconds(), 0.001),
        }
        path = "/api/v1/query_range"
    else:
        path = "/api/v1/query"
        if config.time:
            params["time"] = config.time
    _, body = await call_api("Prometheus", config, ctx, "GET", path, params=params)
    if not isinstance(body, dict) or body.get("status") != "success":
        raise StepFailure(f"Prometheus: unexpected answer to {config.query}: {str(body)[:300]}")
    data = body.get("data") or {}
    kind = data.get("resultType")
    raw: Any = data.get("result") or []
    if kind in ("scalar", "string"):
        value = _number(raw[1]) if kind == "scalar" else raw[1]
        document: Any = value
        values = [value]
        count = 1
    elif kind == "matrix":
        document = [
            {
                "metric": s.get("metric", {}),
                "values": [[p[0], _number(p[1])] for p in s.get("values", [])],
            }
            for s in raw
        ]
        values = [s["values"][-1][1] if s["values"] else None for s in document]
        count = len(document)
    else:  # vector
        document = [
            {"metric": s.get("metric", {}), "value": _number(s.get("value", [0, None])[1])}
            for s in raw
        ]
        values = [s["value"] for s in document]
        count = len(document)
    fields = {
        "result_type": kind,
        "value": values[0] if values else None,
        "values": values,
        "series_count": count,
    }
    for warning in body.get("warnings") or []:
        ctx.log(f"Prometheus warning: {warning}", "warning")
    out = make_output(
        document,
        fields,
        f"{config.query}: {count} result(s)",
        {"path": path, "params": params},
        started,
    )
    return out, count


async def prometheus_query(config: PrometheusQueryConfig, ctx: StepContext) -> Output:
    return (await _prometheus(config, ctx))[0]


async def prometheus_assert(config: PrometheusAssertConfig, ctx: StepContext) -> Output:
    out, count = await _prometheus(config, ctx)
    check_count("Prometheus", config.query, count, config, "series")
    return out


# ------------------------------------------------------------------------------ Loki


def _ns(text: str) -> str:
    """A Loki time bound: unix nanoseconds as they are, RFC 3339 converted."""
    if text.isdigit():
        return text
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise StepFailure(
            f"not a time (RFC 3339 or unix ns): {text!r}", type="InvalidConfig", retryable=False
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return str(int(moment.timestamp() * 1_000_000_000))


async def _loki(config: LokiQueryConfig, ctx: StepContext) -> tuple[Output, int]:
    started = time.perf_counter()
    now_ns = time.time_ns()
    params = {
        "query": config.query,
        "limit": config.limit,
        "direction": config.direction,
        "start": _ns(config.start)
        if config.start
        else str(now_ns - int(config.since.total_seconds() * 1e9)),
        "end": _ns(config.end) if config.end else str(now_ns),
    }
    headers = {"X-Scope-OrgID": config.tenant} if config.tenant else {}
    path = "/loki/api/v1/query_range"
    _, body = await call_api("Loki", config, ctx, "GET", path, params=params, headers=headers)
    if not isinstance(body, dict) or body.get("status") != "success":
        raise StepFailure(f"Loki: unexpected answer to {config.query}: {str(body)[:300]}")
    data = body.get("data") or {}
    kind = data.get("resultType")
    if kind == "streams":
        entries = []
        for stream in data.get("result", []):
            for ts, line, *_meta in stream.get("values", []):
                entry: dict[str, Any] = {
                    "labels": stream.get("stream", {}),
                    "timestamp": ts,
                    "time": datetime.fromtimestamp(int(ts) / 1e9, UTC).isoformat(),
                    "line": line,
                }
                if config.parse_json:
                    try:
                        entry["json"] = json.loads(line)
                    except ValueError:
                        entry["json"] = None
                entries.append(entry)
        entries.sort(key=lambda e: int(e["timestamp"]), reverse=config.direction == "backward")
        document: Any = entries
        fields = {
            "lines": [e["line"] for e in entries],
            "count": len(entries),
            "streams": len(data.get("result", [])),
        }
    else:  # a metric query: matrix (or vector)
        document = [
            {
                "metric": s.get("metric", {}),
                "values": [[p[0], _number(p[1])] for p in s.get("values", [])],
            }
            for s in data.get("result", [])
        ]
        fields = {"lines": [], "count": len(document), "streams": len(document)}
    count = len(document)
    out = make_output(
        document,
        fields,
        f"{config.query}: {count} result(s)",
        {"path": path, "params": params},
        started,
    )
    return out, count


async def loki_query(config: LokiQueryConfig, ctx: StepContext) -> Output:
    return (await _loki(config, ctx))[0]


async def loki_assert(config: LokiAssertConfig, ctx: StepContext) -> Output:
    out, count = await _loki(config, ctx)
    check_count("Loki", config.query, count, config, "entries")
    return out


# ------------------------------------------------------------------------------ Neo4j


async def _neo4j(config: Neo4jQueryConfig, ctx: StepContext) -> tuple[Output, int]:
    started = time.perf_counter()
    path = f"/db/{config.database}/tx/commit"
    payload = {
        "statements": [
            {"statement": config.query, "parameters": config.params, "includeStats": True}
        ]
    }
    _, body = await call_api("Neo4j", config, ctx, "POST", path, json_body=payload)
    errors = (body or {}).get("errors") or []
    if errors:
        first = errors[0]
        raise StepFailure(
            f"Neo4j error {first.get('code', '')}: {first.get('message', '')}\nquery: {config.query}",
            details={"code": first.get("code")},
            retryable=not str(first.get("code", "")).startswith("Neo.ClientError"),
        )
    results = (body or {}).get("results") or [{}]
    result = results[0]
    columns = result.get("columns", [])
    rows = [
        dict(zip(columns, item.get("row", []), strict=False)) for item in result.get("data", [])
    ]
    fields = {
        "rows": rows,
        "row_count": len(rows),
        "columns": columns,
        "stats": result.get("stats", {}),
    }
    request = {"path": path, "query": config.query, "params": config.params}
    return make_output(rows, fields, f"cypher: {len(rows)} row(s)", request, started), len(rows)


async def neo4j_query(config: Neo4jQueryConfig, ctx: StepContext) -> Output:
    return (await _neo4j(config, ctx))[0]


async def neo4j_assert(config: Neo4jAssertConfig, ctx: StepContext) -> Output:
    out, count = await _neo4j(config, ctx)
    check_count("Neo4j", config.query, count, config, "rows")
    return out
