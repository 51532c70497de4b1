"""Suite runs through the API (both databases): ``POST /runs {suite_id}`` starts one
SuiteWorkflow; its children are indexed ``queued`` at once, start as the suite's concurrency
allows, stream like any run, and stop when the suite run is cancelled.

A small partner on loopback holds every request until the test opens its gate, so the test
sees how many flows the suite lets run at the same time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.client import Client

from testflow.api.db.models import RunRow, utcnow
from testflow.api.metrics import Metrics
from testflow.api.tracker import RunTracker
from testflow.dsl.loader import parse_flow
from testflow.runtime.engine import Engine
from testflow.workflows.suite import SuiteChild, SuiteInput
from tests.api.conftest import Api
from tests.api.sse import collect
from tests.partners import CountingPartner

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]


def gated(name: str, url: str) -> str:
    return f"""\
name: {name}
steps:
  - id: call
    type: http
    request: {{url: "{url}/gate/{name}"}}
    assert: {{status: 200}}
"""


def slow(name: str, url: str) -> str:
    return f"""\
name: {name}
steps:
  - id: wait
    type: delay
    duration: 5m
teardown:
  - id: cleanup
    type: http
    request: {{url: "{url}/teardown/{name}"}}
"""


async def make_suite(api: Api, texts: list[str], concurrency: int) -> str:
    ids = []
    for text in texts:
        made = await api.client.post("/api/v1/flows", json={"text": text})
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    body = {"name": f"suite {uuid.uuid4().hex[:6]}", "flow_ids": ids, "concurrency": concurrency}
    suite = await api.client.post("/api/v1/suites", json=body)
    assert suite.status_code == 201, suite.text
    return str(suite.json()["id"])


async def children(api: Api, parent: str) -> dict[str, dict[str, Any]]:
    listed = await api.client.get("/api/v1/runs", params={"parent": parent})
    assert listed.status_code == 200, listed.text
    return {r["run_id"]: r for r in listed.json()["items"]}


async def run_row(api: Api, run_id: str) -> dict[str, Any]:
    for row in (await api.client.get("/api/v1/runs", params={"page_size": 500})).json()["items"]:
        if row["run_id"] == run_id:
            return dict(row)
    raise AssertionError(f"{run_id} is not listed")


async def until(check: Any, what: str) -> Any:
    for _ in range(600):
        got = await check()
        if got:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"never saw {what}")


async def test_a_suite_runs_as_one_workflow_within_its_concurrency(
    api: Api, partner: CountingPartner
) -> None:
    names = [f"gated {i} {uuid.uuid4().hex[:4]}" for i in range(3)]
    suite_id = await make_suite(api, [gated(n, partner.url) for n in names], concurrency=2)
    answer = await api.client.post("/api/v1/runs", json={"suite_id": suite_id})
    assert answer.status_code == 202, answer.text
    started = answer.json()
    parent = started["run_id"]
    assert parent.startswith("suite-") and started["workflow_id"] == parent
    ids = [r["run_id"] for r in started["runs"]]
    assert len(ids) == 3

    # Every child is in the index at once, under the suite run.
    assert set(await children(api, parent)) == set(ids)
    assert (await run_row(api, parent))["status"] == "running"

    # Two run (held by the partner), the third waits its turn.
    async def two_running() -> bool:
        statuses = Counter(r["status"] for r in (await children(api, parent)).values())
        return statuses == Counter({"running": 2, "queued": 1})

    await until(two_running, "2 running and 1 queued")
    assert sum(partner.paths.values()) == 2
    queued = next(r for r in (await children(api, parent)).values() if r["status"] == "queued")
    got = await api.client.get(f"/api/v1/runs/{queued['run_id']}")
    assert got.status_code == 200 and got.json()["status"] == "running"
    refused = await api.client.post(f"/api/v1/runs/{queued['run_id']}/cancel")
    assert refused.status_code == 409 and parent in refused.text

    # The queued child's stream waits for it to start, then follows it to the end.
    stream = asyncio.create_task(collect(api.client, f"/api/v1/runs/{queued['run_id']}/events"))
    await asyncio.sleep(0.5)
    partner.gate.set()
    events = await stream
    assert events[0]["event"] == "run_started" and events[-1]["event"] == "run_finished"
    assert events[-1]["data"]["status"] == "passed"

    async def parent_done() -> dict[str, Any] | None:
        row = await run_row(api, parent)
        return row if row["status"] != "running" else None

    row = await until(parent_done, "the suite run end")
    assert row["status"] == "passed"
    assert row["counts"]["passed"] == 3
    assert {r["status"] for r in (await children(api, parent)).values()} == {"passed"}
    assert sorted(partner.paths) == sorted(f"/gate/{n}".replace(" ", "%20") for n in names)
    result = (await api.client.get(f"/api/v1/runs/{parent}")).json()
    assert result["status"] == "passed" and result["steps"] == []
    parent_events = await collect(api.client, f"/api/v1/runs/{parent}/events")
    assert [e["event"] for e in parent_events] == ["run_started", "run_finished"]
    # The dashboard counts the three flow runs, not the suite run as a fourth.
    suite_name = (await api.client.get(f"/api/v1/suites/{suite_id}")).json()["name"]
    stats = await api.client.get("/api/v1/stats/dashboard", params={"flow": suite_name})
    assert stats.status_code == 200 and stats.json()["durations"] == []
    stats = await api.client.get("/api/v1/stats/dashboard", params={"flow": names[0]})
    assert [d["runs"] for d in stats.json()["durations"]] == [1]


async def test_cancelling_the_suite_run_cancels_its_children(
    api: Api, partner: CountingPartner
) -> None:
    names = [f"slow {i} {uuid.uuid4().hex[:4]}" for i in range(2)]
    suite_id = await make_suite(api, [slow(n, partner.url) for n in names], concurrency=1)
    started = (await api.client.post("/api/v1/runs", json={"suite_id": suite_id})).json()
    parent, (first, second) = started["run_id"], [r["run_id"] for r in started["runs"]]

    async def first_running() -> bool:
        return (await children(api, parent))[first]["status"] == "running"

    await until(first_running, "the first child start")
    cancel = await api.client.post(f"/api/v1/runs/{parent}/cancel")
    assert cancel.status_code == 202, cancel.text

    async def all_over() -> dict[str, dict[str, Any]] | None:
        rows = await children(api, parent)
        over = all(r["status"] not in ("running", "queued") for r in rows.values())
        return rows if over and (await run_row(api, parent))["status"] != "running" else None

    rows = await until(all_over, "the suite and its children end")
    assert (await run_row(api, parent))["status"] == "cancelled"
    assert rows[first]["status"] == "cancelled" and rows[second]["status"] == "cancelled"
    # The started child ran its teardown; the other never started.
    assert list(partner.paths) == [f"/teardown/{names[0]}".replace(" ", "%20")]
    first_result = (await api.client.get(f"/api/v1/runs/{first}")).json()
    assert [s["step_id"] for s in first_result["steps"] if s["status"] == "passed"] == ["cleanup"]
    second_result = await api.client.get(f"/api/v1/runs/{second}")
    assert second_result.status_code == 200
    assert second_result.json()["status"] == "cancelled" and second_result.json()["steps"] == []


async def test_a_restarted_server_picks_its_suite_runs_up(
    api: Api, partner: CountingPartner, temporal_client: Client
) -> None:
    """The index says a suite run is running with queued children, and no tracker follows it
    (the server restarted): the new server's tracker resumes it and its children."""
    tag = uuid.uuid4().hex[:6]
    engine = Engine(api.settings, client=temporal_client, with_worker=False)  # the API's queue
    async with engine:
        children = []
        for i in range(2):
            flow = parse_flow(gated(f"resumed {i} {tag}", partner.url), "f.yaml").flow
            prepared = engine.prepare(flow, environ={})
            children.append(SuiteChild(run_id=prepared.run_id, input=prepared))
        handle = await engine.start_suite(
            SuiteInput(name=f"resumed {tag}", children=children, concurrency=1)
        )
    now = utcnow()
    parent = RunRow(run_id=handle.id, flow_name=f"resumed {tag}", suite_id=tag, started_at=now)
    rows = [
        RunRow(
            run_id=c.run_id,
            flow_name=c.input.flow.name,
            suite_id=tag,
            parent_run_id=handle.id,
            status="queued",
            trigger="suite",
            started_at=now,
        )
        for c in children
    ]
    await api.db.add(parent, *rows)
    state = SimpleNamespace(client=temporal_client, db=api.db, metrics=Metrics(), feeds=None)
    tracker = RunTracker(state)  # type: ignore[arg-type]
    try:
        await tracker.resume()
        first, second = (c.run_id for c in children)

        async def first_running() -> bool:
            statuses = {r["run_id"]: r["status"] for r in (await children_of(api, handle.id))}
            return statuses == {first: "running", second: "queued"}

        await until(first_running, "the first child marked running by the new tracker")
        partner.gate.set()

        async def over() -> bool:
            return (await run_row(api, handle.id))["status"] == "passed"

        await until(over, "the suite run stored as passed")
        assert {r["status"] for r in await children_of(api, handle.id)} == {"passed"}
    finally:
        await tracker.close()


async def children_of(api: Api, parent: str) -> list[dict[str, Any]]:
    return list((await children(api, parent)).values())
