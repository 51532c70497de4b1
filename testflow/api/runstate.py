"""Reading runs: the index row, Temporal's live state, events from either.

A finished run is answered from the index (its stored RunResult), so it stays readable without
a worker and after Temporal's retention. A running one is read with the workflow's
``progress`` query (a worker answers it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.service import RPCError, RPCStatusCode

from testflow.api.db.models import RunRow
from testflow.api.deps import AppState
from testflow.api.errors import NotFound
from testflow.dsl.results import RunEvent, RunResult, StepRecord
from testflow.runtime.run_events import MAX_POLL_INTERVAL, query_progress
from testflow.workflows.types import ProgressPage


async def run_row(session: AsyncSession, run_id: str) -> RunRow | None:
    return await session.get(RunRow, run_id)


POLL_INTERVAL = 0.2
QUERY_TIMEOUT = timedelta(seconds=5)


async def progress(state: AppState, run_id: str, since: int, *, attempts: int = 4) -> ProgressPage:
    """One ``progress`` query, bounded and retried (testflow.runtime.run_events)."""
    try:
        return await query_progress(
            state.client, run_id, since, rpc_timeout=QUERY_TIMEOUT, attempts=attempts
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"run {run_id!r} does not exist") from None
        raise


async def query_events(state: AppState, run_id: str, since: int = 0) -> tuple[list[RunEvent], str]:
    """All events after ``since`` (every page) and the run's status, from the workflow."""
    events: list[RunEvent] = []
    while True:
        page = await progress(state, run_id, since)
        events.extend(page.events)
        if not page.events or page.done:
            return events, page.status
        since = page.events[-1].seq


def result_from_events(
    run_id: str, events: list[RunEvent], status: str, row: RunRow | None
) -> RunResult:
    steps: dict[str, StepRecord] = {}
    started = finished = None
    flow = row.flow_name if row else ""
    for event in events:
        flow = event.flow or flow
        if event.type == "run_started":
            started = event.at
        elif event.type == "run_finished":
            finished = event.at
        elif event.step is not None and event.type == "step_finished":
            steps[event.step.key] = event.step
    started = started or (row.started_at if row else datetime.now(UTC))
    end = finished or datetime.now(UTC)
    return RunResult.model_validate(
        {
            "run_id": run_id,
            "flow": flow,
            "status": status,
            "started_at": started,
            "finished_at": finished,
            "duration_ms": (end - started).total_seconds() * 1000,
            "steps": list(steps.values()),
            "tags": row.tags if row else [],
            "environment": row.environment if row else None,
        }
    )


async def get_result(state: AppState, session: AsyncSession, run_id: str) -> RunResult:
    row = await run_row(session, run_id)
    if row is not None and row.result is not None:
        return RunResult.model_validate(row.result)
    if row is None and state.engine is None:
        raise NotFound(f"run {run_id!r} does not exist")
    events, status = await query_events(state, run_id)
    return result_from_events(run_id, events, status, row)


def events_of_result(result: RunResult) -> list[RunEvent]:
    """A finished run's event stream, rebuilt from its stored result."""
    common = {"run_id": result.run_id, "flow": result.flow}
    out = [RunEvent(seq=1, type="run_started", at=result.started_at, status="running", **common)]
    for step in result.steps:
        out.append(
            RunEvent(
                seq=len(out) + 1,
                type="step_finished",
                at=step.finished_at or result.started_at,
                step=step,
                **common,
            )
        )
    out.append(
        RunEvent(
            seq=len(out) + 1,
            type="run_finished",
            at=result.finished_at or result.started_at,
            status=result.status,
            **common,
        )
    )
    return out


async def stream_events(
    state: AppState, row: RunRow | None, run_id: str, since: int
) -> AsyncIterator[RunEvent]:
    """Events after ``since``: stored ones for a finished run, else live from the workflow."""
    if row is not None and row.result is not None:
        if row.events is not None:
            stored = [RunEvent.model_validate(e) for e in row.events]
        else:
            stored = events_of_result(RunResult.model_validate(row.result))
        for event in stored:
            if event.seq > since:
                yield event
        return
    delay = POLL_INTERVAL
    while True:  # the same backing-off poll as testflow.runtime.run_events.iter_events
        # A stream outlives a busy moment of Temporal: keep asking rather than drop the client.
        page = await progress(state, run_id, since, attempts=30)
        for event in page.events:
            since = event.seq
            yield event
        if page.done:
            return
        if page.events:
            delay = POLL_INTERVAL
        else:
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, MAX_POLL_INTERVAL)
