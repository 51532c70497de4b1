"""Committed histories replay on the current interpreter (ARCHITECTURE.md section 4, rule 2).

A failure here means an interpreter change altered the command sequence of existing runs:
guard it with ``workflow.patched(...)``, then record new histories for the new behaviour.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from testflow.runtime.engine import data_converter
from testflow.runtime.settings import Settings
from testflow.runtime.worker import workflow_runner
from testflow.workflows import WORKFLOWS
from tests.workflows.replay_cases import CASES, TEST_KEYS

HISTORIES = Path(__file__).resolve().parent / "histories"


@pytest.mark.parametrize("name", sorted(CASES))
async def test_history_replays(name: str) -> None:
    path = HISTORIES / f"{name}.json"
    assert path.exists(), f"{path} is missing: python -m tests.workflows.record_histories"
    home = Path(tempfile.mkdtemp())
    converter = data_converter(Settings(home=home, encryption_keys=TEST_KEYS))
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=converter, workflow_runner=workflow_runner())
    history = WorkflowHistory.from_json(f"replay-{name}", path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"
