"""API tokens (admins): create (the token is shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from testflow.api.db.models import ApiToken
from testflow.api.deps import AppState, Principal, app_state, db_session, require
from testflow.api.errors import NotFound
from testflow.api.schemas import TokenCreated, TokenIn, TokenOut
from testflow.api.security import create_token

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("", operation_id="listTokens", response_model=list[TokenOut])
async def list_tokens(
    session: AsyncSession = Depends(db_session), _: Principal = Depends(require("admin"))
) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.revoked == 0).order_by(ApiToken.created_at)
    return list((await session.execute(stmt)).scalars())


@router.post("", operation_id="createToken", response_model=TokenCreated, status_code=201)
async def new_token(
    body: TokenIn,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("admin")),
) -> TokenCreated:
    row, token = await create_token(session, name=body.name, role=body.role)
    state.forget_token_count()
    return TokenCreated(
        id=row.id,
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        last_used_at=None,
        token=token,
    )


@router.delete("/{token_id}", operation_id="revokeToken", status_code=204)
async def revoke_token(
    token_id: str,
    state: AppState = Depends(app_state),
    session: AsyncSession = Depends(db_session),
    _: Principal = Depends(require("admin")),
) -> Response:
    row = await session.get(ApiToken, token_id)
    if row is None or row.revoked:
        raise NotFound(f"token {token_id!r} does not exist")
    row.revoked = 1
    await session.commit()
    state.forget_token_count()
    return Response(status_code=204)
