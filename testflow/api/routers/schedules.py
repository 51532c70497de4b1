"""Schedules of stored flows, backed by Temporal Schedules (cron or interval, overlap policy,
pause, resume, trigger now).

The schedule's action holds a prepared run input (flow, variables and the environment's
secrets, all encrypted by the payload codec), a snapshot taken when the schedule is created:
edit the flow or environment, then re-create the schedule. A schedule runs a flow
(``flow_id``) or a suite (``suite_id``, schedule_suites.py). Temporal names each scheduled run
``<base id>-<timestamp>``; the API adds them to the run index when it reads the schedule, and
a background task finds every firing through visibility (schedule_sync.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleDescription,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)

from testflow.api.db.models import FlowRow, RunRow, ScheduleRow, SuiteRow, tag_text, utcnow
from testflow.api.deps import AppState, Principal, app_state, db_session, require
from testflow.api.errors import Invalid, NotFound, field_problem
from testflow.api.launcher import StartRequest, new_id, prepared_input
from testflow.api.schedule_suites import suite_action_input, suite_firing_rows
from testflow.api.schemas import ScheduleIn, ScheduleOut
from testflow.dsl.durations import parse_duration
from testflow.workflows import FlowWorkflow, SuiteWorkflow

router = APIRouter(prefix="/schedules", tags=["schedules"])

OVERLAP = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer_all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "terminate_other": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
}


def temporal_id(schedule_id: str) -> str:
    return f"testflow-schedule-{schedule_id}"


async def _row(session: AsyncSession, schedule_id: str) -> ScheduleRow:
    row = await session.get(ScheduleRow, schedule_id)
    if row is None:
        raise NotFound(f"schedule {schedule_id!r} does not exist")
    return row


def recorded_starts(desc: ScheduleDescription) -> dict[str, datetime]:
    """The start the schedule recorded for each of its recent actions (workflow id -> time)."""
    return {
        str(getattr(a.action, "workflow_id", "")): a.started_at for a in desc.info.recent_actions
    }


async def sync_runs(
    state: AppState, session: AsyncSession, row: ScheduleRow, desc: ScheduleDescription
) -> list[str]:
    """Index the runs Temporal started for this schedule; returns their ids, newest first."""
    ids = [str(getattr(a.action, "workflow_id", "")) for a in desc.info.recent_actions]
    ids = [i for i in ids if i]
    ids += [str(getattr(a, "workflow_id", "")) for a in desc.info.running_actions]
    ids = list(dict.fromkeys(reversed(ids)))
    started_at = recorded_starts(desc)
    await index_firings(state, session, row, {i: started_at.get(i) for i in ids})
    return ids


async def unindexed(session: AsyncSession, run_ids: list[str]) -> list[str]:
    """The run ids the index does not have yet, in the order given."""
    if not run_ids:
        return []
    query = select(RunRow.run_id).where(RunRow.run_id.in_(run_ids))
    known = set((await session.execute(query)).scalars())
    return [run_id for run_id in run_ids if run_id not in known]


async def index_firings(
    state: AppState,
    session: AsyncSession,
    row: ScheduleRow,
    firings: dict[str, datetime | None],
) -> list[str]:
    """Add the firings (workflow id -> start) the index lacks, and follow them; returns the
    ones this call added. Shared by the readers of a schedule and the background sync
    (schedule_sync.py), on any number of API replicas at once."""
    new = await unindexed(session, list(firings))
    if not new:
        return []
    if row.suite_id is not None:
        for run_id in new:
            when = firings[run_id] or utcnow()
            session.add_all(await suite_firing_rows(session, row, run_id, when))
    else:
        flow = await session.get(FlowRow, row.flow_id) if row.flow_id else None
        tags = list(flow.tags) if flow else []
        for run_id in new:
            session.add(
                RunRow(
                    run_id=run_id,
                    flow_id=row.flow_id,
                    flow_version=flow.version if flow else None,
                    flow_name=flow.name if flow else row.name,
                    schedule_id=row.id,
                    tags=tags,
                    tag_text=tag_text(tags),
                    environment=row.environment,
                    status="running",
                    trigger="schedule",
                    started_by=f"schedule:{row.name}",
                    started_at=firings[run_id] or utcnow(),
                    text=flow.text if flow else None,
                    variables=row.variables,
                )
            )
    try:
        await session.commit()
    except IntegrityError:  # another request or replica indexed these firings just now
        await session.rollback()
        await session.refresh(row)  # the rollback expired it; the caller still reads it
        return []
    # Followed once the rows are stored: a suite's tracker turns its queued children running.
    if state.tracker is not None:
        for run_id in new:
            if row.suite_id is not None:
                state.tracker.track_suite(run_id)
            else:
                state.tracker.track(run_id)
    return new


async def schedule_out(state: AppState, session: AsyncSession, row: ScheduleRow) -> ScheduleOut:
    desc = await state.client.get_schedule_handle(temporal_id(row.id)).describe()
    recent = await sync_runs(state, session, row, desc)
    return ScheduleOut(
        id=row.id,
        name=row.name,
        flow_id=row.flow_id,
        suite_id=row.suite_id,
        cron=row.cron,
        interval_s=row.interval_s,
        timezone=row.timezone,
        environment=row.environment,
        overlap=row.overlap,
        paused=desc.schedule.state.paused,
        next_runs=desc.info.next_action_times[:5],
        recent_runs=recent,
    )


def _target(body: ScheduleIn) -> None:
    """Exactly one of flow_id and suite_id: 422 at the field otherwise."""
    if body.flow_id is not None and body.suite_id is not None:
        message = "give flow_id or suite_id, not both"
        raise Invalid(f"suite_id: {message}", [field_problem("suite_id", message)])
    if body.flow_id is None and body.suite_id is None:
        message = "a schedule runs a flow (flow_id) or a suite (suite_id)"
        raise Invalid(f"flow_id: {message}", [field_problem("flow_id", message)])


async def _flow_action(
    state: AppState, session: AsyncSession, row: ScheduleRow, flow_id: str, who: Principal
) -> ScheduleActionStartWorkflow:
    flow = await session.get(FlowRow, flow_id)
    if flow is None:
        raise NotFound(f"flow {flow_id!r} does not exist")
    row.flow_id = flow.id
    req = StartRequest(
        text=flow.text,
        filename=flow.filename,
        flow_id=flow.id,
        environment=row.environment,
        variables=row.variables,
        trigger="schedule",
        started_by=who.name,
    )
    base_id = f"run-sched-{row.id}"
    flow_input, attributes = await prepared_input(state, session, req, base_id)
    return ScheduleActionStartWorkflow(
        FlowWorkflow.run,
        flow_input,
        id=base_id,
        task_queue=state.settings.task_queue,
        typed_search_attributes=attributes,
        static_summary=f"{flow.name} (schedule {row.name})",
    )


async def _suite_action(
    state: AppState, session: AsyncSession, row: ScheduleRow, suite_id: str
) -> ScheduleActionStartWorkflow:
    suite = await session.get(SuiteRow, suite_id)
    if suite is None:
        raise NotFound(f"suite {suite_id!r} does not exist")
    row.suite_id = suite.id
    row.environment = row.environment or suite.environment
    base_id = f"suite-sched-{row.id}"
    spec, attributes, row.suite_flows = await suite_action_input(
        state, session, suite, row.environment, dict(row.variables), base_id
    )
    return ScheduleActionStartWorkflow(
        SuiteWorkflow.run,
        spec,
        id=base_id,
        task_queue=state.settings.task_queue,
        typed_search_attributes=attributes,
        static_summary=f"suite {suite.name} ({len(spec.children)} flows, schedule {row.name})",
    )


@router.get("", operation_id="listSchedules", response_model=list[ScheduleOut])
async def list_schedules(
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> list[ScheduleOut]:
    rows = (
        (await session.execute(select(ScheduleRow).order_by(ScheduleRow.created_at)))
        .scalars()
        .all()
    )
    return [await schedule_out(state, session, r) for r in rows]


@router.post("", operation_id="createSchedule", response_model=ScheduleOut, status_code=201)
async def create_schedule(
    body: ScheduleIn,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    who: Principal = Depends(require("runner")),
) -> ScheduleOut:
    _target(body)
    if not body.cron and not body.interval:
        raise Invalid("a schedule needs cron expressions or an interval")
    interval: timedelta | None = None
    if body.interval:
        try:
            interval = parse_duration(body.interval)
        except ValueError as exc:
            raise Invalid(f"interval: {exc}") from None
        if interval < timedelta(seconds=1):
            raise Invalid("interval: at least 1s")
    row = ScheduleRow(
        id=new_id(),
        name=body.name,
        environment=body.environment,
        variables=body.vars,
        cron=body.cron,
        interval_s=interval.total_seconds() if interval else None,
        overlap=body.overlap,
        timezone=body.timezone,
        created_at=utcnow(),
    )
    if body.suite_id is not None:
        action = await _suite_action(state, session, row, body.suite_id)
    else:
        assert body.flow_id is not None  # _target checked one of them is given
        action = await _flow_action(state, session, row, body.flow_id, who)
    spec = ScheduleSpec(
        cron_expressions=list(body.cron),
        intervals=[ScheduleIntervalSpec(every=interval)] if interval else [],
        time_zone_name=body.timezone,
    )
    await state.client.create_schedule(
        temporal_id(row.id),
        Schedule(
            action=action,
            spec=spec,
            policy=SchedulePolicy(overlap=OVERLAP[body.overlap]),
            state=ScheduleState(paused=body.paused, note=f"created by {who.name}"),
        ),
    )
    session.add(row)
    await session.commit()
    return await schedule_out(state, session, row)


@router.get("/{schedule_id}", operation_id="getSchedule", response_model=ScheduleOut)
async def get_schedule(
    schedule_id: str,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> ScheduleOut:
    return await schedule_out(state, session, await _row(session, schedule_id))


async def _act(
    state: AppState, session: AsyncSession, schedule_id: str, what: str, who: Principal
) -> ScheduleOut:
    row = await _row(session, schedule_id)
    handle = state.client.get_schedule_handle(temporal_id(row.id))
    if what == "pause":
        await handle.pause(note=f"paused by {who.name}")
    elif what == "resume":
        await handle.unpause(note=f"resumed by {who.name}")
    else:
        # "Trigger now" always starts a run, whatever the overlap policy says.
        await handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
    return await schedule_out(state, session, row)


@router.post("/{schedule_id}/pause", operation_id="pauseSchedule", response_model=ScheduleOut)
async def pause(
    schedule_id: str,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    who: Principal = Depends(require("runner")),
) -> ScheduleOut:
    return await _act(state, session, schedule_id, "pause", who)


@router.post("/{schedule_id}/resume", operation_id="resumeSchedule", response_model=ScheduleOut)
async def resume(
    schedule_id: str,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    who: Principal = Depends(require("runner")),
) -> ScheduleOut:
    return await _act(state, session, schedule_id, "resume", who)


@router.post(
    "/{schedule_id}/trigger",
    operation_id="triggerSchedule",
    response_model=ScheduleOut,
    status_code=202,
)
async def trigger(
    schedule_id: str,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    who: Principal = Depends(require("runner")),
) -> ScheduleOut:
    """Start a run now (the run shows up in recent_runs within a second or so)."""
    return await _act(state, session, schedule_id, "trigger", who)


@router.delete("/{schedule_id}", operation_id="deleteSchedule", status_code=204)
async def delete_schedule(
    schedule_id: str,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("runner")),
) -> Response:
    row = await _row(session, schedule_id)
    try:
        await state.client.get_schedule_handle(temporal_id(row.id)).delete()
    except Exception as exc:  # gone from Temporal already: still drop our row
        if "not found" not in str(exc).lower():
            raise
    await session.delete(row)
    await session.commit()
    return Response(status_code=204)
