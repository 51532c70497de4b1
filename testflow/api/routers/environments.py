"""Environments: variables, named connections and secrets (sealed at rest, write-only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from testflow.api.db.models import EnvironmentRow, SuiteRow, utcnow
from testflow.api.deps import AppState, Principal, app_state, db_session, require
from testflow.api.errors import Conflict, Invalid, NotFound
from testflow.api.schemas import EnvironmentIn, EnvironmentOut
from testflow.dsl.models import Connection

router = APIRouter(prefix="/environments", tags=["environments"])
MASK = "***"


def env_out(row: EnvironmentRow) -> EnvironmentOut:
    return EnvironmentOut(
        name=row.name,
        description=row.description,
        variables=row.variables,
        secrets=dict.fromkeys(row.secrets, MASK),
        connections=row.connections,
        updated_at=row.updated_at,
    )


def _connections(raw: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            out[name] = Connection.model_validate(value).model_dump(mode="json", exclude_none=True)
        except ValidationError as exc:
            errors = [
                {
                    "path": ".".join(["connections", name, *map(str, e["loc"])]),
                    "line": None,
                    "col": None,
                    "message": e["msg"],
                    "hint": "a connection has dsn, url and options",
                    "severity": "error",
                }
                for e in exc.errors()
            ]
            raise Invalid(f"connection {name!r} is invalid", errors) from None
    return out


def _secrets(
    state: AppState, given: dict[str, str | None], stored: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in given.items():
        if value is None or value == MASK:
            if name not in stored:
                raise Invalid(f"secret {name!r} has no stored value to keep; give its value")
            out[name] = stored[name]
        else:
            out[name] = state.box.seal(value)
    return out


async def _row(session: AsyncSession, name: str) -> EnvironmentRow:
    row = await session.get(EnvironmentRow, name)
    if row is None:
        raise NotFound(f"environment {name!r} does not exist")
    return row


@router.get("", operation_id="listEnvironments", response_model=list[EnvironmentOut])
async def list_environments(
    session: AsyncSession = Depends(db_session), _: Principal = Depends(require("viewer"))
) -> list[EnvironmentOut]:
    rows = (await session.execute(select(EnvironmentRow).order_by(EnvironmentRow.name))).scalars()
    return [env_out(r) for r in rows]


@router.post("", operation_id="createEnvironment", response_model=EnvironmentOut, status_code=201)
async def create_environment(
    body: EnvironmentIn,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("admin")),
) -> EnvironmentOut:
    if not body.name:
        raise Invalid("an environment needs a name")
    if await session.get(EnvironmentRow, body.name) is not None:
        raise Conflict(
            f"environment {body.name!r} exists; PUT /environments/{body.name} changes it"
        )
    row = EnvironmentRow(
        name=body.name,
        description=body.description,
        variables=body.variables,
        secrets=_secrets(state, body.secrets, {}),
        connections=_connections(body.connections),
        updated_at=utcnow(),
    )
    session.add(row)
    await session.commit()
    return env_out(row)


@router.get("/{name}", operation_id="getEnvironment", response_model=EnvironmentOut)
async def get_environment(
    name: str,
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("viewer")),
) -> EnvironmentOut:
    return env_out(await _row(session, name))


@router.put("/{name}", operation_id="updateEnvironment", response_model=EnvironmentOut)
async def update_environment(
    name: str,
    body: EnvironmentIn,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("admin")),
) -> EnvironmentOut:
    """Replace an environment (secrets: null or '***' keeps a stored value).

    A ``name`` other than the path's renames it (409 when that name is taken). Its sealed
    secrets move as they are, and suites that run in it follow the new name; runs and
    schedules keep the name they recorded (a schedule holds a snapshot of the environment)."""
    row = await _row(session, name)
    if body.name is not None and body.name != name:
        await _rename(session, row, body.name)
    row.description = body.description
    row.variables = body.variables
    row.secrets = _secrets(state, body.secrets, row.secrets)
    row.connections = _connections(body.connections)
    row.updated_at = utcnow()
    await session.commit()
    return env_out(row)


async def _rename(session: AsyncSession, row: EnvironmentRow, new: str) -> None:
    if await session.get(EnvironmentRow, new) is not None:
        raise Conflict(
            f"environment {new!r} exists; choose another name",
            [
                {
                    "path": "name",
                    "line": None,
                    "col": None,
                    "message": f"{new!r} is taken",
                    "hint": None,
                    "severity": "error",
                }
            ],
        )
    old = row.name
    # The primary key changes in place (UPDATE ... SET name): the ciphertexts are not
    # re-sealed, since the secret box binds no name to them. A concurrent create of the same
    # name makes the commit fail with an IntegrityError, which the API answers with 409.
    row.name = new
    await session.execute(
        update(SuiteRow).where(SuiteRow.environment == old).values(environment=new)
    )


@router.delete("/{name}", operation_id="deleteEnvironment", status_code=204)
async def delete_environment(
    name: str, session: AsyncSession = Depends(db_session), _: Principal = Depends(require("admin"))
) -> Response:
    await session.delete(await _row(session, name))
    await session.commit()
    return Response(status_code=204)
