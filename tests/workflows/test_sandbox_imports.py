"""What the workflow sandbox imports anew for each run (runtime/worker.py PASSTHROUGH).

Temporal's sandbox re-imports every module that is not passed through for every workflow run;
that was most of the worker's CPU per run. Only the modules that define a workflow class (and
the packages above them) must be re-imported; everything they use is passed through. A replay
is a run in the sandbox, so this replays a committed history twice in a fresh interpreter and
records, with an audit hook, which testflow modules each run executed (the import system runs
a module's code with ``exec``, which raises the ``exec`` audit event with the code object).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

from testflow.runtime.worker import PASSTHROUGH

ROOT = Path(__file__).resolve().parents[2]
HISTORY = Path(__file__).resolve().parent / "histories" / "sequential.json"

REPLAY_TWICE = """
import asyncio, json, sys, tempfile
from pathlib import Path
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from testflow.runtime.engine import data_converter
from testflow.runtime.settings import Settings
from testflow.runtime.worker import workflow_runner
from testflow.workflows.interpreter import FlowWorkflow
from tests.workflows.replay_cases import TEST_KEYS

loaded: list[str] = []
recording = False
ROOT = Path.cwd()


def hook(event: str, args: tuple) -> None:
    if recording and event == "exec" and hasattr(args[0], "co_filename"):
        loaded.append(args[0].co_filename)


def module_name(filename: str) -> str | None:
    path = Path(filename)
    if not path.is_relative_to(ROOT / "testflow"):
        return None
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


sys.addaudithook(hook)

async def main() -> None:
    global recording
    settings = Settings(home=Path(tempfile.mkdtemp()), encryption_keys=TEST_KEYS)
    replayer = Replayer(
        # Only the workflow of this history: a replayer's worker prepares each registered
        # workflow once in the sandbox, which the hook would count as part of this run.
        workflows=[FlowWorkflow], data_converter=data_converter(settings),
        workflow_runner=workflow_runner(),
    )
    history = WorkflowHistory.from_json("sandbox-imports", Path(sys.argv[1]).read_text())
    runs = []
    for _ in range(2):
        loaded.clear()
        recording = True
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        recording = False
        assert result.replay_failure is None, result.replay_failure
        runs.append(sorted({m for m in map(module_name, loaded) if m}))
    print(json.dumps(runs))

asyncio.run(main())
"""


def _configured_passthrough(name: str) -> bool:
    parts = name.split(".")
    return any(".".join(parts[:i]) in PASSTHROUGH for i in range(1, len(parts) + 1))


def _defines_workflow(name: str) -> bool:
    module = importlib.import_module(name)
    if hasattr(module, "__path__"):  # a package: imported as the parent of a workflow module
        return True
    return any(
        hasattr(value, "__temporal_workflow_definition") and value.__module__ == name
        for value in vars(module).values()
    )


def test_each_run_reimports_only_workflow_class_modules() -> None:
    result = subprocess.run(
        [sys.executable, "-c", REPLAY_TWICE, str(HISTORY)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    first, second = json.loads(result.stdout.strip().splitlines()[-1])
    # The hook sees the sandbox's imports: the workflow's own module is always imported anew.
    assert "testflow.workflows.interpreter" in first
    # A FlowWorkflow run builds no other workflow's module (the package loads them lazily).
    assert [m for m in first if m.startswith("testflow.workflows.")] == [
        "testflow.workflows.interpreter"
    ]
    assert second == first, "the second run imported other modules than the first"
    assert [m for m in first if _configured_passthrough(m)] == []
    assert [m for m in first if not _defines_workflow(m)] == [], (
        "imported anew for every run: add them to PASSTHROUGH (runtime/worker.py) if they keep "
        "no per-run module state, or import them inside workflow.unsafe.imports_passed_through()"
    )
