"""A run's full result: the step records a long run kept in the artifact store, put back.

A run of thousands of steps moves its records to the store a page at a time and returns only
the last ones (``RunResult.steps_stored``, testflow.activities.records); reports, the run
index and ``testflow run`` want every step, so they read results through here.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from temporalio.client import WorkflowHandle

from testflow.dsl.results import RunResult, StepRecord
from testflow.runtime.artifacts import read_any_artifact


class StoredStepsMissing(RuntimeError):
    """A page of a run's records is not in this process's artifact store."""


def with_stored_steps(result: RunResult) -> RunResult:
    """``result`` with its stored pages read back into ``steps`` (in run order)."""
    if not result.steps_stored:
        return result
    steps: list[StepRecord] = []
    for ref in result.steps_stored:
        data = read_any_artifact(ref)
        if data is None:
            raise StoredStepsMissing(
                f"the step records {ref.uri} of run {result.run_id} are not in the artifact "
                "store: read the result where the worker's store is (TESTFLOW_ARTIFACTS_DIR, "
                "or TESTFLOW_ARTIFACTS_S3_URL for distributed workers)"
            )
        steps.extend(StepRecord.model_validate(item) for item in json.loads(data))
    return result.model_copy(update={"steps": [*steps, *result.steps], "steps_stored": []})


async def full_result(handle: WorkflowHandle[Any, RunResult]) -> RunResult:
    """The run's result with every step in it."""
    result = await handle.result()
    return await asyncio.to_thread(with_stored_steps, result)
