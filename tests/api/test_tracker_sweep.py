"""Two API replicas on one database (both backends): a run whose replica stops following it
before it ends is finished in the index by the other replica's tracker sweep, which did not
start it. Replica A stops its tracker as a dead replica would; its worker keeps running the
flows (on Kubernetes the workers are a deployment of their own)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from testflow.api.db.models import RunRow
from testflow.api.db.session import Database
from testflow.api.security import create_token
from testflow.runtime.settings import Settings
from tests.api.conftest import PG_URL, postgres_up
from tests.api.serving import Served, served_api

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]


def delayed(name: str) -> str:
    return f"""\
name: sweep {name}
tags: [api-test, sweep]
steps:
  - id: wait
    type: delay
    duration: 3s
  - id: after
    type: log
    message: done
"""


def finished(served: Served, status: str) -> float:
    """Runs whose summary this replica stored, by status (its own metrics registry)."""
    value = served.state.metrics.registry.get_sample_value(
        "testflow_runs_finished_total", {"status": status}
    )
    return value or 0.0


class Shared:
    """A fresh database both replicas use, and an admin token in it."""

    def __init__(self, db: Database, url: str, schema: str | None, token: str) -> None:
        self.db, self.url, self.schema, self.token = db, url, schema, token

    @contextlib.asynccontextmanager
    async def replica(
        self, settings: Settings, client: Client, home: Path, sweep_s: float
    ) -> AsyncIterator[Served]:
        async with served_api(
            settings,
            client,
            home,
            database=self.db,
            headers={"Authorization": f"Bearer {self.token}"},
            database_url=self.url,
            database_schema=self.schema,
            tracker_sweep_s=sweep_s,
            schedule_sync_s=0,
        ) as served:
            yield served

    async def row(self, run_id: str) -> RunRow:
        async with self.db.session() as session:
            row = await session.get(RunRow, run_id)
        assert row is not None, run_id
        return row

    async def ended(self, run_id: str) -> RunRow:
        for _ in range(1200):  # a generous deadline (2 min), not a timing claim
            row = await self.row(run_id)
            if row.status not in ("running", "queued"):
                return row
            await asyncio.sleep(0.1)
        raise AssertionError(f"run {run_id} still open in the index")


@pytest.fixture(params=["sqlite", "postgresql"])
async def shared(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Shared]:
    schema = None
    if request.param == "postgresql":
        if not postgres_up():
            pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
        url, schema = PG_URL, f"tf_sweep_{uuid.uuid4().hex[:10]}"
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    db = Database(url, schema=schema)
    await db.migrate()
    async with db.session() as session:
        _row, token = await create_token(session, name="sweep-admin", role="admin")
    yield Shared(db, url, schema, token)
    if schema:
        from sqlalchemy import text

        async with db.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await db.dispose()


async def test_a_run_whose_replica_stopped_is_finished_by_another(
    shared: Shared, settings: Settings, temporal_client: Client, tmp_path: Path
) -> None:
    async with (
        shared.replica(settings, temporal_client, tmp_path / "b", sweep_s=0.5) as b,
        shared.replica(settings, temporal_client, tmp_path / "a", sweep_s=0) as a,
    ):
        started = await a.client.post("/api/v1/runs", json={"text": delayed("flow")})
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        await a.state.tracker.close()  # type: ignore[union-attr]  # A is gone for the index
        assert (await shared.row(run_id)).status == "running"

        row = await shared.ended(run_id)
        assert row.status == "passed"
        assert row.counts is not None and row.counts.get("passed") == 2
        assert row.result is not None
        assert [s["step_id"] for s in row.result["steps"]] == ["wait", "after"]
        assert row.events is not None  # stored as B's start-up pickup stores them
        assert finished(b, "passed") == 1

        # A replica that followed it too (A before it stopped, say) stores its summary late:
        # the first summary stays, and the late one is not counted again.
        late = {"status": "error", "finished_at": row.finished_at}
        await b.state.tracker.store(run_id, late)  # type: ignore[union-attr]
        assert (await shared.row(run_id)).status == "passed"
        assert finished(b, "error") == 0


async def test_a_suite_run_whose_replica_stopped_is_finished_by_another(
    shared: Shared,
    settings: Settings,
    temporal_client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pages of 2 open rows: the suite and its 3 children take several visibility queries.
    monkeypatch.setattr("testflow.api.tracker.SWEEP_PAGE", 2)
    async with (
        shared.replica(settings, temporal_client, tmp_path / "b", sweep_s=0.5) as b,
        shared.replica(settings, temporal_client, tmp_path / "a", sweep_s=0) as a,
    ):
        flow_ids = []
        for i in range(3):
            made = await a.client.post("/api/v1/flows", json={"text": delayed(f"suite {i}")})
            assert made.status_code == 201, made.text
            flow_ids.append(made.json()["id"])
        body: dict[str, Any] = {"name": "sweep suite", "flow_ids": flow_ids, "concurrency": 1}
        suite = await a.client.post("/api/v1/suites", json=body)
        assert suite.status_code == 201, suite.text
        started = await a.client.post("/api/v1/runs", json={"suite_id": suite.json()["id"]})
        assert started.status_code == 202, started.text
        parent = started.json()["run_id"]
        await a.state.tracker.close()  # type: ignore[union-attr]
        assert (await shared.row(parent)).status == "running"

        row = await shared.ended(parent)
        assert row.status == "passed"
        assert row.counts is not None and row.counts.get("passed") == 3
        async with shared.db.session() as session:
            from sqlalchemy import select

            kids = (
                (await session.execute(select(RunRow).where(RunRow.parent_run_id == parent)))
                .scalars()
                .all()
            )
        assert sorted(k.status for k in kids) == ["passed"] * 3
        assert all(k.result is not None for k in kids)
        assert finished(b, "passed") == 4
