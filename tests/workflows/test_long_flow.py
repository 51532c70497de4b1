"""A 10,000-step flow runs to the end on a real dev server and its report has every step.

Before issue 3 of testflow it could not: each step's input carried the outputs of every earlier
step, its result (~6 MB) was over Temporal's 2 MB payload limit, every continue-as-new handed
the next run all records so far, and following it replayed the finished run once per page
of events. The session dev server suggests continue-as-new every 1,500 events, so this run
rolls over several times. Cheap steps (transform) keep it to about a minute; per-step timings
are in bench/long_flow.py, not asserted here.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from testflow.dsl.results import RunEvent
from testflow.runtime.attach import write_attached_reports
from testflow.runtime.engine import Engine
from testflow.runtime.settings import Settings
from tests.workflows.helpers import flow_of

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

STEPS = 10_000
WELL_UNDER = 256 * 1024  # Temporal warns at 256 KB and rejects 2 MB


async def test_ten_thousand_steps_finish_with_a_full_report(
    temporal_client: Client, settings: Settings, task_queue: str, tmp_path: Path
) -> None:
    steps = [{"id": f"s{i}", "type": "transform", "set": {"i": i}} for i in range(STEPS)]
    flow = flow_of({"name": "ten thousand steps", "steps": steps})
    events: list[RunEvent] = []
    engine = Engine(settings.model_copy(update={"task_queue": task_queue}), client=temporal_client)
    async with engine:
        handle = await engine.start(flow, environ={})
        result = await engine.follow(handle.id, events.append)

    assert result.status == "passed", result.error
    assert [s.key for s in result.steps] == [f"s{i}" for i in range(STEPS)]
    assert result.context["i"] == STEPS - 1 and result.counts["passed"] == STEPS
    finished = Counter(e.step.key for e in events if e.type == "step_finished" and e.step)
    assert len(finished) == STEPS and set(finished.values()) == {1}
    assert events[-1].type == "run_finished"

    # Every payload Temporal holds stays small: continue-as-new inputs and the result.
    sizes: dict[str, list[int]] = {"continued": [], "result": []}
    async for run in temporal_client.list_workflows(f"WorkflowId = '{handle.id}'"):
        history = await temporal_client.get_workflow_handle(
            handle.id, run_id=run.run_id
        ).fetch_history()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                payloads = event.workflow_execution_continued_as_new_event_attributes.input.payloads
                sizes["continued"].append(sum(p.ByteSize() for p in payloads))
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
                payloads = event.workflow_execution_completed_event_attributes.result.payloads
                sizes["result"].append(sum(p.ByteSize() for p in payloads))
    assert len(sizes["continued"]) >= 2 and len(sizes["result"]) == 1, sizes
    assert max(sizes["continued"] + sizes["result"]) < WELL_UNDER, sizes

    written = write_attached_reports([result], tmp_path, ("json", "junit"))
    report = json.loads(written["json"].read_text())
    assert [s["key"] for s in report["runs"][0]["steps"]] == [f"s{i}" for i in range(STEPS)]
    assert written["junit"].read_text().count("<testcase ") >= STEPS
