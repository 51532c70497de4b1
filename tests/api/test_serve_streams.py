"""What keeps `testflow serve` responsive under many starts and streams: one shared progress
poller per run (ended by the tracker), verified tokens cached, index writes grouped and done
beside the Temporal start. Real app on uvicorn, real Temporal and worker, SQLite (and the
group commit on PostgreSQL too)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from temporalio.client import Client

from testflow.api.db.models import ApiToken, RunRow, utcnow
from testflow.api.db.session import Database
from testflow.api.deps import AppState
from testflow.api.security import TokenCache, create_token, find_token
from testflow.runtime.settings import Settings
from tests.api.conftest import PG_URL, postgres_up
from tests.api.flows import QUICK, SLOW
from tests.api.serving import served_api
from tests.api.sse import sse_events

pytestmark = [pytest.mark.e2e, pytest.mark.workflow]

STEPPED = """\
name: stepped
steps:
  - {id: a, type: log, message: a}
  - {id: b, type: log, message: b}
  - {id: pause, type: delay, duration: 2s}
  - {id: c, type: log, message: c}
"""


@dataclass
class App:
    client: httpx.AsyncClient
    state: AppState


@pytest.fixture(scope="module")
async def app(
    settings: Settings, temporal_client: Client, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[App]:
    home: Path = tmp_path_factory.mktemp("serve-streams")
    async with served_api(
        settings,
        temporal_client,
        home,
        queue="streams",
        prefix="/api/v1",
        client_timeout=60,
        auth="auto",
    ) as served:
        yield App(served.client, served.state)


async def start(app: App, text: str) -> str:
    answer = await app.client.post("/runs", json={"text": text})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["run_id"])


async def until(check: Any, limit_s: float = 60) -> None:
    """Wait for ``check()`` (sync or async) to be true; fails after ``limit_s``."""
    for _ in range(int(limit_s / 0.01)):
        done = check()
        if asyncio.iscoroutine(done):
            done = await done
        if done:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {limit_s} s")


def has_feed(app: App, run_id: str) -> bool:
    return app.state.feeds is not None and run_id in app.state.feeds.feeds


async def events(app: App, run_id: str, since: int | None = None) -> list[dict[str, Any]]:
    headers = {"Last-Event-ID": str(since)} if since is not None else None
    return [e["data"] async for e in sse_events(app.client, f"/runs/{run_id}/events", headers)]


async def test_streams_of_one_run_share_one_poller(app: App) -> None:
    run_id = await start(app, STEPPED)
    readers = [asyncio.create_task(events(app, run_id)) for _ in range(3)]
    await until(lambda: has_feed(app, run_id))
    assert app.state.feeds is not None
    feed = app.state.feeds.feeds[run_id]
    await until(lambda: feed.readers == 3 or feed.done)
    assert feed.readers == 3 and len(app.state.feeds.feeds) == 1
    got = await asyncio.gather(*readers)
    seqs = [e["seq"] for e in got[0]]
    assert seqs == list(range(1, len(seqs) + 1)) and got[0][-1]["type"] == "run_finished"
    assert got[1] == got[0] and got[2] == got[0]
    assert run_id not in app.state.feeds.feeds  # the poller stops with its last reader


async def test_a_reader_resuming_from_before_the_first_reader_gets_the_gap(app: App) -> None:
    run_id = await start(app, STEPPED)
    later = asyncio.create_task(events(app, run_id, since=3))
    await until(lambda: has_feed(app, run_id))
    assert app.state.feeds is not None
    assert app.state.feeds.feeds[run_id].base == 3
    from_start = await events(app, run_id, since=0)
    tail = await later
    seqs = [e["seq"] for e in from_start]
    assert seqs == list(range(1, len(seqs) + 1)) and from_start[-1]["type"] == "run_finished"
    assert tail == from_start[3:]


async def test_a_terminated_run_ends_its_streams_with_its_status(
    app: App, temporal_client: Client
) -> None:
    run_id = await start(app, SLOW)
    reader = asyncio.create_task(events(app, run_id))
    await until(lambda: has_feed(app, run_id))
    assert app.state.feeds is not None
    await temporal_client.get_workflow_handle(run_id).terminate("test")
    got = await asyncio.wait_for(reader, 60)
    assert got[-1]["type"] == "run_finished" and got[-1]["status"] == "error"
    assert [e["seq"] for e in got] == list(range(1, len(got) + 1))


async def test_a_finished_run_streams_the_events_the_tracker_stored(app: App) -> None:
    run_id = await start(app, QUICK)
    live = await events(app, run_id)

    async def indexed() -> bool:
        # The index row (not the live query): the stream below must come from it.
        source = (await app.client.get(f"/runs/{run_id}/source")).json()
        return bool(source["status"] != "running")

    await until(indexed)
    assert await events(app, run_id) == live


async def test_a_run_that_cannot_start_leaves_no_index_row(app: App) -> None:
    text = "name: needs a secret\nsteps:\n  - {id: a, type: log, message: \"{{ secret('NOPE_X') }}\"}\n"
    answer = await app.client.post("/runs", json={"text": text})
    assert answer.status_code == 422, answer.text
    listed = (await app.client.get("/runs", params={"flow": "needs a secret"})).json()
    assert listed["total"] == 0


async def test_a_start_reports_where_its_time_went(app: App) -> None:
    answer = await app.client.post("/runs", json={"text": QUICK})
    names = {part.split(";")[0].strip() for part in answer.headers["server-timing"].split(",")}
    assert {"parse", "temporal", "index", "total"} <= names


async def test_a_token_revoked_through_the_api_stops_working_at_once(app: App) -> None:
    made = await app.client.post("/tokens", json={"name": "short-lived", "role": "admin"})
    assert made.status_code == 201, made.text
    token, token_id = made.json()["token"], made.json()["id"]
    headers = {"Authorization": f"Bearer {token}"}
    revoked = None
    try:
        for _ in range(3):  # verified once, then served from the cache
            assert (await app.client.get("/runs", headers=headers)).status_code == 200
        assert len(app.state.tokens._items) == 1

        async def stamped() -> bool:  # last_used_at is written after the answer
            listed = (await app.client.get("/tokens", headers=headers)).json()
            return any(t["id"] == token_id and t["last_used_at"] for t in listed)

        await until(stamped)
        revoked = await app.client.delete(f"/tokens/{token_id}", headers=headers)
        assert revoked.status_code == 204
        assert (await app.client.get("/runs", headers=headers)).status_code == 401
    finally:  # with no token left, auth "auto" lets the other tests in without one
        if revoked is None or revoked.status_code != 204:
            await app.client.delete(f"/tokens/{token_id}", headers=headers)


async def test_requests_missing_the_token_cache_together_share_one_lookup(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}")
    await db.migrate()
    try:
        async with db.session() as session:
            row, token = await create_token(session, name="burst", role="runner")
        lookups = 0

        def lookup_of(value: str) -> Callable[[], Awaitable[ApiToken | None]]:
            async def lookup() -> ApiToken | None:
                nonlocal lookups
                lookups += 1
                async with db.session() as session:
                    return await find_token(session, value)

            return lookup

        cache = TokenCache(ttl=0.5)
        first = await asyncio.gather(*(cache.verify(token, lookup_of(token)) for _ in range(50)))
        assert lookups == 1 and set(first) == {(row.id, "burst", "runner")}
        await asyncio.sleep(0.6)  # expired: the next burst looks it up once again
        await asyncio.gather(*(cache.verify(token, lookup_of(token)) for _ in range(50)))
        assert lookups == 2
        unknown = await asyncio.gather(
            *(cache.verify("tf_nope", lookup_of("tf_nope")) for _ in range(5))
        )
        assert lookups == 3 and unknown == [None] * 5  # not cached: asked again next time
    finally:
        await db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_group_commit_fails_only_the_failing_write(backend: str, tmp_path: Path) -> None:
    schema = None
    if backend == "postgresql":
        if not postgres_up():
            pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
        url, schema = PG_URL, f"tf_gc_{uuid.uuid4().hex[:8]}"
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'gc.db'}"
    db = Database(url, schema=schema)
    await db.migrate()
    try:

        def row(run_id: str) -> RunRow:
            return RunRow(run_id=run_id, flow_name="gc", status="running", started_at=utcnow())

        await db.add(row("dup"))
        ids = [f"gc-{i}" for i in range(30)]
        outcome = await asyncio.gather(
            *(db.add(row(i)) for i in ids[:15]),
            db.add(row("dup")),
            *(db.add(row(i)) for i in ids[15:]),
            return_exceptions=True,
        )
        assert [type(o) for o in outcome].count(IntegrityError) == 1
        assert isinstance(outcome[15], IntegrityError)
        async with db.session() as session:
            stored = await session.execute(select(func.count()).select_from(RunRow))
            assert stored.scalar_one() == 31
    finally:
        if schema:
            from sqlalchemy import text

            async with db.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await db.dispose()
