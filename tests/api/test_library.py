"""Flow library, environments, tokens and roles through the API (both databases)."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from testflow.api.db.models import EnvironmentRow
from tests.api.conftest import Api
from tests.api.flows import INVALID, QUICK
from tests.api.sse import collect

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]

COMMENTED = "# a comment the UI must keep\r\nname:   spaced   \r\nsteps:\r\n  - {id: a, type: log, message: x}   # trailing\r\n"


async def test_validate_and_create_report_line_and_column(api: Api) -> None:
    answer = (await api.client.post("/api/v1/flows/validate", json={"text": INVALID})).json()
    assert answer["valid"] is False
    problem = answer["diagnostics"][0]
    assert (problem["path"], problem["line"], problem["col"]) == ("steps[0].mesage", 5, 5)
    assert problem["hint"] == "did you mean 'message'?"

    refused = await api.client.post("/api/v1/flows", json={"text": INVALID})
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert "steps[0].mesage" in detail["message"]
    assert detail["errors"][0]["line"] == 5 and detail["errors"][0]["col"] == 5

    inline = await api.client.post("/api/v1/runs", json={"text": INVALID})
    assert inline.status_code == 422
    assert inline.json()["detail"]["errors"][0]["path"] == "steps[0].mesage"

    shape = await api.client.post("/api/v1/flows", json={"txt": QUICK})
    assert shape.status_code == 422
    paths = {e["path"] for e in shape.json()["detail"]["errors"]}
    assert {"text", "txt"} <= paths


async def test_text_is_kept_byte_for_byte_with_versions(api: Api) -> None:
    created = (await api.client.post("/api/v1/flows", json={"text": COMMENTED})).json()
    assert created["version"] == 1 and created["name"] == "spaced"
    got = (await api.client.get(f"/api/v1/flows/{created['id']}")).json()
    assert got["text"] == COMMENTED
    changed = COMMENTED.replace("x}", "y}")
    updated = await api.client.put(
        f"/api/v1/flows/{created['id']}", json={"text": changed, "layout": {"a": [1, 2]}}
    )
    assert updated.status_code == 200 and updated.json()["version"] == 2
    versions = (await api.client.get(f"/api/v1/flows/{created['id']}/versions")).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["author"] == "test-admin"
    first = (await api.client.get(f"/api/v1/flows/{created['id']}/versions/1")).json()
    assert first["text"] == COMMENTED
    assert (await api.client.get(f"/api/v1/flows/{created['id']}/versions/9")).status_code == 404
    assert (await api.client.delete(f"/api/v1/flows/{created['id']}")).status_code == 204
    assert (await api.client.get(f"/api/v1/flows/{created['id']}")).status_code == 404


async def test_pagination_walks_every_flow_once(api: Api) -> None:
    folder = f"page-{uuid.uuid4().hex[:6]}"
    ids = set()
    for i in range(5):
        text = QUICK.replace("name: api quick", f"name: paged {i}")
        ids.add(
            (await api.client.post("/api/v1/flows", json={"text": text, "folder": folder})).json()[
                "id"
            ]
        )
    seen: list[str] = []
    for page in (1, 2, 3):
        body = (
            await api.client.get(
                "/api/v1/flows", params={"folder": folder, "page": page, "page_size": 2}
            )
        ).json()
        assert body["total"] == 5 and body["page"] == page and body["page_size"] == 2
        seen += [f["id"] for f in body["items"]]
    assert len(seen) == 5 and set(seen) == ids
    empty = (
        await api.client.get("/api/v1/flows", params={"folder": folder, "page": 4, "page_size": 2})
    ).json()
    assert empty["items"] == []
    named = (
        await api.client.get("/api/v1/flows", params={"folder": folder, "q": "PAGED 3"})
    ).json()
    assert [f["name"] for f in named["items"]] == ["paged 3"]
    assert (await api.client.get("/api/v1/flows", params={"page": 0})).status_code == 422


SECRET_FLOW = """\
name: uses a secret
context:
  token: "{{ secret('API_KEY') }}"
steps:
  - id: show
    type: log
    message: "token is {{ token }} and base is {{ base }}"
"""


async def test_environment_secrets_are_sealed_write_only_and_masked(api: Api) -> None:
    name = f"env{uuid.uuid4().hex[:6]}"
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    body = {"name": name, "variables": {"base": "http://b"}, "secrets": {"API_KEY": secret}}
    created = await api.client.post("/api/v1/environments", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["secrets"] == {"API_KEY": "***"}
    assert secret not in created.text
    async with api.db.session() as session:
        stored = (
            await session.execute(select(EnvironmentRow).where(EnvironmentRow.name == name))
        ).scalar_one()
    assert secret not in json.dumps(stored.secrets)
    kept = await api.client.put(
        f"/api/v1/environments/{name}", json={**body, "secrets": {"API_KEY": "***"}}
    )
    assert kept.status_code == 200 and kept.json()["secrets"] == {"API_KEY": "***"}

    run = (
        await api.client.post("/api/v1/runs", json={"text": SECRET_FLOW, "environment": name})
    ).json()
    events = await collect(api.client, f"/api/v1/runs/{run['run_id']}/events")
    assert events[-1]["data"]["status"] == "passed", events[-1]
    result = await api.client.get(f"/api/v1/runs/{run['run_id']}")
    assert "http://b" in result.text  # the environment's variable reached the run
    assert secret not in result.text
    assert all(secret not in json.dumps(e) for e in events)

    missing = await api.client.post(
        "/api/v1/runs", json={"text": SECRET_FLOW, "vars": {"base": "x"}}
    )
    assert missing.status_code == 422 and "API_KEY" in missing.json()["detail"]["message"]
    assert (
        await api.client.post("/api/v1/runs", json={"text": QUICK, "environment": "nope"})
    ).status_code == 422


async def test_roles_are_enforced(api: Api) -> None:
    tokens = {}
    for role in ("viewer", "runner"):
        made = await api.client.post("/api/v1/tokens", json={"name": f"t-{role}", "role": role})
        assert made.status_code == 201
        tokens[role] = made.json()["token"]
        assert made.json()["token"] not in (await api.client.get("/api/v1/tokens")).text
    async with (
        api.as_token(tokens["viewer"]) as viewer,
        api.as_token(tokens["runner"]) as runner,
        api.as_token(None) as nobody,
        api.as_token("tf_wrong") as wrong,
    ):
        assert (await viewer.get("/api/v1/flows")).status_code == 200
        assert (await viewer.get("/api/v1/step-kinds")).status_code == 200
        denied = await viewer.post("/api/v1/runs", json={"text": QUICK})
        assert denied.status_code == 403 and "runner" in denied.json()["detail"]["message"]
        assert (await viewer.post("/api/v1/flows", json={"text": QUICK})).status_code == 403
        assert (await runner.post("/api/v1/runs", json={"text": QUICK})).status_code == 202
        assert (await runner.post("/api/v1/environments", json={"name": "x"})).status_code == 403
        assert (
            await runner.post("/api/v1/tokens", json={"name": "x", "role": "admin"})
        ).status_code == 403
        assert (await runner.post("/api/v1/plugins/discover")).status_code == 403
        assert (await nobody.get("/api/v1/flows")).status_code == 401
        assert (await wrong.get("/api/v1/flows")).status_code == 401
        assert (await nobody.get("/healthz")).status_code == 200


async def test_step_kinds_schema_and_openapi(api: Api) -> None:
    kinds = (await api.client.get("/api/v1/step-kinds")).json()
    names = {k["name"] for k in kinds}
    assert {"http", "log", "delay"} <= names
    http = next(k for k in kinds if k["name"] == "http")
    assert http["schema"]["type"] == "object" and "result_fields" in http
    schema = (await api.client.get("/api/v1/schema/flow")).json()
    assert "properties" in schema or "$defs" in schema
    spec = (await api.client.get("/openapi.json")).json()
    ops = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ops) == len(set(ops))
    assert {
        "listFlows",
        "getRun",
        "startRun",
        "streamRunEvents",
        "createSchedule",
        "listStepKinds",
    } <= set(ops)
    metrics = await api.client.get("/metrics")
    assert "testflow_api_request_seconds" in metrics.text
    ready = await api.client.get("/readyz")
    assert ready.json() == {"ready": True, "checks": {"database": "ok", "temporal": "ok"}}
