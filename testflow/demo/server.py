"""Serve an ASGI app with uvicorn on a background thread (the demo service, test servers)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn


def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 10.0,
    **config: Any,
) -> tuple[int, Callable[[], None]]:
    """Start ``app`` and wait until it listens; returns ``(bound_port, stop)``.

    ``config`` goes to :class:`uvicorn.Config` (``ssl_certfile``, ``ssl_cert_reqs``...).
    Runs its own event loop, so it works from synchronous code and from async tests alike.
    """
    config.setdefault("log_level", "warning")
    config.setdefault("timeout_graceful_shutdown", 2)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **config))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve())
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn-{host}:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if failure or not thread.is_alive():
            raise RuntimeError(f"the server did not start on {host}:{port}: {failure or 'exited'}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server did not start within {startup_timeout} s")
        time.sleep(0.01)
    bound = int(server.servers[0].sockets[0].getsockname()[1])

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return bound, stop
