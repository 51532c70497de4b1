"""Suites: named sets of stored flows run together (with an environment and tags)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from testflow.api.db.models import EnvironmentRow, FlowRow, SuiteRow, utcnow
from testflow.api.deps import Principal, db_session, require
from testflow.api.errors import Invalid, NotFound, field_problem
from testflow.api.launcher import new_id
from testflow.api.schemas import SuiteIn, SuiteOut

router = APIRouter(prefix="/suites", tags=["suites"])


def suite_out(row: SuiteRow) -> SuiteOut:
    return SuiteOut(
        id=row.id,
        name=row.name,
        description=row.description,
        flow_ids=row.flow_ids,
        tags=row.tags,
        environment=row.environment,
        concurrency=row.concurrency,
        fail_fast=row.fail_fast,
    )


async def suite_row(session: AsyncSession, suite_id: str) -> SuiteRow:
    row = await session.get(SuiteRow, suite_id)
    if row is None:
        raise NotFound(f"suite {suite_id!r} does not exist")
    return row


async def _check(session: AsyncSession, body: SuiteIn) -> None:
    """422 with the JSON path of each unknown flow and of an unknown environment: the UI
    shows each beside its field (a flow or environment may be deleted while a suite is edited)."""
    flow_ids = body.flow_ids
    found = set(
        (await session.execute(select(FlowRow.id).where(FlowRow.id.in_(flow_ids)))).scalars()
    )
    errors = [
        field_problem(f"flow_ids[{i}]", f"flow {f!r} does not exist")
        for i, f in enumerate(flow_ids)
        if f not in found
    ]
    if body.environment and await session.get(EnvironmentRow, body.environment) is None:
        errors.append(field_problem("environment", f"environment {body.environment!r} does not exist"))
    if errors:
        raise Invalid(f"the suite has {len(errors)} problem(s): {errors[0]['message']}", errors)


@router.get("", operation_id="listSuites", response_model=list[SuiteOut])
async def list_suites(
    session: AsyncSession = Depends(db_session), _: Principal = Depends(require("viewer"))
) -> list[SuiteOut]:
    rows = (await session.execute(select(SuiteRow).order_by(SuiteRow.name))).scalars()
    return [suite_out(r) for r in rows]


@router.post("", operation_id="createSuite", response_model=SuiteOut, status_code=201)
async def create_suite(
    body: SuiteIn,
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("runner")),
) -> SuiteOut:
    await _check(session, body)
    row = SuiteRow(id=new_id(), **body.model_dump(), created_at=utcnow(), updated_at=utcnow())
    session.add(row)
    await session.commit()
    return suite_out(row)


@router.get("/{suite_id}", operation_id="getSuite", response_model=SuiteOut)
async def get_suite(
    suite_id: str,
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> SuiteOut:
    return suite_out(await suite_row(session, suite_id))


@router.put("/{suite_id}", operation_id="updateSuite", response_model=SuiteOut)
async def update_suite(
    suite_id: str,
    body: SuiteIn,
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("runner")),
) -> SuiteOut:
    row = await suite_row(session, suite_id)
    await _check(session, body)
    for key, value in body.model_dump().items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    await session.commit()
    return suite_out(row)


@router.delete("/{suite_id}", operation_id="deleteSuite", status_code=204)
async def delete_suite(
    suite_id: str,
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("runner")),
) -> Response:
    await session.delete(await suite_row(session, suite_id))
    await session.commit()
    return Response(status_code=204)
