"""Schedules of suites (both databases, real Temporal dev server): each firing is one suite
run whose children are named after the firing's workflow id, indexed under the suite run and
followed to their end like a ``POST /runs {suite_id}`` run's."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client

from tests.api.conftest import Api
from tests.api.test_suite_runs import children, run_row, until

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]


def quick(name: str) -> str:
    return f"""\
name: {name}
tags: [sched-suite]
context:
  greeting: hello
steps:
  - id: say
    type: log
    message: "{{{{ greeting }}}} from {name}"
"""


async def make_suite(api: Api, count: int) -> tuple[str, list[str]]:
    names = [f"sched child {i} {uuid.uuid4().hex[:4]}" for i in range(count)]
    ids = []
    for name in names:
        made = await api.client.post("/api/v1/flows", json={"text": quick(name)})
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    body = {"name": f"sched suite {uuid.uuid4().hex[:6]}", "flow_ids": ids, "concurrency": 1}
    suite = await api.client.post("/api/v1/suites", json=body)
    assert suite.status_code == 201, suite.text
    return str(suite.json()["id"]), names


async def recent(api: Api, schedule_id: str, count: int) -> list[str]:
    async def enough() -> list[str] | None:
        got = (await api.client.get(f"/api/v1/schedules/{schedule_id}")).json()
        return list(got["recent_runs"]) if len(got["recent_runs"]) >= count else None

    found: list[str] = await until(enough, f"{count} scheduled run(s)")
    return found


async def finished(api: Api, run_id: str) -> dict[str, Any]:
    async def over() -> dict[str, Any] | None:
        row = await run_row(api, run_id)
        return row if row["status"] not in ("running", "queued") else None

    row: dict[str, Any] = await until(over, f"the end of {run_id}")
    return row


async def test_a_suite_schedule_fires_suite_runs_with_their_own_children(
    api: Api, temporal_client: Client
) -> None:
    suite_id, names = await make_suite(api, 2)
    made = await api.client.post(
        "/api/v1/schedules",
        json={"name": "suite nightly", "suite_id": suite_id, "cron": ["0 3 1 1 *"]},
    )
    assert made.status_code == 201, made.text
    schedule = made.json()
    sid = schedule["id"]
    assert schedule["suite_id"] == suite_id and schedule["flow_id"] is None
    assert schedule["recent_runs"] == []

    assert (await api.client.post(f"/api/v1/schedules/{sid}/trigger")).status_code == 202
    (first,) = await recent(api, sid, 1)
    assert (await finished(api, first))["status"] == "passed"
    # Temporal names a firing <id>-<time in seconds>: the second trigger waits for the next
    # second, or both firings would get the same workflow id.
    fired_at = datetime.fromisoformat(first.removeprefix(f"suite-sched-{sid}-"))
    wait = fired_at + timedelta(seconds=1) - datetime.now(UTC)
    await asyncio.sleep(max(wait.total_seconds(), 0))
    assert (await api.client.post(f"/api/v1/schedules/{sid}/trigger")).status_code == 202
    # Readers at the same time, once Temporal lists the firing, all get an answer (each may
    # find it new; the ones that lose the insert leave it to the one that won).
    temporal = temporal_client.get_schedule_handle(f"testflow-schedule-{sid}")

    async def fired_twice() -> bool:
        return len((await temporal.describe()).info.recent_actions) >= 2

    await until(fired_twice, "the second firing in Temporal")
    reads = await asyncio.gather(*(api.client.get(f"/api/v1/schedules/{sid}") for _ in range(4)))
    assert [r.status_code for r in reads] == [200] * 4, [r.text for r in reads]
    runs = await recent(api, sid, 2)
    assert len(set(runs)) == 2 and first in runs

    # The index has each firing's start as Temporal recorded it, not when the API read it.
    actions = (await temporal.describe()).info.recent_actions
    temporal_start = {getattr(a.action, "workflow_id", ""): a.started_at for a in actions}
    seen: set[str] = set()
    for parent in runs:
        row = await finished(api, parent)
        stored = datetime.fromisoformat(row["started_at"])
        assert abs(stored - temporal_start[parent]) < timedelta(milliseconds=1)
        assert row["status"] == "passed" and row["trigger"] == "schedule"
        assert row["suite_id"] == suite_id and row["counts"]["passed"] == 2
        kids = await children(api, parent)
        assert sorted(kids) == [f"{parent}.0", f"{parent}.1"]
        assert [kids[f"{parent}.{i}"]["flow_name"] for i in range(2)] == names
        assert {k["status"] for k in kids.values()} == {"passed"}
        result = (await api.client.get(f"/api/v1/runs/{parent}.1")).json()
        assert result["status"] == "passed" and result["flow"] == names[1]
        assert not seen & set(kids)
        seen |= set(kids)
    listed = (await api.client.get("/api/v1/runs", params={"schedule": sid})).json()
    assert sorted(r["run_id"] for r in listed["items"]) == sorted(runs)

    paused = (await api.client.post(f"/api/v1/schedules/{sid}/pause")).json()
    assert paused["paused"] is True and paused["suite_id"] == suite_id
    resumed = (await api.client.post(f"/api/v1/schedules/{sid}/resume")).json()
    assert resumed["paused"] is False
    assert (await api.client.delete(f"/api/v1/schedules/{sid}")).status_code == 204


async def test_a_schedule_targets_a_flow_or_a_suite(api: Api) -> None:
    suite_id, _ = await make_suite(api, 1)
    flow_id = (await api.client.post("/api/v1/flows", json={"text": quick("lone")})).json()["id"]
    both = await api.client.post(
        "/api/v1/schedules",
        json={"name": "x", "flow_id": flow_id, "suite_id": suite_id, "cron": ["@daily"]},
    )
    assert both.status_code == 422, both.text
    assert [e["path"] for e in both.json()["detail"]["errors"]] == ["suite_id"]
    neither = await api.client.post("/api/v1/schedules", json={"name": "x", "cron": ["@daily"]})
    assert neither.status_code == 422, neither.text
    assert [e["path"] for e in neither.json()["detail"]["errors"]] == ["flow_id"]
    unknown = await api.client.post(
        "/api/v1/schedules", json={"name": "x", "suite_id": "nope", "cron": ["@daily"]}
    )
    assert unknown.status_code == 404 and "nope" in unknown.text
    listed = (await api.client.get("/api/v1/schedules")).json()
    assert all(s["name"] != "x" for s in listed)
