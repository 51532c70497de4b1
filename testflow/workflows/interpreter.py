"""FlowWorkflow: the generic, deterministic interpreter of a validated flow.

Each action step becomes one activity (local for quick kinds, regular with heartbeats for
waits); control steps (parallel, group, call, poll), ``when``, ``for_each``, ``depends_on``
DAGs, hooks, ``delay`` timers and teardown are interpreted with a deterministic template
runtime (workflow random, clock and uuid). See ARCHITECTURE.md section 4.

This module is only the workflow class: Temporal's sandbox imports a workflow's own module
anew for every run, so it is kept thin. The interpreter itself lives in modules the worker
passes through the sandbox (loaded once; runtime/worker.py PASSTHROUGH):

- context.py: ``RunContext``, one run's input, renderer, state, inbox and record helpers;
- lifecycle.py: ``FlowRun``, the run loop (setup, steps, teardown, re-runs, record pages,
  continue-as-new);
- control.py: ``ControlFlow``, lists, DAGs, ``when``/``for_each``, parallel, group, call, poll;
- actions.py: ``ActionRunner``, one action step: its activity, a timer or a webhook wait.
"""

from __future__ import annotations

from temporalio import workflow

# Passed through here too, so that any sandbox configuration (a test's Replayer, a worker
# built without runtime/worker.py) loads them once rather than per run.
with workflow.unsafe.imports_passed_through():
    from testflow.dsl.results import RunResult
    from testflow.workflows.context import RunContext
    from testflow.workflows.control import ControlFlow
    from testflow.workflows.lifecycle import FlowRun
    from testflow.workflows.types import FlowInput, ProgressPage, WebhookConfig, WebhookDelivery

__all__ = ["FlowWorkflow"]


@workflow.defn(name="FlowWorkflow")
class FlowWorkflow:
    @workflow.init
    def __init__(self, input: FlowInput) -> None:
        self.input = input
        self.ctx = RunContext(input)
        self.flow_run = FlowRun(self.ctx, ControlFlow(self.ctx, FlowWorkflow.run))

    @workflow.signal
    def webhook(self, delivery: WebhookDelivery) -> None:
        """An inbound call to one of the run's webhook URLs (sent by the receiver)."""
        self.ctx.inbox.add(delivery)

    @workflow.query
    def webhook_config(self, name: str) -> WebhookConfig:
        return self.ctx.inbox.config(name)

    @workflow.query
    def progress(self, since: int = 0) -> ProgressPage:
        """Events after ``since`` (a page of them) and whether the run is over."""
        state = self.ctx.state
        events = state.events_since(since, self.input.options.progress_page)
        done = state.finished and (not events or events[-1].seq == state.seq)
        return ProgressPage(events=events, done=done, status=state.status)

    @workflow.run
    async def run(self, input: FlowInput) -> RunResult:
        return await self.flow_run.execute(input)
