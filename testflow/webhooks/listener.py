"""The webhook listener ``testflow run`` starts: a small ASGI server in the CLI's event loop.

``testflow run --webhook-port 8421 --public-url https://abc.tunnel.example`` makes the run's
``{{ webhooks.<name>.url }}`` point at ``<public-url>/hooks/<token>/<name>``; without a public
URL the listener's own address is used (fine for partners on the same machine or network).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from temporalio.client import Client

from testflow.runtime.asgi import serve_on_socket
from testflow.webhooks.router import webhook_router

StopListener = Callable[[], Awaitable[None]]


def create_listener_app(client: Client) -> FastAPI:
    app = FastAPI(
        title="testflow webhook listener", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.include_router(webhook_router(client))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def start_listener(
    client: Client, port: int = 0, public_url: str | None = None, *, host: str = "127.0.0.1"
) -> tuple[str, StopListener]:
    """Serve the webhook ingress on ``host:port`` (0: a free port); returns (base URL, stop).

    The socket is bound before returning, so the base URL is usable at once.
    """
    bound_port, server, task = await serve_on_socket(
        create_listener_app(client), host, port, what="webhook listener", backlog=2048
    )
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = (public_url or f"http://{shown}:{bound_port}").rstrip("/")

    async def stop() -> None:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=5)

    return base, stop
