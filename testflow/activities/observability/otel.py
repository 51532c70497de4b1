"""OpenTelemetry executors: W3C trace context for outgoing requests, traces read from Tempo."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from typing import Any

from testflow.activities.base import Output, StepContext, StepFailure
from testflow.activities.observability.client import call_api, make_output
from testflow.dsl.kinds.observability import (
    OtelAssertConfig,
    OtelInjectConfig,
)

# ------------------------------------------------------------------------------ OpenTelemetry


async def otel_inject(config: OtelInjectConfig, ctx: StepContext) -> Output:
    """A W3C trace context (https://www.w3.org/TR/trace-context/) for the requests that follow.

    The step's document is the context; ``extract: {trace: "$"}`` keeps it in a variable
    (an extract the flow checker sees, rather than a variable set behind its back).
    """
    trace_id = config.trace_id or secrets.token_hex(16)
    span_id = secrets.token_hex(8)
    flags = "01" if config.sampled else "00"
    traceparent = f"00-{trace_id}-{span_id}-{flags}"
    headers = {"traceparent": traceparent}
    if config.tracestate:
        headers["tracestate"] = config.tracestate
    value = {
        "trace_id": trace_id,
        "span_id": span_id,
        "traceparent": traceparent,
        "headers": headers,
    }
    return Output(
        document=value,
        fields=dict(value),
        summary=f"trace {trace_id}",
    )


def _hex_id(value: Any) -> str:
    """Tempo's JSON carries ids as base64 (protobuf bytes) or hex: always hex here."""
    text = str(value or "")
    if len(text) in (16, 32) and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.lower()
    try:
        return base64.b64decode(text).hex()
    except (binascii.Error, ValueError):
        return text


def _attributes(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        value = item.get("value", {})
        out[item.get("key", "")] = (
            next(iter(value.values()), None) if isinstance(value, dict) else value
        )
    return out


def tempo_spans(body: Any) -> list[dict[str, Any]]:
    """Flatten Tempo's OTLP JSON (``batches`` or ``resourceSpans``; ``scopeSpans`` or the older
    ``instrumentationLibrarySpans``) into one list of spans."""
    spans: list[dict[str, Any]] = []
    trace = body.get("trace", body) if isinstance(body, dict) else {}
    for batch in trace.get("batches") or trace.get("resourceSpans") or []:
        resource = _attributes((batch.get("resource") or {}).get("attributes"))
        service = resource.get("service.name")
        for scope in batch.get("scopeSpans") or batch.get("instrumentationLibrarySpans") or []:
            for span in scope.get("spans") or []:
                start, end = (
                    int(span.get("startTimeUnixNano", 0)),
                    int(span.get("endTimeUnixNano", 0)),
                )
                status = (span.get("status") or {}).get("code", "STATUS_CODE_UNSET")
                spans.append(
                    {
                        "trace_id": _hex_id(span.get("traceId")),
                        "span_id": _hex_id(span.get("spanId")),
                        "parent_span_id": _hex_id(span.get("parentSpanId")) or None,
                        "name": span.get("name"),
                        "service": service,
                        "kind": span.get("kind"),
                        "status": str(status).removeprefix("STATUS_CODE_"),
                        "start_unix_nano": start,
                        "duration_ms": (end - start) / 1e6,
                        "attributes": _attributes(span.get("attributes")),
                    }
                )
    return spans


async def otel_assert(config: OtelAssertConfig, ctx: StepContext) -> Output:
    started = time.perf_counter()
    trace_id = config.trace_id.lower()
    path = f"/api/traces/{trace_id}"
    headers = {"X-Scope-OrgID": config.tenant} if config.tenant else {}
    status, body = await call_api(
        "Tempo", config, ctx, "GET", path, headers=headers, ok_statuses=(404,)
    )
    spans = tempo_spans(body) if status != 404 else []
    found = bool(spans)
    services = sorted({s["service"] for s in spans if s["service"]})
    names = sorted({s["name"] for s in spans if s["name"]})
    errors = [s for s in spans if s["status"] == "ERROR"]
    starts = [s["start_unix_nano"] for s in spans]
    ends = [s["start_unix_nano"] + s["duration_ms"] * 1e6 for s in spans]
    problems = []
    if found != config.exists:
        problems.append("the trace was not found" if config.exists else "the trace exists")
    if config.exists and found:
        problems += [f"no span of service {s!r}" for s in config.services if s not in services]
        problems += [f"no span named {n!r}" for n in config.spans if n not in names]
        if len(spans) < config.min_spans:
            problems.append(f"{len(spans)} span(s), expected at least {config.min_spans}")
        if config.no_errors and errors:
            problems.append(
                f"{len(errors)} span(s) with status ERROR: {', '.join(str(e['name']) for e in errors[:5])}"
            )
    if problems:
        raise StepFailure(
            f"trace {trace_id}: " + "; ".join(problems),
            type="AssertionFailed",
            retryable=False,
            details={"problems": problems, "services": services, "span_names": names},
        )
    fields = {
        "found": found,
        "span_count": len(spans),
        "services": services,
        "span_names": names,
        "error_count": len(errors),
        "trace_duration_ms": (max(ends) - min(starts)) / 1e6 if spans else 0.0,
    }
    return make_output(
        spans, fields, f"trace {trace_id}: {len(spans)} span(s)", {"path": path}, started
    )
