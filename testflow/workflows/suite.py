"""SuiteWorkflow: one child FlowWorkflow per flow of a suite, at most ``concurrency`` at a time.

The starter prepares every child's FlowInput and picks its run id, so the API can index and
stream each child before it starts. The suite keeps only a small summary per child (status and
step counts), never a child's result: a suite of 500 flows stays far below Temporal's 2 MB
payload limit. Children are started with ``REQUEST_CANCEL`` as parent-close policy and awaited
with the default ``WAIT_CANCELLATION_COMPLETED``: cancelling the suite cancels its running
children, and the suite ends only after their teardown ran.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from testflow.dsl.results import RunResult, RunStatus
    from testflow.workflows.search import STATUS, run_attributes
    from testflow.workflows.suite_types import (
        ChildStatus,
        ChildSummary,
        SuiteChild,
        SuiteInput,
        SuiteProgress,
        derived_child_id,
    )

__all__ = [
    "ChildStatus",
    "ChildSummary",
    "SuiteChild",
    "SuiteInput",
    "SuiteProgress",
    "SuiteWorkflow",
]

DERIVED_IDS_PATCH = "suite-derived-child-ids"
FAIL_FAST_STARTING_PATCH = "suite-fail-fast-lets-starting-child-run"
"""Fail-fast lets a child whose start was in flight run, as the children already running do
(it used to be cancelled); only a cancel of the suite cancels it."""
"""Children named after the suite's workflow id (a scheduled suite run); histories from
before the patch never set ``derive_child_ids`` and replay unchanged."""


@workflow.defn(name="SuiteWorkflow")
class SuiteWorkflow:
    @workflow.init
    def __init__(self, input: SuiteInput) -> None:
        self.input = input
        self.run_ids = [c.run_id for c in input.children]
        self.derived = input.derive_child_ids and workflow.patched(DERIVED_IDS_PATCH)
        if self.derived:
            parent = workflow.info().workflow_id
            self.run_ids = [derived_child_id(parent, i) for i in range(len(input.children))]
        self.children = [
            ChildSummary(run_id=run_id, flow=c.input.flow.name)
            for run_id, c in zip(self.run_ids, input.children, strict=True)
        ]
        self.handles: dict[int, workflow.ChildWorkflowHandle[Any, RunResult]] = {}
        self.running = 0
        self.stopping = False
        self.cancelled = False
        self.started_at = workflow.now()
        self.finished_at: datetime | None = None
        self.status: RunStatus = "running"

    @workflow.query
    def progress(self, since: int = 0) -> SuiteProgress:
        """Each child's state. ``since`` is accepted (and ignored) so a caller that asks every
        run for ``progress(since)`` gets an answer it can tell apart, not an error."""
        return SuiteProgress(
            name=self.input.name,
            status=self.status,
            done=self.finished_at is not None,
            started_at=self.started_at,
            finished_at=self.finished_at,
            concurrency=self.input.concurrency,
            children=[c.model_copy() for c in self.children],
        )

    @workflow.run
    async def run(self, input: SuiteInput) -> SuiteProgress:
        tasks: list[asyncio.Task[None]] = []
        try:
            for index in range(len(input.children)):
                await workflow.wait_condition(
                    lambda: self.stopping or self.running < input.concurrency
                )
                if self.stopping:
                    break
                self.running += 1
                self.children[index].status = "running"
                tasks.append(asyncio.create_task(self._child(index)))
            await workflow.wait_condition(lambda: self.running == 0)
        except asyncio.CancelledError:
            # Delivered once: what follows runs normally. The children get a cancel request
            # and the suite waits until each has finished (its teardown included).
            self.cancelled = True
            self._stop()
            await workflow.wait_condition(lambda: self.running == 0)
        for child in self.children:
            if child.status == "queued":
                child.status = "cancelled"
        self.status = self._final_status()
        self.finished_at = workflow.now()
        workflow.upsert_search_attributes([STATUS.value_set(self.status)])
        return self.progress()

    def _final_status(self) -> RunStatus:
        if self.cancelled:
            return "cancelled"
        if all(c.status == "passed" for c in self.children):
            return "passed"
        return "failed"

    def _stop(self) -> None:
        self.stopping = True
        for handle in self.handles.values():
            handle.cancel()

    async def _child(self, index: int) -> None:
        spec = self.input.children[index]
        summary = self.children[index]
        run_id = self.run_ids[index]
        child_input = spec.input
        if self.derived:
            # A derived id: the starter's webhook nonce was made for another id, so the child
            # draws its own (as a run started without one does).
            child_input = child_input.model_copy(update={"run_id": run_id, "webhook_nonce": None})
        try:
            flow = child_input.flow
            handle = await workflow.start_child_workflow(
                "FlowWorkflow",
                child_input,
                id=run_id,
                result_type=RunResult,
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                search_attributes=run_attributes(flow.name, flow.tags, child_input.environment),
                static_summary=f"{flow.name} ({child_input.flow_file or 'inline'})",
            )
            summary.started = True
            self.handles[index] = handle
            if self.cancelled:
                handle.cancel()
            elif self.stopping and not workflow.patched(FAIL_FAST_STARTING_PATCH):
                handle.cancel()  # before the patch, fail-fast also cancelled a child being started
            result = await handle
            summary.status = result.status
            summary.counts = result.counts
        except ChildWorkflowError as exc:  # terminated, timed out, or its code failed
            summary.status = "error"
            summary.error = str(exc.cause or exc)
        except WorkflowAlreadyStartedError:
            summary.status = "error"
            summary.error = f"a workflow with id {run_id!r} already exists"
        finally:
            self.handles.pop(index, None)
            self.running -= 1
        if summary.status != "passed" and self.input.fail_fast:
            self.stopping = True  # the running children finish; no more start
