"""Flows stored or run through the API reference files of the server's flow library only:
``call:`` and ``schema:`` paths leading out of it are a 422 with the JSON path, never read."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import Api
from tests.api.sse import collect

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]

CALL_OUT = """\
name: call out
steps:
  - id: sub
    type: call
    flow: ../../x.yaml
"""

SCHEMA_OUT = """\
name: schema out
steps:
  - id: check
    type: assert
    value: {id: 1}
    assert:
      schema: /etc/passwd
"""

CALL_PASSWD = CALL_OUT.replace("../../x.yaml", "../../../../../../../../etc/passwd")

INSIDE = """\
name: inside the library
context:
  order: {id: 3}
steps:
  - id: sub
    type: call
    flow: shared/sub.yaml
  - id: check
    type: assert
    value: "{{ order }}"
    assert:
      schema: schemas/order.json
"""


@pytest.mark.parametrize(
    ("text", "path", "line"),
    [
        (CALL_OUT, "steps[0].flow", 5),
        (SCHEMA_OUT, "steps[0].assert.schema", 7),
        (CALL_PASSWD, "steps[0].flow", 5),
    ],
)
async def test_paths_out_of_the_library_are_422(api: Api, text: str, path: str, line: int) -> None:
    for url in ("/api/v1/flows", "/api/v1/runs"):
        answer = await api.client.post(url, json={"text": text})
        assert answer.status_code == 422, answer.text
        errors = answer.json()["detail"]["errors"]
        assert [(e["path"], e["line"]) for e in errors] == [(path, line)]
        assert errors[0]["message"].startswith("path escapes the flow library")
        assert "root:" not in answer.text  # nothing of /etc/passwd
    checked = (await api.client.post("/api/v1/flows/validate", json={"text": text})).json()
    assert checked["valid"] is False and checked["diagnostics"][0]["path"] == path


async def test_files_inside_the_library_are_read(api: Api) -> None:
    library = api.settings.home / "library"
    (library / "shared").mkdir(parents=True, exist_ok=True)
    (library / "schemas").mkdir(parents=True, exist_ok=True)
    (library / "shared" / "sub.yaml").write_text(
        "name: sub\nsteps:\n  - {id: hello, type: log, message: hi}\n"
    )
    schema = {"type": "object", "required": ["id"]}
    (library / "schemas" / "order.json").write_text(json.dumps(schema))
    created = await api.client.post("/api/v1/flows", json={"text": INSIDE})
    assert created.status_code == 201, created.text
    started = await api.client.post("/api/v1/runs", json={"flow_id": created.json()["id"]})
    assert started.status_code == 202, started.text
    events = await collect(api.client, f"/api/v1/runs/{started.json()['run_id']}/events")
    assert events[-1]["data"]["status"] == "passed", events[-1]
