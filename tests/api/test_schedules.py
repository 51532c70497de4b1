"""Schedules backed by Temporal Schedules: create, trigger now, pause/resume, delete."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.conftest import Api
from tests.api.flows import QUICK
from tests.api.sse import collect

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]


async def test_schedule_trigger_runs_the_flow(api: Api) -> None:
    flow_id = (await api.client.post("/api/v1/flows", json={"text": QUICK})).json()["id"]
    # Once a year: only "trigger now" starts a run during the test.
    made = await api.client.post(
        "/api/v1/schedules",
        json={
            "name": "nightly",
            "flow_id": flow_id,
            "cron": ["0 3 1 1 *"],
            "vars": {"greeting": "sched"},
        },
    )
    assert made.status_code == 201, made.text
    schedule = made.json()
    assert schedule["paused"] is False and schedule["recent_runs"] == []
    assert len(schedule["next_runs"]) >= 1

    triggered = await api.client.post(f"/api/v1/schedules/{schedule['id']}/trigger")
    assert triggered.status_code == 202
    run_id = None
    for _ in range(100):
        got = (await api.client.get(f"/api/v1/schedules/{schedule['id']}")).json()
        if got["recent_runs"]:
            run_id = got["recent_runs"][0]
            break
        await asyncio.sleep(0.1)
    assert run_id is not None, "the triggered run never showed up"
    events = await collect(api.client, f"/api/v1/runs/{run_id}/events")
    assert events[-1]["data"]["status"] == "passed"
    said = next(e for e in events if e["event"] == "step_finished")
    assert "sched from the API" in said["data"]["step"]["summary"] + str(
        said["data"]["step"]["logs"]
    )
    listed = (await api.client.get("/api/v1/runs", params={"schedule": schedule["id"]})).json()
    assert [r["run_id"] for r in listed["items"]] == [run_id]
    assert listed["items"][0]["trigger"] == "schedule"

    paused = (await api.client.post(f"/api/v1/schedules/{schedule['id']}/pause")).json()
    assert paused["paused"] is True
    resumed = (await api.client.post(f"/api/v1/schedules/{schedule['id']}/resume")).json()
    assert resumed["paused"] is False
    assert (await api.client.delete(f"/api/v1/schedules/{schedule['id']}")).status_code == 204
    assert (await api.client.get(f"/api/v1/schedules/{schedule['id']}")).status_code == 404


async def test_schedule_input_errors(api: Api) -> None:
    flow_id = (await api.client.post("/api/v1/flows", json={"text": QUICK})).json()["id"]
    none = await api.client.post("/api/v1/schedules", json={"name": "x", "flow_id": flow_id})
    assert none.status_code == 422 and "cron" in none.json()["detail"]["message"]
    bad = await api.client.post(
        "/api/v1/schedules", json={"name": "x", "flow_id": flow_id, "cron": ["not a cron"]}
    )
    assert bad.status_code == 422
    short = await api.client.post(
        "/api/v1/schedules", json={"name": "x", "flow_id": flow_id, "interval": "10ms"}
    )
    assert short.status_code == 422
    unknown = await api.client.post(
        "/api/v1/schedules", json={"name": "x", "flow_id": "nope", "cron": ["@daily"]}
    )
    assert unknown.status_code == 404
