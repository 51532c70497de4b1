"""A run resumed at a step (re-run from a failed step) on a real dev server, with real HTTP.

A small partner on loopback counts the calls it gets, so the tests see which steps really ran
again and with which values.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from temporalio.client import Client

from testflow.api.rerun import resume_from
from testflow.dsl.results import RunResult
from testflow.runtime.engine import Engine
from testflow.runtime.settings import Settings
from testflow.workflows.types import ResumeFrom
from tests.workflows.helpers import flow_of

pytestmark = pytest.mark.workflow

SECRET = "resume-secret-7d1c"


@dataclass
class Partner:
    url: str
    hits: Counter[str] = field(default_factory=Counter)
    seen: list[dict[str, Any]] = field(default_factory=list)
    ready: bool = False


@pytest.fixture
def partner() -> Iterator[Partner]:
    """``POST /create/<name>`` counts and answers a fresh token; ``GET /check/<token>`` is 200
    once ``ready`` is set (409 before), and remembers what it was sent."""
    state = Partner(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            state.hits[self.path] += 1
            self._answer(201, {"token": uuid.uuid4().hex, "n": state.hits[self.path]})

        def do_GET(self) -> None:
            state.hits[self.path.split("?")[0].rsplit("/", 1)[0]] += 1
            state.seen.append({"path": self.path, "auth": self.headers.get("X-Auth")})
            self._answer(200 if state.ready else 409, {"ready": state.ready})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def flow_data() -> dict[str, Any]:
    return {
        "context": {
            "base": "{{ env.PARTNER_URL }}",
            "tag": "{{ uuid() }}",  # differs per run unless the re-run reuses it
            "auth": "{{ secret('PARTNER_SECRET') }}",
        },
        "setup": [
            {
                "id": "hello",
                "type": "http",
                "request": {"method": "POST", "url": "{{ base }}/create/setup"},
            }
        ],
        "steps": [
            {
                "id": "one",
                "type": "http",
                "request": {
                    "method": "POST",
                    "url": "{{ base }}/create/one",
                    "headers": {"X-Auth": "{{ auth }}"},
                },
                "extract": {"first": "$.token"},
                "assert": {"status": 201},
            },
            {
                "id": "two",
                "type": "http",
                "request": {"method": "POST", "url": "{{ base }}/create/two"},
                "extract": {"second": "$.token"},
            },
            {
                "id": "check",
                "type": "http",
                "request": {
                    "url": "{{ base }}/check/{{ first }}?tag={{ tag }}&second={{ steps.two.second }}",
                    "headers": {"X-Auth": "{{ auth }}"},
                },
                "assert": {"status": 200},
            },
            {"id": "after", "type": "log", "message": "after {{ first }}"},
        ],
        "teardown": [
            {
                "id": "bye",
                "type": "http",
                "request": {"method": "POST", "url": "{{ base }}/create/teardown"},
            }
        ],
    }


async def run(
    client: Client,
    settings: Settings,
    task_queue: str,
    partner: Partner,
    resume: ResumeFrom | None = None,
) -> RunResult:
    engine = Engine(settings.model_copy(update={"task_queue": task_queue}), client=client)
    async with engine:
        handle = await engine.start(
            flow_of(flow_data()),
            environ={"PARTNER_URL": partner.url, "PARTNER_SECRET": SECRET},
            resume=resume,
        )
        return await engine.follow(handle.id)


async def test_resume_at_the_failed_step_reuses_the_earlier_steps(
    temporal_client: Client, settings: Settings, task_queue: str, partner: Partner
) -> None:
    first = await run(temporal_client, settings, task_queue, partner)
    assert first.status == "failed"
    steps = {s.step_id: s for s in first.steps}
    assert steps["check"].status == "failed" and steps["after"].status == "skipped"
    assert first.context["auth"] == "***"  # masked in the record: must not come back

    partner.ready = True  # the partner is fixed; only the failed step needs to run again
    resume = resume_from(flow_of(flow_data()), first, "check")
    assert "auth" not in resume.context and resume.context["tag"] == first.context["tag"]
    second = await run(temporal_client, settings, task_queue, partner, resume)

    assert second.status == "passed", second
    assert partner.hits["/create/one"] == 1 and partner.hits["/create/two"] == 1
    assert partner.hits["/create/setup"] == 2 and partner.hits["/create/teardown"] == 2
    assert partner.hits["/check"] == 2
    # The re-run's check got the earlier run's extracted values and generated tag, and the
    # secret from the environment again (not the mask).
    again = partner.seen[-1]
    assert again["path"] == (
        f"/check/{first.context['first']}?tag={first.context['tag']}&second={first.context['second']}"
    )
    assert again["auth"] == SECRET
    by_id = {(s.phase, s.step_id): s for s in second.steps}
    for reused in ("one", "two"):
        record = by_id[("steps", reused)]
        assert record.status == "skipped"
        assert record.skip_reason == f"reused from run {first.run_id}"
    assert by_id[("steps", "one")].context_changes == {"first": first.context["first"]}
    assert by_id[("steps", "one")].extracted == {"first": first.context["first"]}
    assert by_id[("setup", "hello")].status == "passed"
    assert by_id[("teardown", "bye")].status == "passed"
    assert by_id[("steps", "after")].status == "passed"
    assert [s.step_id for s in second.steps if s.phase == "steps"] == [
        "one",
        "two",
        "check",
        "after",
    ]
    assert second.context["first"] == first.context["first"]


async def test_a_resumed_run_can_be_resumed_again(
    temporal_client: Client, settings: Settings, task_queue: str, partner: Partner
) -> None:
    first = await run(temporal_client, settings, task_queue, partner)
    second = await run(
        temporal_client,
        settings,
        task_queue,
        partner,
        resume_from(flow_of(flow_data()), first, "check"),
    )
    assert second.status == "failed"  # the partner is still not ready
    partner.ready = True
    third = await run(
        temporal_client,
        settings,
        task_queue,
        partner,
        resume_from(flow_of(flow_data()), second, "check"),
    )
    assert third.status == "passed", third
    assert partner.hits["/create/one"] == 1 and partner.hits["/create/two"] == 1
    assert partner.seen[-1]["path"].startswith(
        f"/check/{first.context['first']}?tag={first.context['tag']}&second="
    )
    assert partner.seen[-1]["path"].endswith(f"second={first.context['second']}")


async def test_resume_at_an_unknown_step_fails_before_any_step(
    temporal_client: Client, settings: Settings, task_queue: str, partner: Partner
) -> None:
    result = await run(
        temporal_client, settings, task_queue, partner, ResumeFrom(run_id="run-x", step_id="nope")
    )
    assert result.status == "failed"
    assert result.error is not None and result.error.type == "InvalidConfig"
    assert "not a top-level step" in result.error.message
    assert {s.status for s in result.steps if s.phase == "steps"} == {"skipped"}
    assert partner.hits["/create/one"] == 0 and partner.hits["/create/teardown"] == 1
