"""Re-running, from a failed step, a run whose step records were moved to the artifact store.

The index stores a run's result a moment after Temporal reports its end; a re-run asked for in
that moment reads the result from Temporal (testflow.api.rerun.earlier_result). A long run's
result there holds only its last records and references to pages of the others
(RunOptions.records_page, 1,000 by default; 2 here so a few steps make several pages).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from temporalio.client import Client

from testflow.api.db.models import RunRow
from testflow.dsl.models import Flow
from testflow.dsl.results import RunResult
from testflow.runtime.engine import Engine
from testflow.workflows.types import RunOptions
from tests.api.conftest import Api
from tests.api.test_rerun import finished, steps_of

pytestmark = [pytest.mark.workflow, pytest.mark.e2e]

PAGED = """\
name: rerun paged
context: {want: 2}
steps:
  - {id: a, type: transform, set: {x: 1}}
  - {id: b, type: transform, set: {y: 2}}
  - {id: c, type: transform, set: {z: 3}}
  - {id: check, type: assert, value: "{{ x + y }}", assert: {"$": "{{ want }}"}}
  - {id: after, type: log, message: "z is {{ z }}"}
teardown:
  - {id: t1, type: log, message: bye}
  - {id: t2, type: log, message: bye}
  - {id: t3, type: log, message: bye}
"""


async def test_rerun_reads_the_stored_record_pages_of_the_earlier_run(
    api: Api, temporal_client: Client
) -> None:
    # Started on the API's task queue (its worker and artifact store), as a long run started
    # through the API would be, but with small pages.
    async with Engine(api.settings, client=temporal_client, with_worker=False) as engine:
        handle = await engine.start(
            Flow.model_validate(yaml.safe_load(PAGED)),
            environ={},
            options=RunOptions(records_page=2),
        )
    raw = await temporal_client.get_workflow_handle(handle.id, result_type=RunResult).result()
    assert raw.status == "failed"
    assert len(raw.steps_stored) >= 2  # the failed step's record is in a page, not the result
    assert "check" not in {s.step_id for s in raw.steps}

    # The index knows the run but has not stored its result yet.
    async with api.db.session() as session:
        session.add(RunRow(run_id=handle.id, flow_name="rerun paged", text=PAGED, status="running"))
        await session.commit()

    body: dict[str, Any] = {"from_step": "check", "vars": {"want": 3}}
    answer = await api.client.post(f"/api/v1/runs/{handle.id}/rerun", json=body)
    assert answer.status_code == 202, answer.text
    rerun = await finished(api, answer.json()["run_id"])
    assert rerun["status"] == "passed", rerun
    steps = steps_of(rerun)
    for reused in ("a", "b", "c"):  # not run again: their values came from the pages
        assert steps[reused]["status"] == "skipped"
        assert steps[reused]["skip_reason"].startswith("reused from run ")
    assert steps["check"]["status"] == "passed" and steps["after"]["status"] == "passed"
    assert rerun["context"]["x"] == 1 and rerun["context"]["z"] == 3
