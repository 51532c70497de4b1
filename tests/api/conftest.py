"""API fixtures: a real uvicorn serving create_app() on the session's Temporal dev server, with
an in-process worker on its own task queue, once on SQLite and once on PostgreSQL (a fresh
schema per session in the machine's ``test`` database)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from temporalio.client import Client

from testflow.api.app import create_app
from testflow.api.db.session import Database
from testflow.api.security import create_token
from testflow.runtime.engine import Engine
from testflow.runtime.settings import Settings

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


@contextlib.asynccontextmanager
async def serve(app: object) -> AsyncIterator[str]:
    """Run ``app`` on a free loopback port; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


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
    api_settings = settings.model_copy(
        update={
            "home": home,
            "task_queue": f"api-{uuid.uuid4().hex[:8]}",
            "database_url": url,
            "database_schema": schema,
            "encryption_keys": None,
        }
    )
    db = Database(url, schema=schema)
    await db.migrate()
    async with db.session() as session:
        _row, admin = await create_token(session, name="test-admin", role="admin")
    async with Engine(api_settings, client=temporal_client) as engine:
        app = create_app(api_settings, engine=engine, database=db)
        async with (
            serve(app) as base,
            httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {admin}"}, timeout=30
            ) as client,
        ):
            yield Api(base, client, admin, api_settings, db, backend)
    if schema:
        from sqlalchemy import text

        async with db.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await db.dispose()
