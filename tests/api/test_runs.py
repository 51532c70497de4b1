"""Runs through the API on a real Temporal dev server: start, stream, list, cancel, re-run."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.api.flows import QUICK, SLOW
from tests.api.sse import collect, sse_events

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]


async def test_stored_flow_run_streams_to_completion_and_is_listed(api: Api) -> None:
    created = await api.client.post("/api/v1/flows", json={"text": QUICK, "folder": "runs"})
    assert created.status_code == 201, created.text
    flow_id = created.json()["id"]
    started = await api.client.post("/api/v1/runs", json={"flow_id": flow_id})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    assert started.json()["workflow_id"] == run_id

    events = await collect(api.client, f"/api/v1/runs/{run_id}/events")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert [int(e["id"]) for e in events] == [e["data"]["seq"] for e in events]
    finished = [e["data"]["step"]["step_id"] for e in events if e["event"] == "step_finished"]
    assert finished == ["say", "shape"]
    assert events[-1]["data"]["status"] == "passed"

    result = (await api.client.get(f"/api/v1/runs/{run_id}")).json()
    assert result["status"] == "passed"
    assert [s["status"] for s in result["steps"]] == ["passed", "passed"]

    # Listed by tag once the index has the summary (the tracker stores it when the run ends).
    listed = (await api.client.get("/api/v1/runs", params={"tag": "quick", "flow": flow_id})).json()
    assert run_id in [r["run_id"] for r in listed["items"]]
    assert (await api.client.get("/api/v1/runs", params={"tag": "no-such-tag"})).json()[
        "total"
    ] == 0
    flows = (await api.client.get("/api/v1/flows", params={"folder": "runs"})).json()
    assert flows["items"][0]["last_run"]["run_id"] == run_id


async def test_events_resume_after_last_event_id(api: Api) -> None:
    started = await api.client.post("/api/v1/runs", json={"text": QUICK})
    run_id = started.json()["run_id"]
    full = await collect(api.client, f"/api/v1/runs/{run_id}/events")
    resumed = await collect(
        api.client, f"/api/v1/runs/{run_id}/events", headers={"Last-Event-ID": full[1]["id"]}
    )
    assert [e["id"] for e in resumed] == [e["id"] for e in full[2:]]


async def test_cancel_a_running_run_runs_its_teardown(api: Api) -> None:
    started = await api.client.post("/api/v1/runs", json={"text": SLOW})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    seen: list[dict] = []
    async for event in sse_events(api.client, f"/api/v1/runs/{run_id}/events"):
        seen.append(event)
        if event["event"] == "step_started" and event["data"]["step"]["step_id"] == "wait":
            cancel = await api.client.post(f"/api/v1/runs/{run_id}/cancel")
            assert cancel.status_code == 202, cancel.text
    assert seen[-1]["event"] == "run_finished"
    assert seen[-1]["data"]["status"] == "cancelled"
    result = (await api.client.get(f"/api/v1/runs/{run_id}")).json()
    steps = {s["step_id"]: s for s in result["steps"]}
    assert steps["cleanup"]["status"] == "passed"
    assert steps["cleanup"]["phase"] == "teardown"
    assert "after" not in steps or steps["after"]["status"] in ("skipped", "cancelled")


async def test_rerun_starts_the_same_flow_again(api: Api) -> None:
    first = (
        await api.client.post("/api/v1/runs", json={"text": QUICK, "vars": {"greeting": "hi"}})
    ).json()
    await collect(api.client, f"/api/v1/runs/{first['run_id']}/events")
    again = await api.client.post(f"/api/v1/runs/{first['run_id']}/rerun", json={})
    assert again.status_code == 202, again.text
    second = again.json()["run_id"]
    assert second != first["run_id"]
    events = await collect(api.client, f"/api/v1/runs/{second}/events")
    assert events[-1]["data"]["status"] == "passed"
    say = next(e for e in events if e["event"] == "step_finished")
    assert say["data"]["step"]["step_id"] == "say"
    from_step = await api.client.post(f"/api/v1/runs/{second}/rerun", json={"from_step": "shape"})
    assert from_step.status_code == 409  # it passed: tests/api/test_rerun.py covers the rest
    assert "did not fail" in from_step.json()["detail"]["message"]


async def test_report_download(api: Api) -> None:
    run_id = (await api.client.post("/api/v1/runs", json={"text": QUICK})).json()["run_id"]
    await collect(api.client, f"/api/v1/runs/{run_id}/events")
    junit = await api.client.get(f"/api/v1/runs/{run_id}/report/junit")
    assert junit.status_code == 200
    assert b"<testsuite" in junit.content and b"api quick" in junit.content
    html = await api.client.get(f"/api/v1/runs/{run_id}/report/html")
    assert html.status_code == 200 and b"<html" in html.content.lower()
    assert (await api.client.get(f"/api/v1/runs/{run_id}/report/exe")).status_code == 404


async def test_unknown_run_is_404(api: Api) -> None:
    answer = await api.client.get("/api/v1/runs/run-does-not-exist-123")
    assert answer.status_code == 404
    assert (
        "does not exist" in answer.json()["detail"]["message"]
        or "not found" in answer.json()["detail"]["message"]
    )
