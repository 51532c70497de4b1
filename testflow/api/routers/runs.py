"""Runs: start (stored flow, inline text, suite), list, state, live events (SSE), cancel,
re-run, step details and reports."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import FileResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse, ServerSentEvent

from testflow.api.db.models import FlowRow, RunRow
from testflow.api.deps import AppState, Principal, app_state, db_session, require, span
from testflow.api.errors import Conflict, Invalid, NotFound
from testflow.api.launcher import StartRequest, start_run
from testflow.api.rerun import known_to_temporal, plan_resume
from testflow.api.routers.suites import suite_row
from testflow.api.runstate import get_result, run_row, stream_events
from testflow.api.schemas import (
    Page,
    RerunRequest,
    RunSource,
    RunStart,
    RunStarted,
    RunSummary,
    StartedRun,
)
from testflow.api.suiterun import (
    is_suite_parent,
    parent_events,
    query_suite,
    start_suite,
    suite_result,
    wait_until_started,
)
from testflow.dsl.results import RunEvent, RunResult
from testflow.reporting.model import Report
from testflow.reporting.options import ReportOptions, load_detail_file
from testflow.reporting.writer import write_reports

router = APIRouter(prefix="/runs", tags=["runs"])
REPORT_FORMATS = {
    "html": "text/html",
    "junit": "application/xml",
    "json": "application/json",
    "md": "text/markdown",
}


def temporal_url(state: AppState, run_id: str) -> str | None:
    base = state.engine.temporal_ui_url if state.engine is not None else None
    if not base:
        return None
    return f"{base.rstrip('/')}/namespaces/{state.settings.temporal_namespace}/workflows/{run_id}"


def started(state: AppState, row: RunRow) -> StartedRun:
    return StartedRun(
        run_id=row.run_id, workflow_id=row.run_id, temporal_url=temporal_url(state, row.run_id)
    )


def summary(row: RunRow) -> RunSummary:
    return RunSummary.model_validate(row, from_attributes=True)


@router.post("", operation_id="startRun", response_model=RunStarted, status_code=202)
async def start(
    body: RunStart,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    who: Principal = Depends(require("runner")),
) -> RunStarted:
    """Start a stored flow (flow_id), an inline definition (text) or every flow of a suite."""
    chosen = [k for k in ("flow_id", "text", "suite_id") if getattr(body, k) is not None]
    if len(chosen) != 1:
        raise Invalid("give exactly one of flow_id, text or suite_id")
    if body.suite_id is not None:
        return await _start_suite(state, session, body, who)
    req = StartRequest(
        text=body.text or "",
        filename=body.filename,
        environment=body.environment,
        variables=body.vars,
        started_by=who.name,
    )
    if body.flow_id is not None:
        with span("flow"):
            flow = await session.get(FlowRow, body.flow_id)
        if flow is None:
            raise NotFound(f"flow {body.flow_id!r} does not exist")
        req.text, req.filename, req.flow_id, req.flow_version = (
            flow.text,
            flow.filename,
            flow.id,
            flow.version,
        )
    row = await start_run(state, session, req)
    return RunStarted(**started(state, row).model_dump())


async def _start_suite(
    state: AppState, session: AsyncSession, body: RunStart, who: Principal
) -> RunStarted:
    """One SuiteWorkflow; its children are indexed ``queued`` and start as it allows."""
    suite = await suite_row(session, body.suite_id or "")
    parent, children = await start_suite(state, session, suite, body, who)
    return RunStarted(
        **started(state, parent).model_dump(), runs=[started(state, r) for r in children]
    )


async def result_of(state: AppState, session: AsyncSession, run_id: str) -> RunResult:
    """get_result, plus what only suite runs have: a running suite answers from its workflow,
    a child it has not started yet is running with no steps (its index row says queued)."""
    row = await run_row(session, run_id)
    if row is not None and row.result is None:
        if is_suite_parent(row):
            return suite_result(run_id, await query_suite(state, run_id), row)
        if row.status == "queued":
            return RunResult(
                run_id=run_id,
                flow=row.flow_name,
                status="running",
                started_at=row.started_at,
                tags=list(row.tags),
                environment=row.environment,
            )
    return await get_result(state, session, run_id)


@router.get("", operation_id="listRuns", response_model=Page[RunSummary])
async def list_runs(
    flow: str | None = Query(None, max_length=200, description="Flow id or flow name."),
    tag: str | None = Query(None, max_length=200),
    status: str | None = Query(None, max_length=20),
    environment: str | None = Query(None, max_length=200),
    suite: str | None = Query(None, max_length=40),
    parent: str | None = Query(None, max_length=200, description="The run id of a suite run."),
    schedule: str | None = Query(None, max_length=40),
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(50, ge=1, le=500),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> dict[str, Any]:
    """Runs from the index, newest first."""
    stmt = select(RunRow)
    if flow:
        stmt = stmt.where((RunRow.flow_id == flow) | (RunRow.flow_name == flow))
    if tag:
        stmt = stmt.where(RunRow.tag_text.contains(f",{tag},", autoescape=True))
    for column, value in (
        (RunRow.status, status),
        (RunRow.environment, environment),
        (RunRow.suite_id, suite),
        (RunRow.parent_run_id, parent),
        (RunRow.schedule_id, schedule),
    ):
        if value:
            stmt = stmt.where(column == value)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (
        await session.execute(
            stmt.order_by(RunRow.started_at.desc(), RunRow.run_id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    ).scalars()
    return {
        "items": [summary(r) for r in rows],
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@router.get("/{run_id}", operation_id="getRun", response_model=RunResult)
async def get_run(
    run_id: str,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> RunResult:
    """The run's result; ``status: running`` with the steps so far while it runs. A suite
    run's result has no steps (its children are runs: ``GET /runs?parent=<id>``)."""
    return await result_of(state, session, run_id)


@router.get("/{run_id}/source", operation_id="getRunSource", response_model=RunSource)
async def run_source(
    run_id: str,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> RunSource:
    """The run's index entry with the flow text it ran and its Temporal UI link (the UI's
    execution view draws the flow's graph from it; a later edit of the flow does not change it)."""
    row = await run_row(session, run_id)
    if row is None:
        raise NotFound(f"run {run_id!r} is not in the index (only runs started here have a source)")
    out = RunSource.model_validate(row, from_attributes=True)
    return out.model_copy(update={"temporal_url": temporal_url(state, run_id)})


@router.get(
    "/{run_id}/events",
    operation_id="streamRunEvents",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-sent RunEvents."}
    },
)
async def events(
    request: Request,
    run_id: str,
    since: int = Query(0, ge=0, le=2**31, description="Resume after this seq (or Last-Event-ID)."),
    last_event_id: str | None = Header(None, alias="Last-Event-ID", max_length=20),
    state: AppState = Depends(app_state),
    _: Principal = Depends(require("viewer")),
) -> EventSourceResponse:
    """SSE: ``event: <type>``, ``id: <seq>``, ``data: <RunEvent JSON>``; ends after run_finished."""
    if last_event_id and last_event_id.strip().isdigit():
        since = max(since, int(last_event_id.strip()))
    # A session of its own, closed before the stream starts: a request-scoped one would hold a
    # pooled connection for the stream's whole life (100 streams exhausted the pool).
    async with state.db.session() as session:
        row = await run_row(session, run_id)
        if row is None:
            await get_result(state, session, run_id)  # 404 when Temporal does not know it either
    metrics = state.metrics

    async def gen() -> Any:
        metrics.sse_streams.inc()
        try:
            # No is_disconnected() per event: EventSourceResponse listens for the disconnect
            # and cancels this generator (the check cost 4% of the loop with 100 streams).
            async for event in _events_of(state, row, run_id, since):
                yield ServerSentEvent(
                    data=event.model_dump_json(), event=event.type, id=str(event.seq)
                )
        finally:
            metrics.sse_streams.dec()

    return EventSourceResponse(
        gen(), ping=15, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


async def _events_of(
    state: AppState, row: RunRow | None, run_id: str, since: int
) -> AsyncIterator[RunEvent]:
    if row is not None and row.status == "queued":  # a suite's child: streamed once it starts
        row = await wait_until_started(state, run_id)
    if row is not None and row.result is None and is_suite_parent(row):
        events = parent_events(state, row, since)
    else:
        events = stream_events(state, row, run_id, since)
    async for event in events:
        yield event


@router.get("/{run_id}/steps/{key}/detail", operation_id="getStepDetail")
async def step_detail(
    run_id: str,
    key: str,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> dict[str, Any]:
    """The full request, response, logs and fields of one step (from the artifact store)."""
    result = await result_of(state, session, run_id)
    step = next((s for s in result.steps if s.key == key or s.step_id == key), None)
    if step is None:
        raise NotFound(f"run {run_id!r} has no finished step {key!r}")
    if step.detail is None:
        return {
            "request": None,
            "response": None,
            "logs": [line.model_dump(mode="json") for line in step.logs],
            "fields": step.preview,
        }
    detail = load_detail_file(step.detail)
    if detail is None:
        raise NotFound(f"the detail of step {key!r} is not in the artifact store (any more)")
    return detail


@router.post("/{run_id}/cancel", operation_id="cancelRun", status_code=202)
async def cancel(
    run_id: str,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("runner")),
) -> dict[str, str]:
    """Ask the run to stop; its teardown still runs. 409 when it is already over. Cancelling
    a suite run cancels its running children (their teardown runs) and starts no more."""
    row = await run_row(session, run_id)
    if row is not None and row.status == "queued":
        raise Conflict(
            f"run {run_id!r} has not started: it waits its turn in suite run "
            f"{row.parent_run_id!r}; cancel that run to stop the suite"
        )
    if row is not None and row.status != "running":
        raise Conflict(f"run {run_id!r} is already {row.status}")
    await state.client.get_workflow_handle(run_id).cancel()
    return {"run_id": run_id, "status": "cancelling"}


@router.post("/{run_id}/rerun", operation_id="rerunRun", response_model=RunStarted, status_code=202)
async def rerun(
    run_id: str,
    body: RerunRequest,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    who: Principal = Depends(require("runner")),
) -> RunStarted:
    """Start the same flow text with the same environment and variables again; with
    ``from_step``, start at that failed top-level step with the earlier run's context (the
    steps before it are reported as skipped, reused). 409 when that is not possible."""
    row = await run_row(session, run_id)
    if row is None or row.text is None:
        if body.from_step and (row is not None or await known_to_temporal(state, run_id)):
            raise Conflict(
                f"the context of run {run_id!r} is not available: it ran outside this server "
                "(testflow run, another server), so its flow text and step records are not in "
                "this server's index; re-run it where it ran, or start the flow here"
            )
        raise NotFound(f"run {run_id!r} is not in the index (only runs started here can be re-run)")
    variables = {**row.variables, **body.vars}
    req = StartRequest(
        text=row.text,
        flow_id=row.flow_id,
        flow_version=row.flow_version,
        environment=row.environment,
        variables=variables,
        trigger="rerun",
        started_by=who.name,
        parent_run_id=row.run_id,
    )
    if body.from_step:
        req.resume = await plan_resume(state, session, row, body.from_step, variables, body.vars)
    new = await start_run(state, session, req)
    return RunStarted(**started(state, new).model_dump())


@router.get(
    "/{run_id}/report/{fmt}",
    operation_id="getRunReport",
    response_class=FileResponse,
    responses={
        200: {
            "content": {m: {} for m in REPORT_FORMATS.values()},
            "description": "The report file.",
        }
    },
)
async def report(
    run_id: str,
    fmt: str,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> FileResponse:
    """The run's report: html, junit, json or md (once the run is over)."""
    if fmt not in REPORT_FORMATS:
        raise NotFound(f"unknown report format {fmt!r}; choose from {', '.join(REPORT_FORMATS)}")
    result = await result_of(state, session, run_id)
    if result.status == "running":
        raise Conflict(f"run {run_id!r} is still running; its report comes when it is over")
    # One folder per run and format (hashed: a run id may hold any character).
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:24]
    out = state.settings.home / "reports" / digest / fmt
    written = write_reports(
        Report.from_runs([result], detect=False), out, (fmt,), options=ReportOptions(history=False)
    )
    path = written[fmt]
    return FileResponse(path, media_type=REPORT_FORMATS[fmt], filename=path.name)
