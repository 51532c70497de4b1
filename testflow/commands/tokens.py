"""``testflow tokens create|list|revoke``: API tokens in the server's database.

Run it where the server's settings apply (same TESTFLOW_HOME / TESTFLOW_DATABASE_URL). The
token is printed once; only its hash is stored.
"""

from __future__ import annotations

import asyncio
from typing import Any

import typer

from testflow.commands import EXIT_INVALID_INPUT
from testflow.runtime.settings import Settings

tokens_app = typer.Typer(help="API tokens (roles: viewer, runner, admin).", no_args_is_help=True)


async def _with_db(work: Any) -> Any:
    from testflow.api.db.session import Database

    settings = Settings()
    db = Database(settings.database, schema=settings.database_schema)
    try:
        await db.migrate()
        async with db.session() as session:
            return await work(session)
    finally:
        await db.dispose()


@tokens_app.command("create")
def create(
    role: str = typer.Option(..., "--role", help="viewer | runner | admin"),
    name: str = typer.Option("cli", "--name", help="A label to recognise the token by."),
) -> None:
    """Create a token and print it (once)."""
    from testflow.api.security import ROLES, create_token

    if role not in ROLES:
        typer.echo(f"unknown role {role!r}; choose from {', '.join(ROLES)}", err=True)
        raise typer.Exit(EXIT_INVALID_INPUT)
    row, token = asyncio.run(_with_db(lambda s: create_token(s, name=name, role=role)))
    typer.echo(token)
    typer.echo(f"(id {row.id}, role {role}; shown once, keep it safe)", err=True)


@tokens_app.command("list")
def list_tokens() -> None:
    """List tokens (never their values)."""
    from sqlalchemy import select

    from testflow.api.db.models import ApiToken

    async def work(session: Any) -> list[ApiToken]:
        return list(
            (await session.execute(select(ApiToken).where(ApiToken.revoked == 0))).scalars()
        )

    for row in asyncio.run(_with_db(work)):
        typer.echo(f"{row.id}  {row.role:<7} {row.name}  created {row.created_at:%Y-%m-%d}")


@tokens_app.command("revoke")
def revoke(token_id: str = typer.Argument(..., help="The id shown by `tokens list`.")) -> None:
    from testflow.api.db.models import ApiToken

    async def work(session: Any) -> bool:
        row = await session.get(ApiToken, token_id)
        if row is None or row.revoked:
            return False
        row.revoked = 1
        await session.commit()
        return True

    if not asyncio.run(_with_db(work)):
        typer.echo(f"no token {token_id!r}", err=True)
        raise typer.Exit(EXIT_INVALID_INPUT)
    typer.echo(f"revoked {token_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")
