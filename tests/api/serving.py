"""`testflow serve` inside the test process: the API on uvicorn, its worker, an httpx client.

The API fixtures (tests/api/conftest.py, the stream and long-run tests) build the same stack:
settings copied for a fresh home, task queue and database, an Engine with an in-process worker
on the session's Temporal dev server, ``create_app`` served on a free loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from testflow.api.app import create_app
from testflow.api.db.session import Database
from testflow.api.deps import AppState
from testflow.runtime.engine import Engine
from testflow.runtime.settings import Settings


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


@dataclass
class Served:
    url: str
    """The server's base URL (no path)."""
    client: httpx.AsyncClient
    """A client for ``url`` + the ``prefix`` asked for, with the headers asked for."""
    settings: Settings
    app: FastAPI

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.tf
        return state


@contextlib.asynccontextmanager
async def served_api(
    settings: Settings,
    temporal_client: Client,
    home: Path,
    *,
    queue: str = "api",
    database: Database | None = None,
    prefix: str = "",
    headers: Mapping[str, str] | None = None,
    client_timeout: float = 30,
    **overrides: Any,
) -> AsyncIterator[Served]:
    """The API of ``settings`` with ``home`` as its home, on task queue ``<queue>-<random>``.

    The database is SQLite in ``home`` unless ``overrides`` set ``database_url`` (pass the
    :class:`Database` already migrated as ``database`` then). ``overrides`` are further
    settings (``auth="auto"``...).
    """
    api_settings = settings.model_copy(
        update={
            "home": home,
            "task_queue": f"{queue}-{uuid.uuid4().hex[:8]}",
            "database_url": f"sqlite+aiosqlite:///{home / 'testflow.db'}",
            "database_schema": None,
            "encryption_keys": None,
            **overrides,
        }
    )
    async with Engine(api_settings, client=temporal_client) as engine:
        app = create_app(api_settings, engine=engine, database=database)
        async with (
            serve(app) as url,
            httpx.AsyncClient(
                base_url=f"{url}{prefix}", headers=dict(headers or {}), timeout=client_timeout
            ) as client,
        ):
            yield Served(url, client, api_settings, app)
