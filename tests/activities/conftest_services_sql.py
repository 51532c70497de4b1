"""Fixtures of the SQL, Redis, S3 and observability step tests (real local services).

PostgreSQL (127.0.0.1:5432, db test), MariaDB (127.0.0.1:3306, root, db test) and Redis
(6379) run on the development machines and in CI; moto's S3 server and the recorded-response
server (Loki, Neo4j, Tempo answers) are started here, Prometheus in test_observability.py.
The DSNs can be overridden with TESTFLOW_TEST_PG_DSN / _MYSQL_DSN / _REDIS_URL.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from testflow.activities import pools
from testflow.activities.base import StepContext

PG_DSN = os.environ.get("TESTFLOW_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_DSN = os.environ.get("TESTFLOW_TEST_MYSQL_DSN", "mysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("TESTFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

MakeCtx = Callable[..., StepContext]
RECORDED = Path(__file__).parent / "recorded"


@pytest.fixture
def make_ctx() -> MakeCtx:
    """A StepContext factory: ``make_ctx(timeout=5, connections={...})``."""

    def make(
        timeout: float = 10.0, connections: dict[str, dict[str, object]] | None = None
    ) -> StepContext:
        return StepContext(
            run_id="run-test",
            flow_name="test",
            step_id="step",
            step_key="steps.step",
            variables={},
            step_outputs={},
            connections=connections or {},
            deadline=time.monotonic() + timeout,
        )

    return make


@pytest.fixture
def unique() -> str:
    """A name unique to this test (tables, keys, buckets)."""
    return f"tf_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session", autouse=True)
async def close_step_pools() -> AsyncIterator[None]:
    """Close the per-worker pools the executors cached, at the end of the session."""
    yield
    await pools.close_all()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 API on loopback (moto's server), for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class Recorded:
    """A loopback HTTP server answering (method, path) with recorded files; keeps requests."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], tuple[int, bytes]] = {}
        self.requests: list[dict[str, Any]] = []
        recorded = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded.requests.append(
                    {
                        "method": self.command,
                        "path": parts.path,
                        "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                        "headers": dict(self.headers),
                        "json": json.loads(body) if body else None,
                    }
                )
                status, payload = recorded.routes.get(
                    (self.command, parts.path), (404, b"not found")
                )
                self.send_response(status)
                kind = "application/json" if payload.startswith(b"{") else "text/plain"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def route(self, method: str, path: str, file: str, status: int = 200) -> None:
        """Answer ``method path`` with the file ``tests/activities/recorded/<file>``."""
        self.routes[(method, path)] = (status, (RECORDED / file).read_bytes())


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    server = Recorded()
    yield server
    server.server.shutdown()
    server.server.server_close()
