"""A stored suite's ``fail_fast`` (both databases): after the first flow that did not pass, a run
of the suite starts no more flows (they end ``cancelled`` in the index without starting); with
``fail_fast`` off (the default, and after a PUT that turns it off) every flow runs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_suite_runs import children, run_row, until
from tests.partners import CountingPartner

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]


def called(name: str, url: str, status: int) -> str:
    return f"""\
name: {name}
steps:
  - id: call
    type: http
    request: {{url: "{url}/{name}"}}
    assert: {{status: {status}}}
"""


async def _finished(api: Api, parent: str) -> dict[str, dict[str, Any]]:
    async def over() -> dict[str, dict[str, Any]] | None:
        rows = await children(api, parent)
        done = all(r["status"] not in ("running", "queued") for r in rows.values())
        return rows if done and (await run_row(api, parent))["status"] != "running" else None

    rows: dict[str, dict[str, Any]] = await until(over, "the suite run and its children end")
    return rows


async def test_a_fail_fast_suite_starts_no_more_flows(
    api: Api,
    partner: CountingPartner,
) -> None:
    partner.gate.set()  # nothing held
    tag = uuid.uuid4().hex[:6]
    ids = []
    for name, status in ((f"ff-bad-{tag}", 418), (f"ff-ok-{tag}", 200)):
        made = await api.client.post(
            "/api/v1/flows", json={"text": called(name, partner.url, status)}
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    body = {"name": f"ff {tag}", "flow_ids": ids, "concurrency": 1, "fail_fast": True}
    made = await api.client.post("/api/v1/suites", json=body)
    assert made.status_code == 201, made.text
    suite = made.json()
    assert suite["fail_fast"] is True
    assert (await api.client.get(f"/api/v1/suites/{suite['id']}")).json()["fail_fast"] is True

    started = (await api.client.post("/api/v1/runs", json={"suite_id": suite["id"]})).json()
    parent, (bad, ok) = started["run_id"], [r["run_id"] for r in started["runs"]]
    rows = await _finished(api, parent)
    assert rows[bad]["status"] == "failed" and rows[ok]["status"] == "cancelled"
    assert (await run_row(api, parent))["status"] == "failed"
    assert list(partner.paths) == [f"/ff-bad-{tag}"]
    never = (await api.client.get(f"/api/v1/runs/{ok}")).json()
    assert never["status"] == "cancelled" and never["steps"] == []

    # Turned off, the same suite runs every flow.
    edit = {k: v for k, v in suite.items() if k != "id"} | {"fail_fast": False}
    updated = await api.client.put(f"/api/v1/suites/{suite['id']}", json=edit)
    assert updated.status_code == 200 and updated.json()["fail_fast"] is False
    started = (await api.client.post("/api/v1/runs", json={"suite_id": suite["id"]})).json()
    parent, (bad, ok) = started["run_id"], [r["run_id"] for r in started["runs"]]
    rows = await _finished(api, parent)
    assert rows[bad]["status"] == "failed" and rows[ok]["status"] == "passed"
    assert partner.paths == {f"/ff-bad-{tag}": 2, f"/ff-ok-{tag}": 1}


async def test_fail_fast_defaults_to_off_and_must_be_a_boolean(api: Api) -> None:
    made = await api.client.post("/api/v1/flows", json={"text": called("ff-x", "http://x", 200)})
    assert made.status_code == 201, made.text
    body = {"name": "ff default", "flow_ids": [made.json()["id"]]}
    suite = await api.client.post("/api/v1/suites", json=body)
    assert suite.status_code == 201 and suite.json()["fail_fast"] is False
    refused = await api.client.post("/api/v1/suites", json=body | {"fail_fast": "sometimes"})
    assert refused.status_code == 422, refused.text
    assert "fail_fast" in refused.text
