"""Re-running a run from a failed step through the API, on the real dev server and PostgreSQL.

The flow inserts rows in PostgreSQL in its first two steps and checks the first row in its
third: counting the rows proves the reused steps did not run again, and the third step can only
find the row through the id the first step extracted in the earlier run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import update
from temporalio.client import Client

from testflow.api.db.models import RunRow
from testflow.dsl.models import Flow
from testflow.runtime.engine import Engine
from tests.api.conftest import Api, postgres_up
from tests.api.flows import SLOW
from tests.api.sse import collect

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]

DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="module")
async def table() -> AsyncIterator[str]:
    if not postgres_up():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    name = f"tf_rerun_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(DSN)
    try:
        await conn.execute(f"CREATE TABLE {name} (id serial PRIMARY KEY, tag text, status text)")
        yield name
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {name}")
        await conn.close()


def pg_flow(table: str) -> str:
    return f"""\
name: rerun pg
context:
  tag: "{{{{ uuid() }}}}"
  want: ready
steps:
  - id: create
    type: postgresql.insert
    dsn: {DSN}
    table: {table}
    values: {{tag: "{{{{ tag }}}}", status: new}}
    returning: [id]
    extract: {{rowId: "$[0].id"}}
  - id: note
    type: postgresql.insert
    dsn: {DSN}
    table: {table}
    values: {{tag: "{{{{ tag }}}}", status: note}}
  - id: check
    type: postgresql.query
    dsn: {DSN}
    sql: SELECT status FROM {table} WHERE id = :id
    params: {{id: "{{{{ rowId }}}}"}}
    assert: {{row_count: 1, "$[0].status": "{{{{ want }}}}"}}
  - id: done
    type: log
    message: "row {{{{ rowId }}}} is {{{{ want }}}}"
teardown:
  - id: bye
    type: log
    message: bye
"""


NESTED = """\
name: rerun nested
context: {n: 1}
setup:
  - {id: prep, type: log, message: prep}
steps:
  - {id: first, type: log, message: one}
  - id: grp
    type: group
    steps:
      - {id: inner, type: assert, value: "{{ n }}", assert: {"$": 2}}
  - {id: last, type: log, message: never}
teardown:
  - {id: bye, type: log, message: bye}
"""

DAG = """\
name: rerun dag
steps:
  - {id: a, type: log, message: a}
  - {id: b, type: assert, value: 1, assert: {"$": 2}, depends_on: [a]}
"""


async def rows(table: str, tag: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(DSN)
    try:
        found = await conn.fetch(f"SELECT id, status FROM {table} WHERE tag = $1 ORDER BY id", tag)
    finally:
        await conn.close()
    return [dict(r) for r in found]


async def finished(api: Api, run_id: str) -> dict[str, Any]:
    events = await collect(api.client, f"/api/v1/runs/{run_id}/events")
    assert events[-1]["event"] == "run_finished"
    # The index stores the result (with the final context) a moment after the run ends.
    for _ in range(600):
        source = (await api.client.get(f"/api/v1/runs/{run_id}/source")).json()
        if source["status"] != "running":
            break
        await asyncio.sleep(0.05)
    result = (await api.client.get(f"/api/v1/runs/{run_id}")).json()
    assert result["status"] == events[-1]["data"]["status"]
    return dict(result)


def steps_of(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["step_id"]: s for s in result["steps"]}


async def test_rerun_from_the_failed_step_after_fixing_the_row(api: Api, table: str) -> None:
    first_id = (await api.client.post("/api/v1/runs", json={"text": pg_flow(table)})).json()[
        "run_id"
    ]
    first = await finished(api, first_id)
    assert first["status"] == "failed"
    assert steps_of(first)["check"]["status"] == "failed"
    tag, row_id = first["context"]["tag"], first["context"]["rowId"]
    assert [r["status"] for r in await rows(table, tag)] == ["new", "note"]

    conn = await asyncpg.connect(DSN)  # fix the partner's state, not the flow
    try:
        await conn.execute(f"UPDATE {table} SET status = 'ready' WHERE id = $1", row_id)
    finally:
        await conn.close()

    again = await api.client.post(f"/api/v1/runs/{first_id}/rerun", json={"from_step": "check"})
    assert again.status_code == 202, again.text
    second_id = again.json()["run_id"]
    second = await finished(api, second_id)
    assert second["status"] == "passed", second
    # Steps 1-2 did not run again (still two rows) and step 3 found the row through the id
    # step 1 extracted in the earlier run.
    assert [r["id"] for r in await rows(table, tag)] == [row_id, row_id + 1]
    steps = steps_of(second)
    for reused in ("create", "note"):
        assert steps[reused]["status"] == "skipped"
        assert steps[reused]["skip_reason"] == f"reused from run {first_id}"
    assert steps["create"]["context_changes"] == {"rowId": row_id}
    assert steps["check"]["status"] == "passed" and steps["done"]["status"] == "passed"
    assert steps["bye"]["phase"] == "teardown" and steps["bye"]["status"] == "passed"
    assert second["context"]["rowId"] == row_id and second["context"]["tag"] == tag

    source = (await api.client.get(f"/api/v1/runs/{second_id}/source")).json()
    assert source["parent_run_id"] == first_id and source["trigger"] == "rerun"


async def test_rerun_from_a_step_with_changed_variables(api: Api, table: str) -> None:
    started = await api.client.post(
        "/api/v1/runs", json={"text": pg_flow(table), "vars": {"want": "shipped"}}
    )
    first_id = started.json()["run_id"]
    first = await finished(api, first_id)
    assert first["status"] == "failed"
    # The row says "new": asking for that instead makes step 3 pass.
    again = await api.client.post(
        f"/api/v1/runs/{first_id}/rerun", json={"from_step": "check", "vars": {"want": "new"}}
    )
    assert again.status_code == 202, again.text
    second = await finished(api, again.json()["run_id"])
    assert second["status"] == "passed", second
    assert second["context"]["want"] == "new"
    assert len(await rows(table, first["context"]["tag"])) == 2
    source = (await api.client.get(f"/api/v1/runs/{second['run_id']}/source")).json()
    assert source["variables"] == {"want": "new"}


async def refused(api: Api, run_id: str, body: dict[str, Any], status: int = 409) -> str:
    answer = await api.client.post(f"/api/v1/runs/{run_id}/rerun", json=body)
    assert answer.status_code == status, answer.text
    return str(answer.json()["detail"]["message"])


async def test_rerun_from_step_refusals(api: Api, temporal_client: Client) -> None:
    run_id = (await api.client.post("/api/v1/runs", json={"text": NESTED})).json()["run_id"]
    assert (await finished(api, run_id))["status"] == "failed"

    message = await refused(api, run_id, {"from_step": "inner"})
    assert "nested inside the group step 'grp'" in message and "re-run from 'grp'" in message
    message = await refused(api, run_id, {"from_step": "nope"})
    assert "has no step 'nope'" in message and "first, grp, last" in message
    message = await refused(api, run_id, {"from_step": "first"})
    assert "did not fail" in message and "(it passed)" in message and "(grp)" in message
    message = await refused(api, run_id, {"from_step": "last"})
    assert "did not fail" in message and "was skipped" in message
    message = await refused(api, run_id, {"from_step": "prep"})
    assert "setup step" in message
    message = await refused(api, run_id, {"from_step": "bye"})
    assert "teardown step" in message
    # The top-level group that failed is where a re-run can start.
    ok = await api.client.post(f"/api/v1/runs/{run_id}/rerun", json={"from_step": "grp"})
    assert ok.status_code == 202, ok.text
    rerun = await finished(api, ok.json()["run_id"])
    assert steps_of(rerun)["first"]["status"] == "skipped"
    assert steps_of(rerun)["inner"]["status"] == "failed"  # nothing was fixed

    # The index stores a run's result a moment after Temporal reports its end: a re-run asked
    # for in that moment reads the result from Temporal.
    async def index(**values: Any) -> None:
        async with api.db.session() as session:
            await session.execute(update(RunRow).where(RunRow.run_id == run_id).values(**values))
            await session.commit()

    stored = (await api.client.get(f"/api/v1/runs/{run_id}")).json()
    await index(result=None, status="running")
    try:
        early = await api.client.post(f"/api/v1/runs/{run_id}/rerun", json={"from_step": "grp"})
    finally:
        await index(result=stored, status=stored["status"])
    assert early.status_code == 202, early.text
    assert steps_of(await finished(api, early.json()["run_id"]))["first"]["status"] == "skipped"

    dag_id = (await api.client.post("/api/v1/runs", json={"text": DAG})).json()["run_id"]
    await finished(api, dag_id)
    assert "DAG" in await refused(api, dag_id, {"from_step": "b"})

    # Malformed bodies: 422 with the JSON path of the field.
    for body, path in (
        ({"from_step": 3}, "from_step"),
        ({"from_step": "no spaces"}, "from_step"),
        ({"from_stp": "grp"}, "from_stp"),
        ({"vars": []}, "vars"),
    ):
        answer = await api.client.post(f"/api/v1/runs/{run_id}/rerun", json=body)
        assert answer.status_code == 422, answer.text
        assert [e["path"] for e in answer.json()["detail"]["errors"]] == [path]

    slow_id = (await api.client.post("/api/v1/runs", json={"text": SLOW})).json()["run_id"]
    try:
        assert "still running" in await refused(api, slow_id, {"from_step": "wait"})
    finally:
        await api.client.post(f"/api/v1/runs/{slow_id}/cancel")
    await finished(api, slow_id)

    # A run this server did not start: Temporal knows it, the index has no context for it.
    engine = Engine(
        api.settings.model_copy(update={"task_queue": "no-worker"}),
        client=temporal_client,
        with_worker=False,
    )
    async with engine:
        handle = await engine.start(
            Flow.model_validate(
                {"name": "elsewhere", "steps": [{"id": "a", "type": "log", "message": "x"}]}
            )
        )
    try:
        message = await refused(api, handle.id, {"from_step": "a"})
        assert "ran outside this server" in message
    finally:
        await handle.terminate()
    assert (
        await api.client.post("/api/v1/runs/run-nobody-knows-1/rerun", json={"from_step": "a"})
    ).status_code == 404
