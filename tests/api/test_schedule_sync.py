"""Firings of schedules reach the run index on their own (schedule_sync.py), on both
databases against the real Temporal dev server: no test here reads a schedule (GET /schedules
would index its last ~10 firings itself), and schedules fire through Temporal directly."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import text
from temporalio.client import Client, ScheduleBackfill, ScheduleOverlapPolicy

from testflow.api import schedule_sync
from testflow.api.db.models import ScheduleRow
from testflow.api.db.session import Database
from testflow.api.security import create_token
from testflow.runtime.settings import Settings
from tests.api.conftest import PG_URL, Api, postgres_up, served_api
from tests.api.test_schedule_suites import make_suite, quick

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]

T = TypeVar("T")
DEADLINE_S = 180.0
"""Generous: the shared API syncs every 15 s (the default) and the machine is shared."""


async def eventually(check: Callable[[], Awaitable[T | None]], what: str) -> T:
    give_up = asyncio.get_running_loop().time() + DEADLINE_S
    while asyncio.get_running_loop().time() < give_up:
        got = await check()
        if got:
            return got
        await asyncio.sleep(0.2)
    raise AssertionError(f"never saw {what}")


async def scheduled(client: httpx.AsyncClient, schedule_id: str) -> dict[str, dict[str, Any]]:
    listed = await client.get("/api/v1/runs", params={"schedule": schedule_id, "page_size": 500})
    assert listed.status_code == 200, listed.text
    return {r["run_id"]: r for r in listed.json()["items"]}


async def all_over(
    client: httpx.AsyncClient, schedule_id: str, ids: set[str]
) -> dict[str, dict[str, Any]]:
    async def over() -> dict[str, dict[str, Any]] | None:
        rows = await scheduled(client, schedule_id)
        done = {i: r for i, r in rows.items() if r["status"] not in ("running", "queued")}
        return done if set(done) >= ids else None

    return await eventually(over, f"the end of {len(ids)} scheduled run(s)")


async def test_a_fired_schedule_is_indexed_and_followed_without_being_read(
    api: Api, temporal_client: Client
) -> None:
    flow = await api.client.post("/api/v1/flows", json={"text": quick("unread")})
    assert flow.status_code == 201, flow.text
    made = await api.client.post(
        "/api/v1/schedules",
        json={"name": "unread nightly", "flow_id": flow.json()["id"], "cron": ["0 3 1 1 *"]},
    )
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    await temporal_client.get_schedule_handle(f"testflow-schedule-{sid}").trigger()

    async def one() -> dict[str, dict[str, Any]] | None:
        return await scheduled(api.client, sid) or None

    (run_id,) = await eventually(one, "the firing in GET /runs")
    assert run_id.startswith(f"run-sched-{sid}-")
    row = (await all_over(api.client, sid, {run_id}))[run_id]
    assert row["status"] == "passed" and row["trigger"] == "schedule"
    result = (await api.client.get(f"/api/v1/runs/{run_id}")).json()
    assert result["status"] == "passed" and result["flow"] == "unread"
    assert (await api.client.delete(f"/api/v1/schedules/{sid}")).status_code == 204


async def test_a_suite_schedule_firing_is_indexed_with_its_children(
    api: Api, temporal_client: Client
) -> None:
    suite_id, names = await make_suite(api, 2)
    made = await api.client.post(
        "/api/v1/schedules",
        json={"name": "unread suite", "suite_id": suite_id, "cron": ["0 3 1 1 *"]},
    )
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    await temporal_client.get_schedule_handle(f"testflow-schedule-{sid}").trigger()

    async def parent() -> list[str] | None:
        rows = await scheduled(api.client, sid)
        return [i for i, r in rows.items() if r["parent_run_id"] is None] or None

    (firing,) = await eventually(parent, "the suite firing in GET /runs")
    assert firing.startswith(f"suite-sched-{sid}-")
    row = (await all_over(api.client, sid, {firing}))[firing]
    assert row["status"] == "passed" and row["suite_id"] == suite_id
    assert row["counts"]["passed"] == 2
    kids = await api.client.get("/api/v1/runs", params={"parent": firing})
    got = {r["run_id"]: r for r in kids.json()["items"]}
    assert sorted(got) == [f"{firing}.0", f"{firing}.1"]
    assert [got[f"{firing}.{i}"]["flow_name"] for i in range(2)] == names
    assert {r["status"] for r in got.values()} == {"passed"}
    assert (await api.client.delete(f"/api/v1/schedules/{sid}")).status_code == 204


@contextlib.asynccontextmanager
async def fresh_database(backend: str, home: Path) -> AsyncIterator[tuple[Database, str, Any]]:
    """An empty index of its own (the shared API's sync must not see these schedules)."""
    schema = None
    if backend == "postgresql":
        if not postgres_up():
            pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
        url, schema = PG_URL, f"tf_sync_{uuid.uuid4().hex[:10]}"
    else:
        url = f"sqlite+aiosqlite:///{home / 'replicas.db'}"
    db = Database(url, schema=schema)
    await db.migrate()
    try:
        yield db, url, schema
    finally:
        if schema:
            async with db.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_every_firing_is_indexed_by_replicas_syncing_at_once(
    backend: str,
    settings: Settings,
    temporal_client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Small chunks (the replicas are served in this process): the firings come in several
    # visibility pages and are indexed over several transactions, as a long backlog would be.
    monkeypatch.setattr(schedule_sync, "CHUNK", 5)
    async with fresh_database(backend, tmp_path) as (db, url, schema):
        async with db.session() as session:
            _row, admin = await create_token(session, name="sync-admin", role="admin")
        shared: dict[str, Any] = {
            "database": db,
            "database_url": url,
            "database_schema": schema,
            "headers": {"Authorization": f"Bearer {admin}"},
        }
        # The replica whose worker runs the firings syncs nothing: only reads would index.
        async with served_api(
            settings, temporal_client, tmp_path / "a", schedule_sync_s=0, **shared
        ) as first:
            flow = await first.client.post("/api/v1/flows", json={"text": quick("many")})
            made = await first.client.post(
                "/api/v1/schedules",
                json={
                    "name": "every minute",
                    "flow_id": flow.json()["id"],
                    "interval": "1m",
                    "paused": True,
                },
            )
            assert made.status_code == 201, made.text
            sid = made.json()["id"]
            # A schedule row whose visibility query Temporal refuses: its error is logged
            # each round and the other schedule is still indexed.
            async with db.session() as session:
                session.add(ScheduleRow(id='bad"id', name="broken", flow_id=None))
                await session.commit()
            # 12+ firings with distinct names at once (one a minute over the last 12.5).
            handle = temporal_client.get_schedule_handle(f"testflow-schedule-{sid}")
            now = datetime.now(UTC)
            begin = now - timedelta(minutes=12, seconds=30)
            await handle.backfill(
                ScheduleBackfill(
                    start_at=begin, end_at=now, overlap=ScheduleOverlapPolicy.ALLOW_ALL
                )
            )
            first_mark = begin.replace(second=0, microsecond=0) + timedelta(minutes=1)
            expected = (now - first_mark) // timedelta(minutes=1) + 1  # 12 or 13
            query = f'TemporalScheduledById = "testflow-schedule-{sid}"'

            async def listed() -> dict[str, datetime] | None:
                found = {w.id: w.start_time async for w in temporal_client.list_workflows(query)}
                assert len(found) <= expected, sorted(found)
                return found if len(found) == expected else None

            firings = await eventually(listed, f"{expected} firings in Temporal")
            described = await handle.describe()
            assert len(described.info.recent_actions) < len(firings)
            assert await scheduled(first.client, sid) == {}

            async with (
                served_api(
                    settings, temporal_client, tmp_path / "b", schedule_sync_s=0.3, **shared
                ) as second,
                served_api(
                    settings, temporal_client, tmp_path / "c", schedule_sync_s=0.3, **shared
                ) as third,
            ):
                rows = await all_over(second.client, sid, set(firings))
                assert set(rows) == set(firings)
                # A firing starts when the schedule recorded it, as a reader would index it;
                # one no longer among its recent actions, when its workflow started.
                recorded = {
                    getattr(a.action, "workflow_id", ""): a.started_at
                    for a in described.info.recent_actions
                }
                for run_id, row in rows.items():
                    assert row["status"] == "passed" and row["trigger"] == "schedule"
                    stored = datetime.fromisoformat(row["started_at"])
                    started = recorded.get(run_id, firings[run_id])
                    assert abs(stored - started) < timedelta(milliseconds=1), run_id
                assert set(await scheduled(third.client, sid)) == set(firings)
            refused = [r.getMessage() for r in caplog.records if 'bad"id' in r.getMessage()]
            assert refused and "not indexed this round" in refused[0], caplog.text[-2000:]
