"""The database handle: an async engine, sessions, and migrations to the latest revision.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) serves a team. ``schema``
isolates one API (or one test session) inside a shared PostgreSQL database through the
connection's ``search_path``, so Alembic's version table lives there too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
POOL_SIZE = 20
"""Default of ``TESTFLOW_DB_POOL_SIZE``: connections kept open for the requests. Above it (up to ``POOL_SIZE + POOL_OVERFLOW``) a
connection is opened for one checkout and closed again: under 100 concurrent starts the
default 5 meant an asyncpg connect (and its type set-up) or an aiosqlite thread per request."""
POOL_OVERFLOW = 10
"""Default of ``TESTFLOW_DB_POOL_OVERFLOW``."""


class Database:
    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        echo: bool = False,
        pool_size: int = POOL_SIZE,
        pool_overflow: int = POOL_OVERFLOW,
    ) -> None:
        self.url = make_url(url)
        self.schema = schema
        connect_args: dict[str, Any] = {}
        if self.is_sqlite:
            connect_args["timeout"] = 30
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        elif schema:
            connect_args["server_settings"] = {"search_path": schema}
        options: dict[str, Any] = {
            "echo": echo,
            "connect_args": connect_args,
            "pool_pre_ping": not self.is_sqlite,
        }
        in_memory = self.is_sqlite and self.url.database in (None, "", ":memory:")
        pool = {} if in_memory else {"pool_size": pool_size, "max_overflow": pool_overflow}
        self.engine: AsyncEngine = create_async_engine(self.url, **pool, **options)
        # The group commit has a connection of its own: queued behind the requests' checkouts
        # (100 concurrent starts and their streams), each batch waited for the pool as long as
        # a request did; one task commits at a time, so one connection (and one for a retry).
        # (An in-memory SQLite database is one connection's: it shares it.)
        self.writer: AsyncEngine = (
            self.engine
            if in_memory
            else create_async_engine(self.url, pool_size=1, max_overflow=1, **options)
        )
        if self.is_sqlite:
            for engine in {self.engine, self.writer}:
                event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._group = _GroupCommit(async_sessionmaker(self.writer, expire_on_commit=False))

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def display_url(self) -> str:
        """The URL without its password (for logs and /readyz)."""
        return self.url.render_as_string(hide_password=True)

    async def migrate(self) -> None:
        """Bring the schema to the latest Alembic revision (idempotent)."""
        if self.schema and not self.is_sqlite:
            async with self.engine.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def write(self, op: Callable[[AsyncSession], Awaitable[object]]) -> None:
        """Run ``op`` in a transaction and commit it before returning (group commit).

        For the hot writes (a run's index row at its start, its summary at its end): the writes
        that arrive while a commit is under way wait and then go together in the next one. 100
        concurrent starts made 100 commits, one after another on SQLite's single write lock,
        each several hops to the driver's thread; now a few. A failing batch is retried one
        write at a time, so only the failing write fails.
        """
        await self._group.submit(op)

    async def add(self, *rows: object) -> None:
        """Insert ``rows`` and commit (see :meth:`write`)."""

        async def insert(session: AsyncSession) -> None:
            session.add_all(rows)

        await self.write(insert)

    async def dispose(self) -> None:
        if self.writer is not self.engine:
            await self.writer.dispose()
        await self.engine.dispose()


Write = Callable[[AsyncSession], Awaitable[object]]


class _GroupCommit:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.pending: list[tuple[Write, asyncio.Future[None]]] = []
        self.task: asyncio.Task[None] | None = None

    async def submit(self, op: Write) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((op, done))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())
        # Shielded: a caller that goes away (a client disconnecting) does not undo its write.
        await asyncio.shield(done)

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                await self._commit([op for op, _ in batch])
            except Exception:
                for op, done in batch:  # one at a time: only the failing write fails
                    try:
                        await self._commit([op])
                    except Exception as exc:
                        done.set_exception(exc)
                    else:
                        done.set_result(None)
            else:
                for _op, done in batch:
                    done.set_result(None)

    async def _commit(self, ops: list[Write]) -> None:
        async with self.sessions() as session:
            for op in ops:
                await op(session)
            await session.commit()


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a run summary is written; foreign keys make deletes cascade.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
