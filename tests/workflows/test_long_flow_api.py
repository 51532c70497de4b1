"""A long run through `testflow serve`: its event stream and its indexed result are whole.

The tracker does not page through a finished run of more than EVENTS_READ_UP_TO steps (each
page would replay the run): the live streams end with events rebuilt from the result, and
the index stores the full result (the pages the run kept in the artifact store read back).
Real app on uvicorn, real Temporal and worker, SQLite.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from testflow.api.tracker import EVENTS_READ_UP_TO
from testflow.runtime.settings import Settings
from tests.api.serving import served_api
from tests.api.sse import sse_events

pytestmark = [pytest.mark.e2e, pytest.mark.workflow]

STEPS = 1_200  # over EVENTS_READ_UP_TO, and over one page of records (1,000)


@pytest.fixture
async def api(
    settings: Settings, temporal_client: Client, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async with served_api(
        settings,
        temporal_client,
        tmp_path,
        queue="long-api",
        prefix="/api/v1",
        client_timeout=120,
        auth="auto",
    ) as served:
        yield served.client


async def _events(client: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    return [e["data"] async for e in sse_events(client, f"/runs/{run_id}/events")]


async def test_a_long_run_streams_and_indexes_every_step(api: httpx.AsyncClient) -> None:
    assert STEPS > EVENTS_READ_UP_TO
    lines = "\n".join(f"  - {{id: s{i}, type: transform, set: {{i: {i}}}}}" for i in range(STEPS))
    answer = await api.post("/runs", json={"text": f"name: long via api\nsteps:\n{lines}\n"})
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["run_id"]
    live = await asyncio.wait_for(_events(api, run_id), 300)
    assert live[-1]["type"] == "run_finished" and live[-1]["status"] == "passed"
    seqs = [e["seq"] for e in live]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    finished = Counter(e["step"]["key"] for e in live if e["type"] == "step_finished")
    assert len(finished) == STEPS and set(finished.values()) == {1}

    for _ in range(600):  # the index row is written a moment after the run's end
        run = (await api.get(f"/runs/{run_id}")).json()
        if run["status"] != "running":
            break
        await asyncio.sleep(0.1)
    assert run["status"] == "passed"
    assert [s["key"] for s in run["steps"]] == [f"s{i}" for i in range(STEPS)]
    assert "steps_stored" not in run
    stored = await _events(api, run_id)  # a finished run: from the index
    assert Counter(e["type"] for e in stored)["step_finished"] == STEPS
