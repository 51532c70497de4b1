"""Stored flows run through the API open files only inside the server's flow library.

A runner stores flows that try to read the server's files from the worker: a multipart upload
of /etc/passwd to an HTTP server of the test, the API's own database through sqlite.query
(its DSN and an ATTACH), paths with '..' and a symlink out of the library. Each step fails
with the non-retryable FileNotAllowed and nothing of those files reaches the HTTP server or
the run's result; the same steps on files inside the library work.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from testflow.api.db.models import ApiToken
from testflow.api.security import create_token
from tests.api.conftest import Api, serve
from tests.api.sse import collect

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]

OUTSIDE = "outside-the-library-7c1d"
"""Content of a file next to the library (in the server's home), never to be read."""


class Sink:
    """An HTTP server that records every request body it receives (a partner's endpoint)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        answer = json.dumps({"received": len(body)}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


@pytest.fixture
async def sink() -> AsyncIterator[tuple[str, Sink]]:
    app = Sink()
    async with serve(app) as url:
        yield url, app


@pytest.fixture
async def runner(api: Api) -> AsyncIterator[Any]:
    """A client with the runner role (the users who write the stored flows)."""
    async with api.db.session() as session:
        _row, token = await create_token(session, name="file-policy-runner", role="runner")
    async with api.as_token(token) as client:
        yield client


@pytest.fixture
def library(api: Api) -> Path:
    """The server's flow library with a file, and a file and a symlink leading out of it."""
    home = api.settings.home
    library = home / "library"
    (library / "uploads").mkdir(parents=True, exist_ok=True)
    (library / "data").mkdir(exist_ok=True)
    (library / "uploads" / "hello.txt").write_text("hello from the library")
    (home / "outside.txt").write_text(OUTSIDE)
    link = library / "uploads" / "link.txt"
    if not link.is_symlink():
        link.symlink_to(home / "outside.txt")
    return library


async def run_stored(client: Any, text: str) -> dict[str, Any]:
    """Store ``text`` as a flow, run it and return the finished run's result."""
    created = await client.post("/api/v1/flows", json={"text": text})
    assert created.status_code == 201, created.text
    started = await client.post("/api/v1/runs", json={"flow_id": created.json()["id"]})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    events = await collect(client, f"/api/v1/runs/{run_id}/events")
    assert events[-1]["event"] == "run_finished", events[-1]
    result: dict[str, Any] = (await client.get(f"/api/v1/runs/{run_id}")).json()
    return result


def refused(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The steps of a run by id; asserts that every one failed with FileNotAllowed once."""
    steps = {s["step_id"]: s for s in result["steps"]}
    for step_id, step in steps.items():
        assert step["status"] == "error", (step_id, step)
        assert step["error"]["type"] == "FileNotAllowed", (step_id, step["error"])
        assert step["attempts"] == 1, (step_id, step)  # not retried, though the flow asks to
        assert "flow library" in step["error"]["message"]
    return steps


async def test_multipart_upload_of_etc_passwd_never_leaves_the_worker(
    api: Api, runner: Any, sink: tuple[str, Sink], library: Path
) -> None:
    url, app = sink
    text = f"""\
name: upload passwd
defaults: {{retry: {{attempts: 3, initial_interval: 100ms}}}}
steps:
  - id: passwd
    type: http
    continue_on_error: true
    request:
      method: POST
      url: {url}/upload
      multipart: {{doc: {{path: /etc/passwd}}}}
"""
    result = await run_stored(runner, text)
    step = refused(result)["passwd"]
    assert "/etc/passwd" in step["error"]["message"]
    assert str(library) in step["error"]["message"]  # names the root the run is held to
    assert app.bodies == []  # the request was never sent
    assert "root:" not in json.dumps(result)


async def test_sqlite_steps_cannot_open_the_api_database(
    api: Api, runner: Any, library: Path
) -> None:
    database = api.settings.home / "testflow.db"  # the SQLite backend's file (token hashes)
    existed = database.exists()
    text = f"""\
name: read the api database
steps:
  - id: by_dsn
    type: sqlite.query
    continue_on_error: true
    dsn: sqlite:///{database}
    sql: SELECT token_hash FROM api_tokens
  - id: by_dotdot
    type: sqlite.query
    continue_on_error: true
    dsn: sqlite:///../testflow.db
    sql: SELECT token_hash FROM api_tokens
  - id: by_attach
    type: sqlite.execute
    continue_on_error: true
    dsn: "sqlite:///:memory:"
    sql: ATTACH DATABASE '{database}' AS api
  - id: by_vacuum
    type: sqlite.execute
    continue_on_error: true
    dsn: "sqlite:///:memory:"
    sql: VACUUM INTO '{api.settings.home / "copy.db"}'
"""
    result = await run_stored(runner, text)
    steps = refused(result)
    assert set(steps) == {"by_dsn", "by_dotdot", "by_attach", "by_vacuum"}
    assert "SQLite ATTACH" in steps["by_attach"]["error"]["message"]
    # Nothing was created outside the library, and no token hash is in the result.
    assert database.exists() == existed
    assert not (api.settings.home / "copy.db").exists()
    async with api.db.session() as session:
        hashes = (await session.execute(select(ApiToken.token_hash))).scalars().all()
    shown = json.dumps(result)
    assert hashes and not any(h in shown for h in hashes)


async def test_paths_out_of_the_library_are_refused(
    api: Api, runner: Any, sink: tuple[str, Sink], library: Path
) -> None:
    url, app = sink
    text = f"""\
name: paths out of the library
steps:
  - id: dotdot
    type: http
    continue_on_error: true
    request:
      method: POST
      url: {url}/upload
      multipart: {{doc: {{path: ../outside.txt}}}}
  - id: symlink
    type: http
    continue_on_error: true
    request:
      method: POST
      url: {url}/upload
      multipart: {{doc: {{path: uploads/link.txt}}}}
  - id: tls
    type: http
    continue_on_error: true
    request:
      url: {url}/tls
      tls: {{ca_bundle: uploads/../../outside.txt}}
  - id: s3
    type: s3.put
    continue_on_error: true
    endpoint: {url}
    bucket: b
    key: k
    file: ../outside.txt
  - id: mock
    type: mock
    continue_on_error: true
    name: partner
    file: ../outside.txt
"""
    result = await run_stored(runner, text)
    steps = refused(result)
    assert set(steps) == {"dotdot", "symlink", "tls", "s3", "mock"}
    assert app.bodies == []
    assert OUTSIDE not in json.dumps(result)


async def test_files_inside_the_library_work(
    api: Api, runner: Any, sink: tuple[str, Sink], library: Path
) -> None:
    url, app = sink
    text = f"""\
name: files inside the library
steps:
  - id: upload
    type: http
    request:
      method: POST
      url: {url}/upload
      multipart: {{doc: {{path: uploads/hello.txt}}}}
    assert: {{status: 200}}
  - id: create
    type: sqlite.execute
    dsn: sqlite:///data/orders.db
    sql: CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, product TEXT)
  - id: insert
    type: sqlite.insert
    dsn: sqlite:///data/orders.db
    table: orders
    values: {{product: book}}
  - id: read
    type: sqlite.query
    dsn: sqlite:///data/orders.db
    sql: SELECT count(*) AS n FROM orders
    assert: {{"$[0].n": {{gte: 1}}}}
  - id: memory
    type: sqlite.query
    dsn: "sqlite:///:memory:"
    sql: SELECT 1 AS one
    assert: {{"$[0].one": 1}}
"""
    result = await run_stored(runner, text)
    assert result["status"] == "passed", [(s["step_id"], s.get("error")) for s in result["steps"]]
    assert len(app.bodies) == 1 and b"hello from the library" in app.bodies[0]
    assert (library / "data" / "orders.db").is_file()  # relative paths start at the library
