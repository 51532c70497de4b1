"""Partner mocks: matching, templates, sequences, scenarios, journal, files, WireMock, runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from testflow.dsl.diagnostics import FlowValidationError
from testflow.dsl.kinds.mock import MockFile
from testflow.mocks.files import load_mock_file
from testflow.mocks.server import Mock, single_mock_app
from testflow.runtime.settings import Settings
from tests.durable.procs import free_port, wait_port
from tests.workflows.helpers import run_flow

ROUTES = {
    "routes": [
        {
            "id": "create",
            "request": {"method": "POST", "path": "/orders", "body": {"$.amount": {"gt": 0}}},
            "response": {
                "status": 201,
                "headers": {"Location": "/orders/${ request.body.ref }"},
                "body": {
                    "id": "${ request.body.ref }",
                    "amount": "${request.body.amount}",
                    "n": "${ call }",
                },
            },
        },
        {
            "id": "refuse",
            "request": {"method": "POST", "path": "/orders"},
            "response": {"status": 422, "body": {"error": "amount"}},
        },
        {
            "id": "flaky",
            "request": {"path": "/status/{id}"},
            "responses": [503, 503, {"status": 200, "body": {"id": "${ request.params.id }"}}],
        },
        {
            "id": "pay",
            "request": {"method": "POST", "path": "/pay"},
            "scenario": "payment",
            "next_state": "paid",
            "response": {"body": "ok"},
        },
        {
            "id": "paid",
            "request": {"method": "GET", "path": "/pay"},
            "scenario": "payment",
            "state": "paid",
            "response": {"body": {"paid": True}},
        },
        {
            "id": "unpaid",
            "request": {"method": "GET", "path": "/pay"},
            "scenario": "payment",
            "state": "Started",
            "response": {"body": {"paid": False}},
        },
        {
            "id": "slow",
            "request": {"path": "/slow", "query": {"v": "1"}, "headers": {"X-Key": "k"}},
            "response": {"delay": "200ms", "body": "late"},
        },
    ]
}


async def test_matching_templates_sequences_scenarios_journal() -> None:
    mock = Mock("acme", MockFile.model_validate(ROUTES).routes)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=single_mock_app(mock)), base_url="http://m"
    ) as http:
        created = await http.post("/orders", json={"ref": "A1", "amount": 10})
        assert created.status_code == 201 and created.json() == {"id": "A1", "amount": 10, "n": 1}
        assert created.headers["location"] == "/orders/A1"
        assert (await http.post("/orders", json={"ref": "A2", "amount": 0})).status_code == 422
        assert [(await http.get("/status/7")).status_code for _ in range(4)] == [503, 503, 200, 200]
        assert (await http.get("/status/7")).json() == {"id": "7"}
        assert (await http.get("/pay")).json() == {"paid": False}
        assert (await http.post("/pay")).text == "ok"
        assert (await http.get("/pay")).json() == {"paid": True}
        assert (await http.get("/slow", params={"v": "1"})).status_code == 404  # header missing
        assert (await http.get("/slow", params={"v": "1"}, headers={"X-Key": "k"})).text == "late"
        unmatched = await http.delete("/nothing")
        assert unmatched.status_code == 404 and unmatched.json()["error"] == "no mock route matches"
        journal = (await http.get("/__admin/requests")).json()["requests"]
        assert [c["route"] for c in journal[:2]] == ["create", "refuse"] and journal[-1][
            "route"
        ] is None
        assert journal[0]["body"] == {"ref": "A1", "amount": 10}
        await http.post("/__admin/reset")
        file_style = Mock(
            "f",
            MockFile.model_validate(
                {"routes": [{"response": {"body": "{{ request.path }}"}}]}
            ).routes,
        )
        assert (await http.get("/__admin/requests")).json()["requests"] == []
        assert (await http.get("/pay")).json() == {"paid": False}  # scenario back to Started
    plain = httpx.ASGITransport(app=single_mock_app(file_style))
    async with httpx.AsyncClient(transport=plain, base_url="http://m") as http:
        assert (await http.get("/any/where")).text == "/any/where"  # {{ }} in mocks files


def test_invalid_matcher_fails_with_file_line_col(tmp_path: Path) -> None:
    path = tmp_path / "mocks.yaml"
    path.write_text(
        "routes:\n"
        "  - request:\n"
        "      method: POST\n"
        "      path: /orders\n"
        "      body:\n"
        "        $.amount: {gtt: 5}\n"
        "  - request: {path_regex: '/x(['}\n"
    )
    with pytest.raises(FlowValidationError) as caught:
        load_mock_file(path)
    text = caught.value.format()
    assert f"{path}:6:" in text and "gtt" in text
    assert f"{path}:7:" in text and "regular expression" in text


def test_wiremock_mappings_import(tmp_path: Path) -> None:
    path = tmp_path / "wiremock.json"
    path.write_text(
        json.dumps(
            {
                "mappings": [
                    {
                        "name": "get-user",
                        "request": {
                            "method": "GET",
                            "urlPath": "/users/1",
                            "queryParameters": {"full": {"equalTo": "yes"}},
                        },
                        "response": {
                            "status": 200,
                            "jsonBody": {"id": 1},
                            "fixedDelayMilliseconds": 10,
                        },
                    },
                    {
                        "request": {
                            "method": "POST",
                            "urlPattern": "/users/.*",
                            "bodyPatterns": [{"matchesJsonPath": "$.name"}],
                        },
                        "response": {"status": 201, "body": "created"},
                        "priority": 1,
                    },
                ]
            }
        )
    )
    routes = load_mock_file(path).routes
    assert routes[0].id == "get-user" and routes[0].request.query == {"full": "yes"}
    assert routes[0].response is not None and routes[0].response.body == {"id": 1}
    assert routes[1].request.path_regex == "/users/.*" and routes[1].request.body == {
        "$.name": {"exists": True}
    }
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"request": {"urlPath": "/a", "headers": {"X": {"contains": "y"}}}, "response": {}}
        )
    )
    with pytest.raises(FlowValidationError, match="only equalTo is supported"):
        load_mock_file(bad)


@pytest.mark.workflow
async def test_flow_mock_and_verify(
    temporal_client: Client, settings: Settings, task_queue: str
) -> None:
    flow = {
        "setup": [{"id": "acme", "type": "mock", "name": "acme", "routes": ROUTES["routes"][:3]}],
        "steps": [
            {
                "id": "order",
                "type": "http",
                "request": {
                    "method": "POST",
                    "url": "{{ mocks.acme.url }}/orders",
                    "json": {"ref": "R9", "amount": 5},
                },
                "assert": {"status": 201, "$.id": "R9"},
            },
            {
                "id": "called",
                "type": "mock.verify",
                "name": "acme",
                "method": "POST",
                "path": "/orders",
                "body": {"$.ref": "R9"},
                "times": 1,
                "assert": {"total": 1},
            },
            {
                "id": "never",
                "type": "mock.verify",
                "name": "acme",
                "path": "/status/{id}",
                "times": 1,
            },
        ],
    }
    result, _ = await run_flow(temporal_client, settings, task_queue, flow)
    by_id = {s.step_id: s for s in result.steps}
    assert by_id["acme"].status == "passed", by_id["acme"].error
    assert by_id["order"].status == "passed", by_id["order"].error
    assert by_id["called"].status == "passed", by_id["called"].error
    assert by_id["never"].status == "failed"
    assert (
        by_id["never"].error is not None
        and "expected 1 matching call(s), got 0" in by_id["never"].error.message
    )
    assert result.context["mocks"]["acme"]["url"].startswith("http://127.0.0.1:")


@pytest.mark.slow
@pytest.mark.e2e
def test_mock_serve_command(tmp_path: Path) -> None:
    path = tmp_path / "partner.yaml"
    path.write_text(json.dumps(ROUTES))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "testflow.cli", "mock", "serve", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_port(port, timeout=60)
        reply = httpx.post(f"http://127.0.0.1:{port}/orders", json={"ref": "Z", "amount": 3})
        assert reply.status_code == 201 and reply.json()["id"] == "Z"
        journal = httpx.get(f"http://127.0.0.1:{port}/__admin/requests").json()["requests"]
        assert len(journal) == 1
    finally:
        proc.terminate()
        proc.wait(10)
    bad = tmp_path / "bad.yaml"
    bad.write_text("routes:\n  - request: {method: FETCH}\n")
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "testflow.cli", "mock", "check", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2 and f"{bad}:2:" in out.stdout and "FETCH" in out.stdout, (
        out.stdout,
        time.monotonic() - started,
    )
