"""Editing a suite through ``PUT /suites/{id}`` (both databases): rename, description, tags,
environment, flows added, removed and reordered; problems answered as 422 with the JSON path
of each (what the web UI shows beside the field) and nothing stored when refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.flows import QUICK

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]


async def _flow(api: Api, name: str) -> str:
    made = await api.client.post("/api/v1/flows", json={"text": QUICK.replace("api quick", name)})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def _paths(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    return [e["path"] for e in answer.json()["detail"]["errors"]]


async def test_edit_a_suite_in_place(api: Api) -> None:
    a, b, c = [await _flow(api, f"suite flow {x} {uuid.uuid4().hex[:4]}") for x in "abc"]
    env = f"suite-env-{uuid.uuid4().hex[:6]}"
    assert (await api.client.post("/api/v1/environments", json={"name": env})).status_code == 201
    made = await api.client.post(
        "/api/v1/suites", json={"name": "nightly", "description": "first", "flow_ids": [a, b]}
    )
    assert made.status_code == 201, made.text
    suite = made.json()
    assert suite["description"] == "first"

    edit = {
        "name": "nightly orders",
        "description": "orders, then invoices",
        "flow_ids": [c, a],  # b removed, c added first: the order is the suite's order
        "tags": ["orders", "nightly"],
        "environment": env,
        "concurrency": 2,
        "fail_fast": True,
    }
    updated = await api.client.put(f"/api/v1/suites/{suite['id']}", json=edit)
    assert updated.status_code == 200, updated.text
    got = (await api.client.get(f"/api/v1/suites/{suite['id']}")).json()
    assert got == {"id": suite["id"], **edit}
    listed = [s for s in (await api.client.get("/api/v1/suites")).json() if s["id"] == suite["id"]]
    assert listed == [got]

    # Leaving the description out clears it (PUT replaces the suite).
    cleared = await api.client.put(
        f"/api/v1/suites/{suite['id']}", json={"name": "nightly orders", "flow_ids": [a]}
    )
    assert cleared.status_code == 200 and cleared.json()["description"] is None
    assert cleared.json()["tags"] == [] and cleared.json()["environment"] is None

    # The edited suite runs its flows in their new order.
    started = await api.client.put(f"/api/v1/suites/{suite['id']}", json=edit)
    assert started.status_code == 200
    run = await api.client.post("/api/v1/runs", json={"suite_id": suite["id"]})
    assert run.status_code == 202, run.text
    assert len(run.json()["runs"]) == 2


async def test_refused_edits_name_the_field_and_store_nothing(api: Api) -> None:
    a = await _flow(api, f"refused {uuid.uuid4().hex[:4]}")
    suite = (
        await api.client.post("/api/v1/suites", json={"name": "keep me", "flow_ids": [a]})
    ).json()
    url = f"/api/v1/suites/{suite['id']}"

    assert await _paths(await api.client.put(url, json={"name": "", "flow_ids": [a]})) == ["name"]
    assert await _paths(await api.client.put(url, json={"name": "x", "flow_ids": []})) == [
        "flow_ids"
    ]
    assert await _paths(
        await api.client.put(url, json={"name": "x", "flow_ids": [a], "concurrency": 0})
    ) == ["concurrency"]
    assert await _paths(
        await api.client.put(url, json={"name": "x", "flow_ids": [a], "tags": ["ok", 5]})
    ) == ["tags[1]"]
    assert await _paths(
        await api.client.put(url, json={"name": "x", "flow_ids": [a], "colour": "red"})
    ) == ["colour"]
    # Flows and environments that do not exist (say, deleted while the suite was edited).
    unknown = await api.client.put(
        url, json={"name": "x", "flow_ids": [a, "nope1", a, "nope2"], "environment": "nope-env"}
    )
    assert await _paths(unknown) == ["flow_ids[1]", "flow_ids[3]", "environment"]
    assert "'nope1' does not exist" in unknown.json()["detail"]["errors"][0]["message"]

    assert (await api.client.get(url)).json() == suite
    assert (
        await api.client.put("/api/v1/suites/nope", json={"name": "x", "flow_ids": [a]})
    ).status_code == 404


async def test_a_viewer_cannot_edit(api: Api) -> None:
    a = await _flow(api, f"viewer {uuid.uuid4().hex[:4]}")
    suite = (await api.client.post("/api/v1/suites", json={"name": "v", "flow_ids": [a]})).json()
    made = await api.client.post("/api/v1/tokens", json={"name": "suite-viewer", "role": "viewer"})
    async with api.as_token(made.json()["token"]) as viewer:
        denied = await viewer.put(
            f"/api/v1/suites/{suite['id']}", json={"name": "w", "flow_ids": [a]}
        )
    assert denied.status_code == 403
    assert (await api.client.get(f"/api/v1/suites/{suite['id']}")).json()["name"] == "v"
