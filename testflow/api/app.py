"""``create_app(settings)``: the FastAPI application of testflow.

Routers (one per resource) live under ``/api/v1``; ``/healthz``, ``/readyz`` and ``/metrics``
are also at the root for probes and scrapers. The built web UI (testflow/api/static, made by
``npm run build`` in web/) is served at ``/`` with index.html for client-side routes.

This module never imports testflow.activities: a server beside remote workers loads no
protocol client. The Temporal side is an :class:`~testflow.runtime.engine.Engine` handed in by
``testflow serve`` (whose embedded worker runs in a child process, not on this app's loop);
without one, the app connects its own engine without a worker when it starts. Responses carry
a Server-Timing header with the parts of the request that were timed (bench/api.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

import testflow
from testflow.api import errors
from testflow.api.db.session import Database
from testflow.api.deps import AppState, open_spans, server_timing
from testflow.api.metrics import Metrics
from testflow.api.oidc import OidcVerifier
from testflow.api.routers import (
    auth,
    environments,
    flows,
    health,
    kinds,
    plugins,
    runs,
    schedules,
    stats,
    suites,
    tokens,
)
from testflow.api.schedule_sync import ScheduleSync
from testflow.api.security import SecretBox
from testflow.api.tracker import RunTracker
from testflow.dsl.registry import default_registry
from testflow.runtime.codec import EncryptionKeys
from testflow.runtime.settings import Settings

if TYPE_CHECKING:
    from testflow.runtime.engine import Engine

log = logging.getLogger("testflow.api")
API_PREFIX = "/api/v1"
STATIC_DIR = Path(__file__).resolve().parent / "static"

NOT_BUILT = """<!doctype html><html><head><meta charset="utf-8"><title>testflow</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>testflow API is running</h1>
<p>The web UI is not built. Build it with <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>
(it lands in <code>testflow/api/static/</code>), then restart <code>testflow serve</code>.</p>
<p>The API is at <a href="/api/v1/docs">/api/v1/docs</a> (OpenAPI: <a href="/openapi.json">/openapi.json</a>).</p>
</body></html>"""


class RequestMetrics:
    """Times every request by route template (not raw path: ids would explode the labels)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = {"code": 500}
        spans = open_spans()

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                if spans:
                    spans["total"] = time.perf_counter() - began
                    timing = server_timing(spans).encode()
                    message["headers"] = [*message.get("headers", []), (b"server-timing", timing)]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], template, str(status["code"])).observe(
                time.perf_counter() - began
            )


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    database: Database | None = None,
    connect: bool = True,
) -> FastAPI:
    """The API app. ``engine``: a started Engine to use (else one is connected at start-up
    when ``connect``); ``database``: an opened Database (else one from the settings)."""
    settings = settings or Settings()
    keys = EncryptionKeys.load_or_create(settings.encryption_keys, settings.home)
    db = database or Database(
        settings.database,
        schema=settings.database_schema,
        pool_size=settings.db_pool_size,
        pool_overflow=settings.db_pool_overflow,
    )
    state = AppState(
        settings=settings,
        db=db,
        box=SecretBox(keys),
        registry=default_registry(),
        metrics=Metrics(),
        oidc=OidcVerifier(settings) if settings.oidc_issuer else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await db.migrate()
        sync: ScheduleSync | None = None
        async with contextlib.AsyncExitStack() as stack:
            if engine is not None:
                state.engine = engine
            elif connect:
                from testflow.runtime.engine import Engine

                state.engine = await stack.enter_async_context(
                    Engine(settings, registry=state.registry, with_worker=False)
                )
            if state.engine is not None:
                state.registry = state.engine.registry
                state.tracker = RunTracker(state)
                await state.tracker.resume()
                state.tracker.start_sweep(settings.tracker_sweep_s)
                if settings.schedule_sync_s > 0:
                    sync = ScheduleSync(state, settings.schedule_sync_s)
                    sync.start()
            try:
                yield
            finally:
                if sync is not None:  # before the tracker: it hands the tracker new firings
                    await sync.close()
                if state.tracker is not None:
                    await state.tracker.close()
                if database is None:
                    await db.dispose()

    app = FastAPI(
        title="testflow API",
        version=testflow.__version__,
        description="Flows, environments, runs, schedules and plugins of testflow (docs/api.md).",
        lifespan=lifespan,
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        responses={
            401: {
                "model": errors_schema(),
                "description": "A token is required, or it is unknown, expired or invalid.",
            },
            403: {"model": errors_schema(), "description": "The token's role is too low."},
            422: {
                "model": errors_schema(),
                "description": "Invalid input (with line/col for flows).",
            },
        },
    )
    app.state.tf = state
    errors.install(app)
    resources = (flows, suites, environments, runs, schedules, plugins, kinds, tokens, stats)
    for module in (*resources, auth):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(health.router)
    app.include_router(health.router, prefix=API_PREFIX, include_in_schema=False)
    _mount_webhooks_and_codec(app, state)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    app.add_middleware(RequestMetrics, metrics=state.metrics)
    _mount_ui(app)
    return app


def _mount_webhooks_and_codec(app: FastAPI, state: AppState) -> None:
    """Webhook ingress (authenticated by each run's token, not by API tokens) and, when a
    codec token is configured, the Temporal UI codec endpoint under /codec."""
    from testflow.webhooks.router import webhook_router

    settings = state.settings
    state.webhook_base = settings.public_url or f"http://{settings.api_host}:{settings.api_port}"

    def client_of(request: Any) -> Any:
        if state.engine is None or state.engine.client is None:
            raise HTTPException(503, "Temporal is not connected")
        return state.engine.client

    app.include_router(webhook_router(client_of), include_in_schema=False)
    codec_token = os.environ.get("TESTFLOW_CODEC_TOKEN")
    if codec_token:
        from testflow.runtime.codec_server import codec_from_settings, codec_router

        app.include_router(
            codec_router(codec_from_settings(settings), codec_token, prefix="/codec"),
            include_in_schema=False,
        )


def errors_schema() -> Any:
    from testflow.api.schemas import ErrorBody

    return ErrorBody


def _mount_ui(app: FastAPI) -> None:
    index = STATIC_DIR / "index.html"
    root = STATIC_DIR.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    async def ui(path: str) -> Any:
        if path.startswith(("api/", "openapi")):
            return JSONResponse(errors.body(f"no route /{path}"), status_code=404)
        if not index.exists():
            return HTMLResponse(NOT_BUILT)
        candidate = (STATIC_DIR / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            return FileResponse(candidate)
        # Client-side routes (/flows/abc, /runs/x) get the app shell.
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
