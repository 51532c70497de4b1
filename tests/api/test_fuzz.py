"""Fuzzing the API with schemathesis from its own OpenAPI document: no input makes a 500.

The server runs for real (uvicorn, on SQLite and on PostgreSQL, whose text type refuses NUL
characters), connected to the session's Temporal dev server without a worker (a fuzzed flow
that happens to be valid starts a run that just waits); auth is off so every route is reached.
Any 5xx fails, 503 included.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from temporalio.testing import WorkflowEnvironment

from testflow.api.app import create_app
from testflow.runtime.settings import Settings
from tests.api.conftest import PG_URL, postgres_up, serve

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _run_server(app: object, ready: dict[str, object], stop: threading.Event) -> None:
    async def main() -> None:
        async with serve(app) as url:
            ready["url"] = url
            await asyncio.to_thread(stop.wait)

    asyncio.run(main())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_schema(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    temporal_env: WorkflowEnvironment,
) -> Iterator[object]:
    target = temporal_env.client.service_client.config.target_host
    home: Path = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    schema_name = None
    if request.param == "postgresql":
        if not postgres_up():
            pytest.skip("PostgreSQL is not running")
        url, schema_name = PG_URL, f"tf_fuzz_{uuid.uuid4().hex[:8]}"
    else:
        url = f"sqlite+aiosqlite:///{home / 'db.sqlite'}"
    app = create_app(
        Settings(
            home=home,
            database_url=url,
            database_schema=schema_name,
            auth="off",
            plugins_dir=home / "plugins",
            temporal_address=target,
            task_queue=f"fuzz-{uuid.uuid4().hex[:8]}",
        ),
    )
    ready: dict[str, object] = {}
    stop = threading.Event()
    thread = threading.Thread(target=_run_server, args=(app, ready, stop), daemon=True)
    thread.start()
    for _ in range(200):
        if "url" in ready:
            break
        thread.join(0.05)
    assert "url" in ready, "the API did not start"
    yield schemathesis.openapi.from_url(f"{ready['url']}/openapi.json")
    stop.set()
    thread.join(10)
    if schema_name:
        asyncio.run(_drop_schema(schema_name))


async def _drop_schema(name: str) -> None:
    from sqlalchemy import text

    from testflow.api.db.session import Database

    db = Database(PG_URL)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    await db.dispose()


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_makes_a_server_error(case: schemathesis.Case) -> None:
    if case.path.endswith("/events"):
        return  # SSE: covered by the run tests (a stream is not a JSON answer)
    response = case.call(timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
