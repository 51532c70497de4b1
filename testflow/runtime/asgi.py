"""Serving a small ASGI app inside the running event loop (webhook listener, partner mocks).

The socket is bound before the server starts, so the caller knows the port (0: a free one)
at once and a bind error is reported with the address, not as a uvicorn start-up failure.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn


async def serve_on_socket(
    app: Any, host: str, port: int, *, what: str, backlog: int = 512
) -> tuple[int, uvicorn.Server, asyncio.Task[None]]:
    """Serve ``app`` on ``host:port``; returns (bound port, server, serving task)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"{what}: cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(backlog)
    sock.setblocking(False)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", backlog=backlog
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error
        await asyncio.sleep(0.01)
    return int(sock.getsockname()[1]), server, task
