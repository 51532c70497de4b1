"""Action steps: render a step, run it (its activity, a durable timer or a webhook wait), record it.

Passed through the workflow sandbox (runtime/worker.py): no module-level state; everything a
run changes lives in its ``RunContext``.
"""

from __future__ import annotations

import asyncio
import builtins
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from testflow.dsl.durations import parse_duration
from testflow.dsl.kinds.webhook import WebhookWaitConfig
from testflow.dsl.models import ActionStep, StepBase
from testflow.dsl.results import StepError, StepOutcome
from testflow.dsl.templating import TemplateError
from testflow.workflows.context import RunContext
from testflow.workflows.options import step_options
from testflow.workflows.records import (
    outcome,
    outcome_from_error,
    parent_of,
    record_from_outcome,
)
from testflow.workflows.state import activity_context
from testflow.workflows.types import KindOptions, PollSpec, StepInput


class ActionRunner:
    """Runs one execution of an action step of a run and files its record."""

    def __init__(self, run: RunContext) -> None:
        self.run = run

    async def action(
        self,
        step: ActionStep,
        phase: str,
        key: str,
        scope: dict[str, Any],
        iteration: int | None,
        *,
        poll: PollSpec | None = None,
        shown: StepBase | None = None,
        concurrent: bool = False,
    ) -> bool:
        run, state = self.run, self.run.state
        display = shown or step
        kind = run.input.kinds.get(step.type)
        started = workflow.now()
        ctx = {**state.context, **scope}
        if kind is None:
            exc = TemplateError(f"unknown step type {step.type!r} (no worker kind registered)")
            return run.fail_before_start(display, phase, key, iteration, exc)
        try:
            config = run.renderer.render(step.config, ctx)
            assertions = {
                name: (value if name == "that" else run.renderer.render(value, ctx))
                for name, value in step.assert_.items()
            }
        except TemplateError as exc:
            return run.fail_before_start(display, phase, key, iteration, exc)
        state.step_started(run.record(display, phase, key, iteration, "passed", started))
        try:
            result = await self._execute(
                step, kind, key, config, assertions, ctx, poll, concurrent, started
            )
        except asyncio.CancelledError:
            state.finish(run.record(display, phase, key, iteration, "cancelled", started))
            raise
        changes = state.merge_extracted(result.extracted) if result.status == "passed" else {}
        state.note_step_output(step.id, result.status, result.extracted)
        record = record_from_outcome(
            key=key,
            step_id=display.id,
            kind=display.type,
            phase=phase,
            parent=parent_of(key),
            iteration=iteration,
            description=display.description,
            outcome=result,
            context_changes=changes,
        )
        state.finish(record, result.preview)
        return result.status == "passed" or display.continue_on_error

    async def _execute(
        self,
        step: ActionStep,
        kind: KindOptions,
        key: str,
        config: dict[str, Any],
        assertions: dict[str, Any],
        ctx: dict[str, Any],
        poll: PollSpec | None,
        concurrent: bool,
        started: datetime,
    ) -> StepOutcome:
        """Run one action step: a durable timer for ``delay``, else its activity."""
        if kind.mode == "workflow":
            return await self._workflow_kind(step, config, assertions, ctx, started)
        run = self.run
        within = poll.within if poll else None
        options = step_options(step, run.flow.defaults, kind, poll_within=within)
        step_input = StepInput(
            run_id=run.run_id,
            flow_name=run.flow.name,
            step_id=step.id,
            step_key=key,
            kind=step.type,
            config=config,
            assertions=assertions,
            extract=step.extract,
            context=activity_context(
                ctx,
                step_outputs=kind.step_outputs,
                that=step.assert_.get("that"),
                extract=step.extract,
            ),
            connections=run.input.connections,
            secret_values=run.state.secrets,
            env=run.input.env,
            timeout=options.timeout,
            poll=poll,
            retry_on_assertion=options.retry.retry_on_assertion,
            # Only when set: the activity input of a run without a file root stays as it was.
            **({"file_root": root} if (root := run.input.options.file_root) else {}),
        )
        summary = f"{step.type} {step.id}"
        result: StepOutcome
        try:
            # Local activities racing timers in concurrent branches break replay (a known
            # SDK-core limitation with timers cancelled in the same task as a local
            # activity's marker), so concurrent regions use regular activities. A flow with
            # webhooks uses them too: a local activity keeps the workflow task open, and the
            # receiver's query (to check a delivery) would wait for it, so a partner calling
            # back while our request to it is in flight would be held for seconds.
            if options.local and not concurrent and not run.inbox.specs:
                # No summary here: the SDK converts it as one more payload, through the
                # sandbox, several times per step; that was ~10% of a quick step's time
                # (bench/steps.py). The step's record names it anyway.
                result = await workflow.execute_local_activity(
                    kind.activity,
                    step_input,
                    start_to_close_timeout=options.start_to_close,
                    retry_policy=options.retry_policy,
                    result_type=StepOutcome,
                )
            else:
                result = await workflow.execute_activity(
                    kind.activity,
                    step_input,
                    start_to_close_timeout=options.start_to_close,
                    heartbeat_timeout=run.input.options.heartbeat_timeout,
                    retry_policy=options.retry_policy,
                    result_type=StepOutcome,
                    summary=summary,
                )
        except (ActivityError, ApplicationError) as exc:
            # Local activity failures may surface as the ApplicationError itself.
            result = outcome_from_error(exc, started, workflow.now(), options.timeout)
        return result

    async def _workflow_kind(
        self,
        step: ActionStep,
        config: dict[str, Any],
        assertions: dict[str, Any],
        ctx: dict[str, Any],
        started: datetime,
    ) -> StepOutcome:
        """Kinds the interpreter runs itself: ``delay`` (a durable timer), ``webhook.wait``."""
        if step.type == "delay":
            duration = parse_duration(config.get("duration"))
            await asyncio.sleep(duration.total_seconds())
            summary = f"waited {config.get('duration')}"
            return outcome(started, workflow.now(), "passed", summary=summary)
        if step.type == "webhook.wait":
            return await self._webhook_wait(
                step, WebhookWaitConfig.model_validate(config), assertions, ctx, started
            )
        error = StepError(
            type="InvalidConfig",
            message=f"step kind {step.type!r} is not interpreted by this worker",
        )
        return outcome(started, workflow.now(), "error", error=error)

    async def _webhook_wait(
        self,
        step: ActionStep,
        cfg: WebhookWaitConfig,
        assertions: dict[str, Any],
        ctx: dict[str, Any],
        started: datetime,
    ) -> StepOutcome:
        run = self.run
        inbox = run.inbox
        try:
            await workflow.wait_condition(
                lambda: len(inbox.matching(cfg)) >= cfg.count, timeout=cfg.within
            )
        except builtins.TimeoutError:
            return outcome(started, workflow.now(), "error", error=inbox.timed_out(cfg))
        return inbox.take(
            step, cfg, assertions, ctx, run.renderer, started, workflow.now(), run.state.masked
        )
