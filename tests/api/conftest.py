"""API fixtures: a real uvicorn serving create_app() on the session's Temporal dev server, with
an in-process worker on its own task queue, once on SQLite and once on PostgreSQL (a fresh
schema per session in the machine's ``test`` database)."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from testflow.api.db.session import Database
from testflow.api.security import create_token
from testflow.runtime.settings import Settings
from tests.api.serving import Served, serve, served_api

__all__ = ["PG_URL", "Api", "Served", "postgres_up", "serve", "served_api"]

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def postgres_up() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 5432), timeout=1):
        return True
    return False


@dataclass
class Api:
    url: str
    client: httpx.AsyncClient
    admin_token: str
    settings: Settings
    db: Database
    backend: str

    def as_token(self, token: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def api(
    request: pytest.FixtureRequest,
    settings: Settings,
    temporal_client: Client,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Api]:
    backend = request.param
    home: Path = tmp_path_factory.mktemp(f"api-{backend}")
    schema = None
    if backend == "postgresql":
        if not postgres_up():
            pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
        url, schema = PG_URL, f"tf_api_{uuid.uuid4().hex[:10]}"
    else:
        url = f"sqlite+aiosqlite:///{home / 'testflow.db'}"
    db = Database(url, schema=schema)
    await db.migrate()
    async with db.session() as session:
        _row, admin = await create_token(session, name="test-admin", role="admin")
    async with served_api(
        settings,
        temporal_client,
        home,
        database=db,
        headers={"Authorization": f"Bearer {admin}"},
        database_url=url,
        database_schema=schema,
    ) as served:
        yield Api(served.url, served.client, admin, served.settings, db, backend)
    if schema:
        from sqlalchemy import text

        async with db.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await db.dispose()
