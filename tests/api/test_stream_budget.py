"""Many live streams share one query budget: the pollers of all the runs being watched ask
Temporal at most TESTFLOW_STREAM_QUERIES_PER_SECOND times a second together, and every stream
ends with all its events (a run that ends before its poll comes is streamed from what the
tracker read). Real app, Temporal and worker, SQLite."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from testflow.api import runstate
from testflow.runtime.settings import Settings
from tests.api.serving import served_api
from tests.api.sse import sse_events

pytestmark = [pytest.mark.e2e, pytest.mark.workflow]

RUNS = 60
BUDGET = 5.0
"""Queries a second (TESTFLOW_STREAM_QUERIES_PER_SECOND): well below what 60 streams polling on
their own send (~280 queries in the ~15 s these runs take here: each every 0.2-1 s), so the
test tells the two apart."""
PAUSED = """\
name: paused
steps:
  - {id: a, type: log, message: a}
  - {id: pause, type: delay, duration: 3s}
  - {id: b, type: log, message: b}
"""


@pytest.fixture(scope="module")
async def client(
    settings: Settings, temporal_client: Client, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    home: Path = tmp_path_factory.mktemp("stream-budget")
    async with served_api(
        settings,
        temporal_client,
        home,
        queue="budget",
        client_timeout=120,
        auth="off",
        stream_queries_per_second=BUDGET,
    ) as served:
        yield served.client


async def queries_sent(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    found = re.search(r"^testflow_progress_queries_total ([\d.e+]+)$", text, re.M)
    assert found, "the metric is exported"
    return float(found.group(1))


async def stream(client: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    return [e["data"] async for e in sse_events(client, f"/api/v1/runs/{run_id}/events")]


async def test_many_streams_share_the_query_budget(client: httpx.AsyncClient) -> None:
    budget = BUDGET
    before = await queries_sent(client)
    began = time.monotonic()
    answers = await asyncio.gather(
        *(client.post("/api/v1/runs", json={"text": PAUSED}) for _ in range(RUNS))
    )
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
    got = await asyncio.gather(*(stream(client, a.json()["run_id"]) for a in answers))
    elapsed = time.monotonic() - began
    sent = await queries_sent(client) - before
    for events in got:
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "passed"
        assert [e["step"]["step_id"] for e in events if e["type"] == "step_finished"] == [
            "a",
            "pause",
            "b",
        ]
    assert sent <= budget * elapsed + runstate.QUERIES_IN_FLIGHT, (sent, elapsed)
