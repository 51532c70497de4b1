"""The run loop of one flow run: context, setup, steps (or a re-run's reused ones), teardown,
record pages in the artifact store and continue-as-new.

Passed through the workflow sandbox (runtime/worker.py): no module-level state; everything a
run changes lives in its ``RunContext``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from testflow.dsl.models import Step
from testflow.dsl.results import ArtifactRef, RunResult, RunStatus, StepError
from testflow.dsl.templating import TemplateError
from testflow.workflows import carried as carried_flows
from testflow.workflows.context import SKIP_AFTER_FAILURE, RunContext
from testflow.workflows.control import ControlFlow
from testflow.workflows.records import STORE_RECORDS, STORE_RECORDS_PATCH
from testflow.workflows.search import STATUS
from testflow.workflows.types import CarriedState, FlowInput, RecordsPage, ResumeFrom


class FlowRun:
    """Runs a flow from start (or a continue-as-new's next step) to its RunResult."""

    def __init__(self, run: RunContext, control: ControlFlow) -> None:
        self.run = run
        self.control = control

    async def execute(self, input: FlowInput) -> RunResult:
        run, state, flow = self.run, self.run.state, self.run.flow
        error: StepError | None = None
        start_index = input.carried.next_index if input.carried else 0
        if input.carried is not None:
            self._init_webhooks(state.context)
        else:
            try:
                self._init_context()
            except TemplateError as exc:
                error = StepError(type="TemplateError", message=f"context: {exc}")
                state.failed = True
            if error is None and input.resume is not None:
                error = self._resume_problem(input.resume)
                state.failed = error is not None
            state.run_started()
        try:
            if (
                error is None
                and start_index == 0
                and not await self.control.run_list(flow.setup, "setup", "")
            ):
                state.failed = True
            if not state.failed:
                await self._run_main(start_index)
            else:
                for step in flow.steps:
                    reason = "setup failed" if error is None else "the run could not start"
                    run.skip(step, "steps", reason)
        except asyncio.CancelledError:
            state.cancelled = True
        # Teardown always runs: on success, failure and cancellation (a cancellation request
        # is delivered once, so activities scheduled after catching it run normally).
        await self.control.run_list(flow.teardown, "teardown", "", stop_on_failure=False)
        status: RunStatus = (
            "cancelled" if state.cancelled else ("failed" if state.failed else "passed")
        )
        state.run_finished(status)
        workflow.upsert_search_attributes([STATUS.value_set(status)])
        return state.result(
            flow_file=input.flow_file,
            tags=flow.tags,
            environment=input.environment,
            error=error,
        )

    def _init_context(self) -> None:
        run = self.run
        ctx = run.state.context
        ctx["run"] = {
            "id": run.run_id,
            "flow": run.flow.name,
            "started_at": run.state.started_at.isoformat(),
            "environment": run.input.environment,
        }
        for name, value in run.flow.context.items():
            ctx[name] = run.renderer.render(value, ctx)
        for name, value in run.input.variables.items():
            ctx[name] = run.renderer.render(value, ctx)
        if run.input.resume is not None:
            # A re-run from a step continues the earlier run's data: its generated ids and
            # extracted values win over freshly rendered ones (secrets were left out of it and
            # were rendered again above, from the environment).
            ctx.update({k: v for k, v in run.input.resume.context.items() if k != "run"})
        self._init_webhooks(ctx)

    def _init_webhooks(self, ctx: dict[str, Any]) -> None:
        run = self.run
        run.inbox.declare(run.flow, ctx, run.renderer, run.input.webhook_base)

    def _resume_problem(self, resume: ResumeFrom) -> StepError | None:
        """Why the run cannot start at ``resume.step_id`` (the API checks this first)."""
        steps = self.run.flow.steps
        ids = [s.id for s in steps]
        if any(s.depends_on for s in steps):
            message = "a flow that runs as a DAG (depends_on) cannot be re-run from a step"
        elif resume.step_id not in ids:
            message = f"cannot re-run from {resume.step_id!r}: it is not a top-level step"
        else:
            return None
        return StepError(type="InvalidConfig", message=message)

    def _resume_index(self) -> int:
        resume = self.run.input.resume
        if resume is None:
            return 0
        return next(i for i, s in enumerate(self.run.flow.steps) if s.id == resume.step_id)

    def _reuse(self, step: Step, resume: ResumeFrom) -> None:
        """A step a re-run does not execute: its values come from the earlier run."""
        state = self.run.state
        reason = f"reused from run {resume.run_id}"
        record = self.run.record(step, "steps", step.id, None, "skipped", None, skip_reason=reason)
        # What it extracted and set then, so reports, the context debugger and a re-run of
        # this run see where the values came from.
        output = state.step_outputs().get(step.id)
        extracted = {k: v for k, v in output.items() if k != "status"} if output else {}
        changes = resume.changes.get(step.id, {})
        if extracted or changes:
            update = {"extracted": state.masked(extracted), "context_changes": changes}
            record = record.model_copy(update=update)
        state.finish(record)

    async def _run_main(self, start_index: int) -> None:
        run, state = self.run, self.run.state
        steps = run.flow.steps
        if any(s.depends_on for s in steps):
            if not await self.control.run_dag(steps, "steps", ""):
                state.failed = True
            return
        resume_at = self._resume_index()
        for index in range(start_index, len(steps)):
            step = steps[index]
            if index < resume_at and run.input.resume is not None:
                self._reuse(step, run.input.resume)
                continue
            if state.failed:
                run.skip(step, "steps", SKIP_AFTER_FAILURE)
                await self._store_records()
                continue
            if not await self.control.run_step(step, "steps", "", {}):
                state.failed = True
            await self._store_records()
            if index + 1 < len(steps) and workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._next_input(index + 1))

    def _next_input(self, next_index: int) -> FlowInput:
        """The input of the run's next incarnation: the same flow, from ``next_index`` on."""
        state, inbox = self.run.state, self.run.inbox
        # The next incarnation takes this validated flow instead of validating its copy again
        # when this worker runs it (carried.py); its input is the same either way.
        carried_flows.keep(self.run.input.run_id, state.seq, state.started_at, self.run.flow)
        return self.run.input.model_copy(
            update={
                "carried": CarriedState(
                    next_index=next_index,
                    context=state.context,
                    records=state.records,
                    event_seq=state.seq,
                    started_at=state.started_at,
                    failed=state.failed,
                    webhooks=inbox.deliveries,
                    webhook_nonce=inbox.nonce,
                    **({"stored": state.stored} if state.stored else {}),
                )
            }
        )

    async def _store_records(self) -> None:
        """Move the records so far to the artifact store once there is a page of them.

        The run then carries (across continue-as-new) and returns only their refs and the
        records since: its result and carried state stay small whatever the step count.
        """
        run, state = self.run, self.run.state
        page_size = run.input.options.records_page
        if len(state.records) < page_size or not workflow.patched(STORE_RECORDS_PATCH):
            return
        page = RecordsPage(run_id=run.run_id, index=len(state.stored), records=state.records)
        try:
            ref = await workflow.execute_local_activity(
                STORE_RECORDS,
                page,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=3),
                result_type=ArtifactRef,
            )
        except (ActivityError, ApplicationError):
            # A worker without the activity, a store that refuses: the records stay in the
            # run as they did before pages existed, and the next step tries again.
            return
        state.records_stored(ref)
