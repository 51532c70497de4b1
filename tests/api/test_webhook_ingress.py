"""Webhook ingress on the API server: a run's `webhook.wait` fed through POST /hooks/{token}/{name}."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.conftest import Api
from tests.api.sse import collect

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]

FLOW = """
name: api webhook
steps:
  - id: expose
    type: transform
    set: {path: "{{ webhooks.invoice.path }}", url: "{{ webhooks.invoice.url }}"}
  - id: invoice
    type: webhook.wait
    name: invoice
    within: 30s
    extract: {amount: "$.amount"}
    assert: {count: 1}
"""


async def test_run_waits_for_a_webhook_posted_to_the_server(api: Api) -> None:
    started = await api.client.post("/api/v1/runs", json={"text": FLOW})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    path = None
    for _ in range(100):  # the first step exposes the run's webhook path in its context change
        result = (await api.client.get(f"/api/v1/runs/{run_id}")).json()
        step = next((s for s in result.get("steps", []) if s["step_id"] == "expose"), None)
        if step is not None:
            path = step["context_changes"]["path"]
            break
        await asyncio.sleep(0.1)
    assert path and path.startswith(f"/hooks/{run_id}~"), result
    wrong = await api.client.post(path.replace("~", "~x"), json={"amount": 1})
    assert wrong.status_code == 404  # an unknown token signals nothing
    delivered = await api.client.post(path, json={"amount": 42})
    assert delivered.status_code == 200, delivered.text
    events = await collect(api.client, f"/api/v1/runs/{run_id}/events")
    assert events[-1]["data"]["status"] == "passed"
    for _ in range(50):  # the run index is written by a tracker just after the stream ends
        final = (await api.client.get(f"/api/v1/runs/{run_id}")).json()
        if final["status"] == "passed" and "amount" in final.get("context", {}):
            break
        await asyncio.sleep(0.1)
    invoice = next(s for s in final["steps"] if s["step_id"] == "invoice")
    assert invoice["extracted"] == {"amount": 42}
    assert final["context"]["amount"] == 42
