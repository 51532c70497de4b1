"""A SuiteWorkflow that names its children after its own workflow id (scheduled suite runs):
one input started twice under two ids gives two sets of children; the committed history of
that path replays (record it with ``python -m tests.workflows.record_suite_derived_history``).
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from testflow.dsl.results import RunResult
from testflow.runtime.engine import Engine, data_converter
from testflow.runtime.settings import Settings
from testflow.runtime.worker import workflow_runner
from testflow.workflows import WORKFLOWS
from testflow.workflows.suite import SuiteChild, SuiteInput
from testflow.workflows.suite_types import derived_child_id
from tests.workflows.helpers import flow_of
from tests.workflows.replay_cases import TEST_KEYS

pytestmark = pytest.mark.workflow

HISTORY = Path(__file__).resolve().parent / "histories" / "suite_derived_ids.json"
FLOWS = [
    {"name": "one", "steps": [{"id": "a", "type": "transform", "set": {"x": 1}}]},
    {"name": "two", "steps": [{"id": "b", "type": "transform", "set": {"y": 2}}]},
]


async def test_suite_derived_ids_history_replays() -> None:
    assert HISTORY.exists(), (
        f"{HISTORY} is missing: python -m tests.workflows.record_suite_derived_history"
    )
    converter = data_converter(Settings(home=Path(tempfile.mkdtemp()), encryption_keys=TEST_KEYS))
    replayer = Replayer(
        workflows=list(WORKFLOWS), data_converter=converter, workflow_runner=workflow_runner()
    )
    history = WorkflowHistory.from_json("replay-suite-derived", HISTORY.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, str(result.replay_failure)


def test_child_ids_are_given_or_derived_not_both(settings: Settings) -> None:
    engine = Engine(settings)
    prepared = engine.prepare(flow_of(FLOWS[0]), environ={})
    with pytest.raises(ValidationError, match="leave the children's run_id empty"):
        SuiteInput(
            name="s", children=[SuiteChild(run_id="x", input=prepared)], derive_child_ids=True
        )
    with pytest.raises(ValidationError, match="every child needs a run_id"):
        SuiteInput(name="s", children=[SuiteChild(run_id="", input=prepared)])


async def test_one_input_started_twice_gives_distinct_children(
    temporal_client: Client, settings: Settings, task_queue: str
) -> None:
    queue_settings = settings.model_copy(update={"task_queue": task_queue})
    async with Engine(queue_settings, client=temporal_client, with_worker=True) as engine:
        children = [
            SuiteChild(run_id="", input=engine.prepare(flow_of(data), environ={})) for data in FLOWS
        ]
        suite = SuiteInput(name="derived", children=children, derive_child_ids=True)
        base = f"suite-derived-{uuid.uuid4().hex[:8]}"
        results = []
        for firing in ("a", "b"):
            handle = await engine.start_suite(suite, suite_run_id=f"{base}-{firing}")
            results.append(await handle.result())
        for firing, result in zip(("a", "b"), results, strict=True):
            parent = f"{base}-{firing}"
            assert result.status == "passed"
            expected = [derived_child_id(parent, i) for i in range(len(FLOWS))]
            assert [c.run_id for c in result.children] == expected
            for run_id, data in zip(expected, FLOWS, strict=True):
                child = await temporal_client.get_workflow_handle(run_id).describe()
                assert child.status is not None and child.status.name == "COMPLETED"
                assert child.parent_id == parent
                flow = await temporal_client.get_workflow_handle(
                    run_id, result_type=RunResult
                ).result()
                assert flow.run_id == run_id and flow.flow == data["name"]
