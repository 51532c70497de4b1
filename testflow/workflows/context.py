"""What every part of one flow run shares: its input, renderer, run state and webhook inbox.

Built once per run by ``FlowWorkflow`` (interpreter.py) and handed to the step runners
(control.py, actions.py) and the run loop (lifecycle.py). Those modules are passed through
the workflow sandbox (runtime/worker.py PASSTHROUGH): they keep no module-level state, and
each run's state lives in the ``RunContext`` object its workflow instance owns. The
``workflow.*`` calls made here act on the current run (the SDK finds it on the running
workflow event loop, one per run).
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

from testflow.dsl.models import Flow, Step, StepBase
from testflow.dsl.results import StepError, StepRecord, StepStatus
from testflow.dsl.templating import Renderer, TemplateError, TemplateRuntime
from testflow.workflows.records import step_record
from testflow.workflows.state import RunState
from testflow.workflows.types import FlowInput
from testflow.workflows.webhooks import WebhookInbox

SKIP_AFTER_FAILURE = "an earlier step failed"


class RunContext:
    """One run's input and mutable state, plus the record helpers every step kind uses."""

    def __init__(self, input: FlowInput) -> None:
        self.input = input
        # The workflow id is the run id; a Temporal Schedule appends a timestamp to the id it
        # was given, so the id in the input may be only the base of it.
        self.run_id = workflow.info().workflow_id
        self.flow: Flow = input.flow
        self.renderer = Renderer(
            TemplateRuntime(
                rng=workflow.random(),
                clock=workflow.now,
                uuid4=workflow.uuid4,
                env=input.env,
                secrets=input.secrets,
            )
        )
        carried = input.carried
        self.state = RunState(
            run_id=self.run_id,
            flow=self.flow.name,
            clock=workflow.now,
            secrets=[v for v in input.secrets.values() if v],
            context=dict(carried.context) if carried else {},
            records=list(carried.records) if carried else [],
            stored=list(carried.stored) if carried else [],
            event_seq=carried.event_seq if carried else 0,
            started_at=carried.started_at if carried else None,
        )
        if carried:
            self.state.failed = carried.failed
        # Deliveries are buffered from the start of the run: a partner may call back before
        # the step that waits for it starts.
        self.inbox = WebhookInbox.open(self.run_id, input, workflow.uuid4)

    def record(
        self,
        step: StepBase,
        phase: str,
        key: str,
        iteration: int | None,
        status: StepStatus,
        started: datetime | None,
        *,
        error: StepError | None = None,
        skip_reason: str | None = None,
    ) -> StepRecord:
        return step_record(
            step,
            phase,
            key,
            iteration,
            status,
            started,
            workflow.now(),
            error=error,
            skip_reason=skip_reason,
        )

    def skip(self, step: Step, phase: str, reason: str, prefix: str = "") -> None:
        self.state.finish(
            self.record(step, phase, prefix + step.id, None, "skipped", None, skip_reason=reason)
        )

    def fail_before_start(
        self, step: StepBase, phase: str, key: str, iteration: int | None, exc: TemplateError
    ) -> bool:
        error = StepError(type="TemplateError", message=f"{key}: {exc}")
        self.state.finish(
            self.record(step, phase, key, iteration, "error", workflow.now(), error=error)
        )
        return step.continue_on_error
