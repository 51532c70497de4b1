"""The bundled demo partner service (an orders API) and a way to run it in the background.

``start_demo_service()`` serves it with uvicorn on a background thread and returns its URL and
a ``stop`` function; ``testflow demo`` and the tests use it, ``python -m testflow.demo`` runs it
in the foreground.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from testflow.demo.app import DEFAULT_CLIENTS, create_app
from testflow.demo.server import serve_in_thread

__all__ = [
    "DEFAULT_CLIENTS",
    "create_app",
    "default_db_path",
    "serve_in_thread",
    "start_demo_service",
]


def default_db_path() -> str:
    """``DEMO_DB`` when set, else a fresh file in the temporary directory."""
    path = os.environ.get("DEMO_DB")
    if path:
        return path
    fd, path = tempfile.mkstemp(prefix="testflow-demo-", suffix=".sqlite3")
    os.close(fd)
    return path


def start_demo_service(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    db_path: str | None = None,
    token: str | None = None,
    clients: dict[str, str] | None = None,
    token_ttl: int = 3600,
    startup_timeout: float = 10.0,
) -> tuple[str, Callable[[], None]]:
    """Serve the demo API on a background thread; returns ``(base_url, stop)``.

    ``port=0`` picks a free port. ``token`` (default: none, unlike the command line, which
    reads ``DEMO_TOKEN``) makes writes require ``Authorization: Bearer <token>``.
    """
    app = create_app(
        db_path or default_db_path(), token=token, clients=clients, token_ttl=token_ttl
    )
    bound, stop = serve_in_thread(
        app, host=host, port=port, startup_timeout=startup_timeout, lifespan="on"
    )
    return f"http://{host}:{bound}", stop
