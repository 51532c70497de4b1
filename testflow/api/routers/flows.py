"""The flow library: CRUD, validation and versions. Texts are stored byte for byte."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from testflow.api.db.models import FlowRow, FlowVersion, RunRow, tag_text, utcnow
from testflow.api.deps import AppState, Principal, app_state, db_session, require
from testflow.api.errors import NotFound, diagnostic_dict
from testflow.api.flowcache import default_filename
from testflow.api.launcher import new_id
from testflow.api.schemas import (
    FlowCreate,
    FlowOut,
    FlowSummary,
    FlowUpdate,
    FlowVersionOut,
    FlowVersionText,
    LastRun,
    Page,
    ValidateRequest,
    ValidateResult,
)
from testflow.dsl.diagnostics import FlowValidationError
from testflow.dsl.loader import LoadedFlow

router = APIRouter(prefix="/flows", tags=["flows"])


def parse(state: AppState, text: str, filename: str | None) -> LoadedFlow:
    name = filename or default_filename(text)
    return state.flows.parse(state.registry, state.library_dir, text, name, ())


def flow_out(row: FlowRow, loaded: LoadedFlow | None = None) -> FlowOut:
    warnings = [diagnostic_dict(d) for d in loaded.warnings] if loaded else []
    return FlowOut.model_validate(
        {
            "id": row.id,
            "name": row.name,
            "folder": row.folder,
            "tags": row.tags,
            "version": row.version,
            "text": row.text,
            "layout": row.layout,
            "updated_at": row.updated_at,
            "warnings": warnings,
        }
    )


async def get_flow_row(session: AsyncSession, flow_id: str) -> FlowRow:
    row = await session.get(FlowRow, flow_id)
    if row is None:
        raise NotFound(f"flow {flow_id!r} does not exist")
    return row


@router.post("/validate", operation_id="validateFlow", response_model=ValidateResult)
async def validate_flow(
    body: ValidateRequest,
    state: AppState = Depends(app_state),
    _: Principal = Depends(require("viewer")),
) -> dict[str, Any]:
    """Validate a flow text; problems come back with line/column, the flow is not stored."""
    try:
        loaded = parse(state, body.text, body.filename)
    except FlowValidationError as exc:
        return {"valid": False, "diagnostics": [diagnostic_dict(d) for d in exc.diagnostics]}
    return {"valid": True, "diagnostics": [diagnostic_dict(d) for d in loaded.warnings]}


@router.get("", operation_id="listFlows", response_model=Page[FlowSummary])
async def list_flows(
    q: str | None = Query(None, max_length=200, description="Part of the name."),
    tag: str | None = Query(None, max_length=200),
    folder: str | None = Query(None, max_length=300),
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(50, ge=1, le=500),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> dict[str, Any]:
    stmt = select(FlowRow)
    if q:
        stmt = stmt.where(FlowRow.name.icontains(q, autoescape=True))
    if tag:
        stmt = stmt.where(FlowRow.tag_text.contains(f",{tag},", autoescape=True))
    if folder is not None:
        stmt = stmt.where(FlowRow.folder == folder)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (
        (
            await session.execute(
                stmt.order_by(FlowRow.updated_at.desc(), FlowRow.id)
                .offset((page - 1) * page_size)
                .limit(page_size)
            )
        )
        .scalars()
        .all()
    )
    last = await last_runs(session, [r.id for r in rows])
    items = [
        FlowSummary(
            id=r.id,
            name=r.name,
            folder=r.folder,
            tags=r.tags,
            version=r.version,
            updated_at=r.updated_at,
            last_run=last.get(r.id),
        )
        for r in rows
    ]
    return {"items": items, "total": total, "page": page, "page_size": page_size}


async def last_runs(session: AsyncSession, flow_ids: list[str]) -> dict[str, LastRun]:
    if not flow_ids:
        return {}
    latest = (
        select(RunRow.flow_id, func.max(RunRow.started_at).label("at"))
        .where(RunRow.flow_id.in_(flow_ids))
        .group_by(RunRow.flow_id)
        .subquery()
    )
    stmt = select(RunRow).join(
        latest, (RunRow.flow_id == latest.c.flow_id) & (RunRow.started_at == latest.c.at)
    )
    out: dict[str, LastRun] = {}
    for run in (await session.execute(stmt)).scalars():
        if run.flow_id is not None:
            out[run.flow_id] = LastRun(
                run_id=run.run_id, status=run.status, finished_at=run.finished_at
            )
    return out


@router.post("", operation_id="createFlow", response_model=FlowOut, status_code=201)
async def create_flow(
    body: FlowCreate,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    who: Principal = Depends(require("runner")),
) -> FlowOut:
    """Store a new flow (422 with diagnostics when it is invalid)."""
    loaded = parse(state, body.text, body.filename)
    now = utcnow()
    row = FlowRow(
        id=new_id(),
        name=loaded.flow.name,
        folder=body.folder,
        tags=list(loaded.flow.tags),
        tag_text=tag_text(list(loaded.flow.tags)),
        version=1,
        text=body.text,
        filename=body.filename or default_filename(body.text),
        layout=body.layout,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.add(
        FlowVersion(
            flow_id=row.id,
            version=1,
            text=body.text,
            layout=body.layout,
            author=who.name,
            created_at=now,
        )
    )
    await session.commit()
    return flow_out(row, loaded)


@router.get("/{flow_id}", operation_id="getFlow", response_model=FlowOut)
async def get_flow(
    flow_id: str,
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> FlowOut:
    return flow_out(await get_flow_row(session, flow_id))


@router.put("/{flow_id}", operation_id="updateFlow", response_model=FlowOut)
async def update_flow(
    flow_id: str,
    body: FlowUpdate,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    who: Principal = Depends(require("runner")),
) -> FlowOut:
    """Save a new version of a flow (the old ones stay readable)."""
    row = await get_flow_row(session, flow_id)
    loaded = parse(state, body.text, row.filename)
    now = utcnow()
    row.version += 1
    row.text = body.text
    row.name = loaded.flow.name
    row.tags = list(loaded.flow.tags)
    row.tag_text = tag_text(list(loaded.flow.tags))
    row.layout = body.layout if body.layout is not None else row.layout
    if body.folder is not None:
        row.folder = body.folder
    row.updated_at = now
    session.add(
        FlowVersion(
            flow_id=row.id,
            version=row.version,
            text=body.text,
            layout=row.layout,
            author=who.name,
            created_at=now,
        )
    )
    await session.commit()
    return flow_out(row, loaded)


@router.delete("/{flow_id}", operation_id="deleteFlow", status_code=204)
async def delete_flow(
    flow_id: str,
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("runner")),
) -> Response:
    row = await get_flow_row(session, flow_id)
    await session.execute(delete(FlowVersion).where(FlowVersion.flow_id == row.id))
    await session.delete(row)
    await session.commit()
    return Response(status_code=204)


@router.get(
    "/{flow_id}/versions", operation_id="listFlowVersions", response_model=list[FlowVersionOut]
)
async def list_versions(
    flow_id: str,
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> list[FlowVersion]:
    await get_flow_row(session, flow_id)
    stmt = (
        select(FlowVersion)
        .where(FlowVersion.flow_id == flow_id)
        .order_by(FlowVersion.version.desc())
    )
    return list((await session.execute(stmt)).scalars())


@router.get(
    "/{flow_id}/versions/{version}", operation_id="getFlowVersion", response_model=FlowVersionText
)
async def get_version(
    flow_id: str,
    version: int = Path(ge=1, le=2**31 - 1),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> FlowVersion:
    row = await session.get(FlowVersion, (flow_id, version))
    if row is None:
        raise NotFound(f"flow {flow_id!r} has no version {version}")
    return row
