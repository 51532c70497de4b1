"""The worker's mock hub: serves the mocks declared by the runs this process executes.

Mocks are served on one shared port (``TESTFLOW_MOCK_PORT``, default: a free port) at
``/mocks/<run_id>/<name>``, so parallel runs never see each other's mocks, or on a port of
their own at ``/`` when the step gives ``port``. A mock lives in the worker process that ran
its ``mock`` step, until its ``ttl`` ends: if that worker dies the mock is gone (see
docs/durable.md; for mocks that must outlive workers use ``testflow mock serve``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from urllib.parse import quote

import uvicorn

from testflow.mocks.server import Mock, MockApp, single_mock_app
from testflow.runtime.asgi import serve_on_socket

PREFIX = "/mocks/"


async def serve_app(
    app: MockApp, host: str, port: int
) -> tuple[int, uvicorn.Server, asyncio.Task[None]]:
    return await serve_on_socket(app, host, port, what="mock server")


class MockHub:
    def __init__(
        self, host: str | None = None, port: int | None = None, public_host: str | None = None
    ) -> None:
        self.host = host or os.environ.get("TESTFLOW_MOCK_HOST", "127.0.0.1")
        self.port = port if port is not None else int(os.environ.get("TESTFLOW_MOCK_PORT", "0"))
        self.public_host = (
            public_host
            or os.environ.get("TESTFLOW_MOCK_PUBLIC_HOST")
            or ("127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host)
        )
        self.mocks: dict[tuple[str, str], Mock] = {}
        self._own: dict[tuple[str, str], tuple[uvicorn.Server, asyncio.Task[None], str]] = {}
        self._shared: tuple[int, uvicorn.Server, asyncio.Task[None]] | None = None
        self._lock = asyncio.Lock()

    def _lookup(self, path: str) -> tuple[Mock, str] | None:
        if not path.startswith(PREFIX):
            return None
        parts = path[len(PREFIX) :].split("/", 2)
        if len(parts) < 2:
            return None
        mock = self.mocks.get((parts[0], parts[1]))
        return None if mock is None else (mock, "/" + (parts[2] if len(parts) > 2 else ""))

    async def add(self, run_id: str, mock: Mock, *, port: int | None, ttl_s: float) -> str:
        """Serve ``mock`` for ``run_id``; returns its base URL. Re-adding replaces it."""
        key = (run_id, mock.name)
        async with self._lock:
            await self._stop_own(key)
            self.mocks[key] = mock
            if port is not None:
                bound, server, task = await serve_app(single_mock_app(mock), self.host, port)
                url = f"http://{self.public_host}:{bound}"
                self._own[key] = (server, task, url)
            else:
                if self._shared is None:
                    self._shared = await serve_app(MockApp(self._lookup), self.host, self.port)
                url = f"http://{self.public_host}:{self._shared[0]}{PREFIX}{quote(run_id, safe='')}/{mock.name}"
        asyncio.get_running_loop().call_later(
            ttl_s, lambda: asyncio.ensure_future(self.remove(run_id, mock))
        )
        return url

    async def remove(self, run_id: str, mock: Mock) -> None:
        key = (run_id, mock.name)
        if self.mocks.get(key) is mock:
            self.mocks.pop(key, None)
            await self._stop_own(key)

    async def _stop_own(self, key: tuple[str, str]) -> None:
        own = self._own.pop(key, None)
        if own is not None:
            server, task, _ = own
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=5)


_HUB: MockHub | None = None


def hub() -> MockHub:
    """The process's hub (created on first use, in the worker's event loop)."""
    global _HUB
    if _HUB is None:
        _HUB = MockHub()
    return _HUB
