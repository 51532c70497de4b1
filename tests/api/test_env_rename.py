"""Renaming an environment through ``PUT /environments/{name}`` (both databases): the sealed
secrets move unopened and still work, suites follow the new name, runs keep the name they
recorded, a taken name is 409 and a refused update renames nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from testflow.api.db.models import EnvironmentRow
from tests.api.conftest import Api
from tests.api.flows import QUICK
from tests.api.sse import collect

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]

USES_SECRET = """\
name: env rename secret
context:
  token: "{{ secret('API_KEY') }}"
steps:
  - id: check
    type: transform
    set: {seen: "{{ base }}"}
    assert:
      that: ["{{ token == expected }}"]
"""


async def _sealed(api: Api, name: str) -> dict[str, Any] | None:
    async with api.db.session() as session:
        row = (
            await session.execute(select(EnvironmentRow).where(EnvironmentRow.name == name))
        ).scalar_one_or_none()
    return None if row is None else dict(row.secrets)


async def _finished(api: Api, run_id: str) -> dict[str, Any]:
    events = await collect(api.client, f"/api/v1/runs/{run_id}/events")
    assert events[-1]["data"]["type"] == "run_finished", events[-1]
    return dict((await api.client.get(f"/api/v1/runs/{run_id}")).json())


async def test_rename_moves_sealed_secrets_and_suites_but_not_runs(api: Api) -> None:
    old, new = f"old{uuid.uuid4().hex[:6]}", f"new-{uuid.uuid4().hex[:6]}"
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    body = {
        "name": old,
        "description": "before",
        "variables": {"base": "http://b"},
        "secrets": {"API_KEY": secret},
        "connections": {"db": {"dsn": "postgresql://db/app"}},
    }
    assert (await api.client.post("/api/v1/environments", json=body)).status_code == 201
    sealed = await _sealed(api, old)
    assert sealed is not None and secret not in json.dumps(sealed)

    flow = (await api.client.post("/api/v1/flows", json={"text": QUICK})).json()
    suite = await api.client.post(
        "/api/v1/suites", json={"name": "follows", "flow_ids": [flow["id"]], "environment": old}
    )
    assert suite.status_code == 201, suite.text
    earlier = (
        await api.client.post("/api/v1/runs", json={"flow_id": flow["id"], "environment": old})
    ).json()
    assert (await _finished(api, earlier["run_id"]))["status"] == "passed"

    renamed = await api.client.put(
        f"/api/v1/environments/{old}",
        json={**body, "name": new, "description": "after", "secrets": {"API_KEY": None}},
    )
    assert renamed.status_code == 200, renamed.text
    got = renamed.json()
    assert (got["name"], got["description"], got["secrets"]) == (new, "after", {"API_KEY": "***"})
    assert secret not in renamed.text
    assert got["connections"] == {"db": {"dsn": "postgresql://db/app", "options": {}}}
    assert (await api.client.get(f"/api/v1/environments/{old}")).status_code == 404
    assert (await api.client.get(f"/api/v1/environments/{new}")).json()["variables"] == {
        "base": "http://b"
    }
    # The ciphertext moved as it was (no plaintext in between), and it still opens.
    assert await _sealed(api, new) == sealed
    assert await _sealed(api, old) is None
    run = await api.client.post(
        "/api/v1/runs",
        json={"text": USES_SECRET, "environment": new, "vars": {"expected": secret}},
    )
    assert run.status_code == 202, run.text
    result = await _finished(api, run.json()["run_id"])
    assert result["status"] == "passed", json.dumps(result["steps"])[:1500]
    assert secret not in json.dumps(result)

    # The suite follows the new name; the earlier run keeps the name it ran with.
    assert (await api.client.get(f"/api/v1/suites/{suite.json()['id']}")).json()[
        "environment"
    ] == new
    listed = (await api.client.get("/api/v1/runs", params={"environment": old})).json()["items"]
    assert [r["run_id"] for r in listed] == [earlier["run_id"]]
    source = (await api.client.get(f"/api/v1/runs/{earlier['run_id']}/source")).json()
    assert source["environment"] == old
    # So re-running it names an environment that is gone: refused, nothing started.
    rerun = await api.client.post(f"/api/v1/runs/{earlier['run_id']}/rerun", json={})
    assert rerun.status_code == 422 and f"{old!r} does not exist" in rerun.text, rerun.text
    assert [
        r["run_id"]
        for r in (await api.client.get("/api/v1/runs", params={"environment": new})).json()["items"]
    ] == [run.json()["run_id"]]


async def test_rename_to_a_taken_name_is_409_and_changes_nothing(api: Api) -> None:
    a, b = f"a{uuid.uuid4().hex[:6]}", f"b{uuid.uuid4().hex[:6]}"
    for name, value in ((a, "1"), (b, "2")):
        made = await api.client.post(
            "/api/v1/environments",
            json={"name": name, "variables": {"v": value}, "secrets": {"S": f"secret-{value}"}},
        )
        assert made.status_code == 201, made.text
    sealed_a, sealed_b = await _sealed(api, a), await _sealed(api, b)

    taken = await api.client.put(
        f"/api/v1/environments/{a}", json={"name": b, "variables": {"v": "changed"}}
    )
    assert taken.status_code == 409, taken.text
    detail = taken.json()["detail"]
    assert b in detail["message"] and detail["errors"][0]["path"] == "name"
    assert (await api.client.get(f"/api/v1/environments/{a}")).json()["variables"] == {"v": "1"}
    assert (await api.client.get(f"/api/v1/environments/{b}")).json()["variables"] == {"v": "2"}
    assert (await _sealed(api, a), await _sealed(api, b)) == (sealed_a, sealed_b)

    # A name the schema refuses: 422 at "name".
    bad = await api.client.put(f"/api/v1/environments/{a}", json={"name": "has space"})
    assert bad.status_code == 422 and bad.json()["detail"]["errors"][0]["path"] == "name"

    # A rename refused later in the update (an invalid connection) renames nothing.
    c = f"c{uuid.uuid4().hex[:6]}"
    refused = await api.client.put(
        f"/api/v1/environments/{a}",
        json={"name": c, "secrets": {"S": None}, "connections": {"db": {"dsn": 5}}},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"]["errors"][0]["path"].startswith("connections.db")
    assert (await api.client.get(f"/api/v1/environments/{c}")).status_code == 404
    assert (await api.client.get(f"/api/v1/environments/{a}")).status_code == 200

    # Renaming an environment that is not there is 404; the same name is a plain update.
    gone = await api.client.put("/api/v1/environments/nope-x", json={"name": "nope-y"})
    assert gone.status_code == 404
    same = await api.client.put(
        f"/api/v1/environments/{a}", json={"name": a, "secrets": {"S": "***"}}
    )
    assert same.status_code == 200 and same.json()["secrets"] == {"S": "***"}
    assert await _sealed(api, a) == sealed_a


async def test_only_an_admin_renames(api: Api) -> None:
    name = f"r{uuid.uuid4().hex[:6]}"
    assert (await api.client.post("/api/v1/environments", json={"name": name})).status_code == 201
    made = await api.client.post("/api/v1/tokens", json={"name": "renamer", "role": "runner"})
    async with api.as_token(made.json()["token"]) as runner:
        denied = await runner.put(f"/api/v1/environments/{name}", json={"name": name + "-x"})
    assert denied.status_code == 403
    assert (await api.client.get(f"/api/v1/environments/{name}")).status_code == 200
