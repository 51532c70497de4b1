"""Schedules of stored suites: the repeated SuiteWorkflow input and the index rows of a firing.

A Temporal Schedule repeats one input and names each firing's workflow ``<base id>-<time>``.
The suite input therefore leaves its children's run ids empty and sets ``derive_child_ids``:
each firing names child ``i`` ``<its workflow id>.<i>`` (suite_types.derived_child_id), and the
API computes the same ids when it indexes a firing (routers/schedules.index_firings): the suite row
and one ``queued`` row per child, followed by the tracker as a ``POST /runs {suite_id}`` run.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from testflow.api.db.models import FlowVersion, RunRow, ScheduleRow, SuiteRow, tag_text
from testflow.api.deps import AppState
from testflow.api.suiterun import child_row, prepare_children

if TYPE_CHECKING:
    from testflow.workflows.suite import SuiteInput


async def suite_action_input(
    state: AppState,
    session: AsyncSession,
    suite: SuiteRow,
    environment: str | None,
    variables: dict[str, Any],
    base_id: str,
) -> tuple[SuiteInput, Any, list[dict[str, Any]]]:
    """The input a suite schedule repeats, its search attributes, and the snapshot of the
    suite's flows the schedule row keeps (for its firings' child rows)."""
    from testflow.workflows.search import run_attributes
    from testflow.workflows.suite import SuiteChild, SuiteInput
    from testflow.workflows.suite_types import derived_child_id

    # The inputs' own run_id is a placeholder: the SuiteWorkflow replaces it with the firing's.
    prepared = await prepare_children(
        state,
        session,
        suite,
        environment,
        variables,
        lambda index, _flow: derived_child_id(base_id, index),
    )
    spec = SuiteInput(
        name=suite.name,
        suite_id=suite.id,
        children=[SuiteChild(run_id="", input=c.input) for c in prepared],
        concurrency=suite.concurrency,
        fail_fast=suite.fail_fast,
        tags=list(suite.tags),
        environment=environment,
        derive_child_ids=True,
    )
    snapshot = [
        {
            "flow_id": c.stored.id,
            "version": c.stored.version,
            "name": c.flow.name,
            "tags": list(c.flow.tags),
        }
        for c in prepared
    ]
    return spec, run_attributes(suite.name, suite.tags, environment), snapshot


async def suite_firing_rows(
    session: AsyncSession, row: ScheduleRow, run_id: str, started_at: datetime
) -> list[RunRow]:
    """The index rows of one firing of a suite schedule: the suite run, then its children
    (``queued`` since the firing: the tracker sets when each one starts)."""
    from testflow.workflows.suite_types import derived_child_id

    suite = await session.get(SuiteRow, row.suite_id) if row.suite_id else None
    tags = list(suite.tags) if suite else []
    parent = RunRow(
        run_id=run_id,
        flow_name=suite.name if suite else row.name,
        suite_id=row.suite_id,
        schedule_id=row.id,
        tags=tags,
        tag_text=tag_text(tags),
        environment=row.environment,
        status="running",
        trigger="schedule",
        started_by=f"schedule:{row.name}",
        started_at=started_at,
        variables=row.variables,
    )
    children = []
    for index, flow in enumerate(row.suite_flows or []):
        version = await session.get(FlowVersion, (flow["flow_id"], flow["version"]))
        children.append(
            child_row(
                derived_child_id(run_id, index),
                parent,
                flow_id=flow["flow_id"],
                flow_version=flow["version"],
                flow_name=flow["name"],
                tags=list(flow["tags"]),
                text=version.text if version else None,
            )
        )
    return [parent, *children]
