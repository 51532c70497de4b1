"""Schedules of stored flows, backed by Temporal Schedules (cron or interval, overlap policy,
pause, resume, trigger now).

The schedule's action holds a prepared run input (flow, variables and the environment's
secrets, all encrypted by the payload codec), a snapshot taken when the schedule is created:
edit the flow or environment, then re-create the schedule. Temporal names each scheduled run
``<base id>-<timestamp>``; the API adds them to the run index when it reads the schedule.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select
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

from testflow.api.db.models import FlowRow, RunRow, ScheduleRow, tag_text, utcnow
from testflow.api.deps import AppState, Principal, app_state, db_session, require
from testflow.api.errors import Invalid, NotFound
from testflow.api.launcher import StartRequest, new_id, prepared_input
from testflow.api.schemas import ScheduleIn, ScheduleOut
from testflow.dsl.durations import parse_duration
from testflow.workflows import FlowWorkflow

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


async def sync_runs(
    state: AppState, session: AsyncSession, row: ScheduleRow, desc: ScheduleDescription
) -> list[str]:
    """Index the runs Temporal started for this schedule; returns their ids, newest first."""
    ids = [str(getattr(a.action, "workflow_id", "")) for a in desc.info.recent_actions]
    ids = [i for i in ids if i]
    ids += [str(getattr(a, "workflow_id", "")) for a in desc.info.running_actions]
    ids = list(dict.fromkeys(reversed(ids)))
    if not ids:
        return []
    known = set(
        (await session.execute(select(RunRow.run_id).where(RunRow.run_id.in_(ids)))).scalars()
    )
    flow = await session.get(FlowRow, row.flow_id)
    added = False
    for run_id in ids:
        if run_id in known:
            continue
        tags = list(flow.tags) if flow else []
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
                started_at=utcnow(),
                text=flow.text if flow else None,
                variables=row.variables,
            )
        )
        added = True
        if state.tracker is not None:
            state.tracker.track(run_id)
    if added:
        await session.commit()
    return ids


async def schedule_out(state: AppState, session: AsyncSession, row: ScheduleRow) -> ScheduleOut:
    desc = await state.client.get_schedule_handle(temporal_id(row.id)).describe()
    recent = await sync_runs(state, session, row, desc)
    return ScheduleOut(
        id=row.id,
        name=row.name,
        flow_id=row.flow_id,
        cron=row.cron,
        interval_s=row.interval_s,
        timezone=row.timezone,
        environment=row.environment,
        overlap=row.overlap,
        paused=desc.schedule.state.paused,
        next_runs=desc.info.next_action_times[:5],
        recent_runs=recent,
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
    flow = await session.get(FlowRow, body.flow_id)
    if flow is None:
        raise NotFound(f"flow {body.flow_id!r} does not exist")
    row = ScheduleRow(
        id=new_id(),
        name=body.name,
        flow_id=flow.id,
        environment=body.environment,
        variables=body.vars,
        cron=body.cron,
        interval_s=interval.total_seconds() if interval else None,
        overlap=body.overlap,
        timezone=body.timezone,
        created_at=utcnow(),
    )
    req = StartRequest(
        text=flow.text,
        filename=flow.filename,
        flow_id=flow.id,
        environment=body.environment,
        variables=body.vars,
        trigger="schedule",
        started_by=who.name,
    )
    base_id = f"run-sched-{row.id}"
    flow_input, attributes = await prepared_input(state, session, req, base_id)
    action = ScheduleActionStartWorkflow(
        FlowWorkflow.run,
        flow_input,
        id=base_id,
        task_queue=state.settings.task_queue,
        typed_search_attributes=attributes,
        static_summary=f"{flow.name} (schedule {body.name})",
    )
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
