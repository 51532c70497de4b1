"""Dashboard numbers from the run index: runs over time, pass rate, durations, slow, flaky and
failing steps (from the stored results of finished runs)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from testflow.api.db.models import RunRow
from testflow.api.deps import Principal, db_session, require

router = APIRouter(prefix="/stats", tags=["stats"])
MAX_RUNS = 5000


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@router.get("/dashboard", operation_id="getDashboard")
async def dashboard(
    flow: str | None = Query(None, max_length=200),
    tag: str | None = Query(None, max_length=200),
    environment: str | None = Query(None, max_length=200),
    days: int = Query(14, ge=1, le=365),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> dict[str, Any]:
    since = datetime.now(UTC) - timedelta(days=days)
    stmt = select(RunRow).where(
        RunRow.started_at >= since,
        RunRow.status.not_in(("running", "queued")),
        # A suite run's own row (its children are counted as runs): not a run of a flow.
        (RunRow.suite_id.is_(None)) | (RunRow.parent_run_id.is_not(None)),
    )
    if flow:
        stmt = stmt.where((RunRow.flow_id == flow) | (RunRow.flow_name == flow))
    if tag:
        stmt = stmt.where(RunRow.tag_text.contains(f",{tag},", autoescape=True))
    if environment:
        stmt = stmt.where(RunRow.environment == environment)
    rows = (
        (await session.execute(stmt.order_by(RunRow.started_at.desc()).limit(MAX_RUNS)))
        .scalars()
        .all()
    )

    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    durations: dict[str, list[float]] = defaultdict(list)
    step_times: dict[str, list[float]] = defaultdict(list)
    step_status: dict[str, Counter[str]] = defaultdict(Counter)
    failures: Counter[tuple[str, str]] = Counter()
    for run in rows:
        per_day[run.started_at.date().isoformat()][run.status] += 1
        durations[run.flow_name].append(run.duration_ms)
        for step in (run.result or {}).get("steps", []):
            name = f"{run.flow_name} / {step.get('key')}"
            step_times[name].append(float(step.get("duration_ms") or 0))
            step_status[name][step.get("status", "")] += 1
            error = step.get("error") or {}
            if step.get("status") in ("failed", "error") and error:
                failures[(error.get("type", ""), str(error.get("message", ""))[:200])] += 1
    passed = sum(1 for r in rows if r.status == "passed")
    return {
        "runs_over_time": [{"day": day, **counts} for day, counts in sorted(per_day.items())],
        "pass_rate": passed / len(rows) if rows else None,
        "durations": [
            {"flow": name, "runs": len(v), "p50_ms": _pct(v, 0.5), "p95_ms": _pct(v, 0.95)}
            for name, v in sorted(durations.items())
        ],
        "slowest_steps": sorted(
            (
                {"step": n, "mean_ms": statistics.fmean(v), "runs": len(v)}
                for n, v in step_times.items()
            ),
            key=lambda s: -float(s["mean_ms"]),  # type: ignore[arg-type]
        )[:10],
        "flaky_steps": [
            {"step": n, "passed": c["passed"], "failed": c["failed"] + c["error"]}
            for n, c in step_status.items()
            if c["passed"] and (c["failed"] or c["error"])
        ],
        "failure_clusters": [
            {"type": t, "message": m, "count": n} for (t, m), n in failures.most_common(10)
        ],
    }
