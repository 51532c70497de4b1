"""A realistic Report built from the models: passed/failed/error/skipped/cancelled steps,
retries, a parallel branch, assertion diffs, logs with ANSI codes and secrets to be masked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from testflow.dsl.results import (
    ArtifactRef,
    AssertionOutcome,
    AttemptRecord,
    LogLine,
    RunResult,
    StepError,
    StepRecord,
)
from testflow.reporting.model import Report

SECRET = "s3cr3t-T0ken-ACME"
"""Leaked on purpose into logs and details: every artefact must show it masked."""
T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def _detail(root: Path, run_id: str, key: str, body: dict[str, Any]) -> ArtifactRef:
    path = root / run_id / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"step_key": key, "kind": "http", "attempt": 1, **body})
    path.write_text(text, encoding="utf-8")
    return ArtifactRef(
        name=f"{key}.json", uri=path.as_uri(), size=len(text), media_type="application/json"
    )


def step(key: str, status: str, start: float, dur: float, **kw: Any) -> StepRecord:
    kw.setdefault("kind", "http")
    kw.setdefault("phase", "steps")
    return StepRecord(
        key=key,
        step_id=kw.pop("step_id", key.rsplit(".", 1)[-1]),
        status=status,  # type: ignore[arg-type]
        started_at=_at(start),
        finished_at=_at(start + dur),
        duration_ms=dur,
        attempts=kw.pop("attempts", 1 if status != "skipped" else 0),
        **kw,
    )


def order_run(artifacts: Path) -> RunResult:
    rid = "run-create-order-1a2b3c"
    create_ref = _detail(
        artifacts,
        rid,
        "steps.createOrder",
        {
            "request": {
                "method": "POST",
                "url": "http://localhost:8080/orders",
                "headers": {"Authorization": f"Bearer {SECRET}", "Accept": "application/json"},
                "json": {"product": "book", "price": 42},
            },
            "response": {
                "status": 201,
                "headers": {"Location": "/orders/17"},
                "body": {"id": 17, "status": "NEW"},
            },
            "fields": {"status": 201, "duration_ms": 35.2},
            "logs": [{"level": "info", "message": f"sent token {SECRET}"}],
        },
    )
    check_ref = _detail(
        artifacts,
        rid,
        "steps.checkOrder",
        {
            "request": {"method": "GET", "url": "http://localhost:8080/orders/17", "headers": {}},
            "response": {"status": 200, "body": {"id": 17, "status": "PENDING", "items": [1, 2]}},
        },
    )
    missing_ref = ArtifactRef(
        name="gone.json", uri=(artifacts / rid / "gone.json").as_uri(), size=10
    )
    steps = [
        step(
            "setup.seed",
            "passed",
            0,
            12,
            kind="postgresql.query",
            phase="setup",
            summary="INSERT 1",
        ),
        step(
            "steps.createOrder",
            "passed",
            15,
            40,
            summary="POST /orders -> 201",
            detail=create_ref,
            extracted={"orderId": 17},
            context_changes={"orderId": 17, "token": "***"},
            assertions=[
                AssertionOutcome(path="status", matcher="eq", expected=201, actual=201, passed=True)
            ],
            attempts=3,
            attempt_errors=[
                AttemptRecord(attempt=1, error="connection refused", at=_at(15)),
                AttemptRecord(attempt=2, error="HTTP 503 Service Unavailable", at=_at(30)),
            ],
            logs=[
                LogLine(level="warning", message="\x1b[33mretrying\x1b[0m after 503", at=_at(30))
            ],
        ),
        step("steps.fanout", "failed", 60, 300, kind="parallel", summary="2 branches"),
        step(
            "steps.fanout.b0.checkOrder",
            "failed",
            60,
            120,
            parent="steps.fanout",
            summary="GET /orders/17 -> 200",
            detail=check_ref,
            assertions=[
                AssertionOutcome(
                    path="status", matcher="eq", expected=200, actual=200, passed=True
                ),
                AssertionOutcome(
                    path="$",
                    matcher="subset",
                    expected={"id": 17, "status": "NEW"},
                    actual={"id": 17, "status": "PENDING", "items": [1, 2]},
                    passed=False,
                    message="body does not contain the expected subset",
                ),
                AssertionOutcome(
                    path="$.status",
                    matcher="eq",
                    expected="NEW",
                    actual="PENDING",
                    passed=False,
                    message="expected 'NEW', got 'PENDING'",
                    diff="--- expected\n+++ actual\n@@ -1 +1 @@\n-NEW\n+PENDING",
                ),
            ],
            error=StepError(type="AssertionFailed", message="2 of 3 assertions failed"),
        ),
        step(
            "steps.fanout.b1.orderEvent",
            "error",
            65,
            295,
            kind="kafka.consume",
            parent="steps.fanout",
            summary="orders.created: no message",
            detail=missing_ref,
            error=StepError(
                type="Timeout",
                message="no message matched within 0.3s\x07",
                details={"topic": "orders.created", "seen": 4},
            ),
            attempts=2,
            attempt_errors=[AttemptRecord(attempt=1, error="broker not ready")],
        ),
        step(
            "steps.notify",
            "skipped",
            360,
            0,
            kind="log",
            skip_reason="when: notify_enabled is false",
        ),
        step("steps.callback", "cancelled", 360, 5, kind="webhook.wait", skip_reason="run failed"),
        step("teardown.cleanup", "passed", 366, 8, kind="postgresql.query", phase="teardown"),
    ]
    return RunResult(
        run_id=rid,
        flow="Create order flow",
        flow_file="examples/orders/create-order.yaml",
        status="error",
        started_at=T0,
        finished_at=_at(374),
        duration_ms=374,
        steps=steps,
        context={"baseUrl": "http://localhost:8080", "token": "***", "orderId": 17},
        tags=["orders", "partner-acme"],
        environment="staging",
    )


def health_run() -> RunResult:
    start = _at(400)
    s = step("steps.ping", "passed", 400, 5, summary="GET /health -> 200")
    return RunResult(
        run_id="run-health-9f8e7d",
        flow='Health <check> & "ping"',
        flow_file="examples/health.yaml",
        status="passed",
        started_at=start,
        finished_at=_at(405),
        duration_ms=5,
        steps=[s],
        environment="staging",
    )


def sample_report(artifacts: Path) -> Report:
    runs = [order_run(artifacts), health_run()]
    return Report.from_runs(
        runs,
        git_sha="0123456789abcdef0123456789abcdef01234567",
        hostname="ci-runner-1",
        detect=False,
    )


def big_report(n_steps: int = 10_000) -> Report:
    """A long run (for size and render-time checks): many steps, some failing, no details."""
    steps = []
    for i in range(n_steps):
        status = "failed" if i % 97 == 0 else ("skipped" if i % 89 == 0 else "passed")
        assertions = []
        if status == "failed":
            assertions = [
                AssertionOutcome(
                    path="$.n",
                    matcher="eq",
                    expected=i,
                    actual=i + 1,
                    passed=False,
                    message="mismatch",
                )
            ]
        steps.append(
            step(
                f"steps.loop[{i}].get",
                status,
                i * 3.0,
                2.5,
                parent="steps.loop",
                iteration=i,
                summary=f"GET /items/{i} -> 200",
                assertions=assertions,
            )
        )
    run = RunResult(
        run_id="run-big-000001",
        flow="Big flow",
        status="failed",
        started_at=T0,
        finished_at=_at(n_steps * 3.0),
        duration_ms=n_steps * 3.0,
        steps=steps,
    )
    return Report.from_runs([run], git_sha="f" * 40, hostname="bench", detect=False)
