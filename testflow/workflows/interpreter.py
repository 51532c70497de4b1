"""FlowWorkflow: the generic, deterministic interpreter of a validated flow.

Each action step becomes one activity (local for quick kinds, regular with heartbeats for
waits); control steps (parallel, group, call, poll), ``when``, ``for_each``, ``depends_on``
DAGs, hooks, ``delay`` timers and teardown are interpreted here. Templates are rendered here
with a deterministic runtime (workflow random, clock and uuid). See ARCHITECTURE.md section 4.
"""

from __future__ import annotations

import asyncio
import builtins
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    import jinja2
    import jinja2.debug
    import jinja2.optimizer  # noqa: F401
    import jsonpath  # noqa: F401

    from testflow.dsl.durations import parse_duration
    from testflow.dsl.kinds.webhook import WebhookWaitConfig
    from testflow.dsl.models import (
        ActionStep,
        CallStep,
        GroupStep,
        ParallelStep,
        PollStep,
        Step,
        StepBase,
    )
    from testflow.dsl.results import (
        ArtifactRef,
        RunResult,
        RunStatus,
        StepError,
        StepOutcome,
        StepRecord,
        StepStatus,
    )
    from testflow.dsl.templating import Renderer, TemplateError, TemplateRuntime
    from testflow.workflows.options import step_options
    from testflow.workflows.records import (
        STORE_RECORDS,
        STORE_RECORDS_PATCH,
        outcome,
        outcome_from_error,
        parent_of,
        record_from_outcome,
        step_record,
    )
    from testflow.workflows.search import STATUS
    from testflow.workflows.state import RunState, activity_context
    from testflow.workflows.types import (
        CarriedState,
        FlowInput,
        KindOptions,
        PollSpec,
        ProgressPage,
        RecordsPage,
        ResumeFrom,
        StepInput,
        WebhookConfig,
        WebhookDelivery,
    )
    from testflow.workflows.webhooks import WebhookInbox

_SKIP_AFTER_FAILURE = "an earlier step failed"


@workflow.defn(name="FlowWorkflow")
class FlowWorkflow:
    @workflow.init
    def __init__(self, input: FlowInput) -> None:
        self.input = input
        # The workflow id is the run id; a Temporal Schedule appends a timestamp to the id it
        # was given, so the id in the input may be only the base of it.
        self.run_id = workflow.info().workflow_id
        self.flow = input.flow
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

    @workflow.signal
    def webhook(self, delivery: WebhookDelivery) -> None:
        """An inbound call to one of the run's webhook URLs (sent by the receiver)."""
        self.inbox.add(delivery)

    @workflow.query
    def webhook_config(self, name: str) -> WebhookConfig:
        return self.inbox.config(name)

    # -- queries --------------------------------------------------------------------------
    @workflow.query
    def progress(self, since: int = 0) -> ProgressPage:
        """Events after ``since`` (a page of them) and whether the run is over."""
        events = self.state.events_since(since, self.input.options.progress_page)
        done = self.state.finished and (not events or events[-1].seq == self.state.seq)
        return ProgressPage(events=events, done=done, status=self.state.status)

    # -- run ------------------------------------------------------------------------------
    @workflow.run
    async def run(self, input: FlowInput) -> RunResult:
        error: StepError | None = None
        start_index = input.carried.next_index if input.carried else 0
        if input.carried is not None:
            self._init_webhooks(self.state.context)
        else:
            try:
                self._init_context()
            except TemplateError as exc:
                error = StepError(type="TemplateError", message=f"context: {exc}")
                self.state.failed = True
            if error is None and input.resume is not None:
                error = self._resume_problem(input.resume)
                self.state.failed = error is not None
            self.state.run_started()
        try:
            if (
                error is None
                and start_index == 0
                and not await self._run_list(self.flow.setup, "setup", "")
            ):
                self.state.failed = True
            if not self.state.failed:
                await self._run_main(start_index)
            else:
                for step in self.flow.steps:
                    reason = "setup failed" if error is None else "the run could not start"
                    self._skip(step, "steps", reason)
        except asyncio.CancelledError:
            self.state.cancelled = True
        # Teardown always runs: on success, failure and cancellation (a cancellation request
        # is delivered once, so activities scheduled after catching it run normally).
        await self._run_list(self.flow.teardown, "teardown", "", stop_on_failure=False)
        status: RunStatus = (
            "cancelled" if self.state.cancelled else ("failed" if self.state.failed else "passed")
        )
        self.state.run_finished(status)
        workflow.upsert_search_attributes([STATUS.value_set(status)])
        return self.state.result(
            flow_file=input.flow_file,
            tags=self.flow.tags,
            environment=input.environment,
            error=error,
        )

    def _init_context(self) -> None:
        ctx = self.state.context
        ctx["run"] = {
            "id": self.run_id,
            "flow": self.flow.name,
            "started_at": self.state.started_at.isoformat(),
            "environment": self.input.environment,
        }
        for name, value in self.flow.context.items():
            ctx[name] = self.renderer.render(value, ctx)
        for name, value in self.input.variables.items():
            ctx[name] = self.renderer.render(value, ctx)
        if self.input.resume is not None:
            # A re-run from a step continues the earlier run's data: its generated ids and
            # extracted values win over freshly rendered ones (secrets were left out of it and
            # were rendered again above, from the environment).
            ctx.update({k: v for k, v in self.input.resume.context.items() if k != "run"})
        self._init_webhooks(ctx)

    def _resume_problem(self, resume: ResumeFrom) -> StepError | None:
        """Why the run cannot start at ``resume.step_id`` (the API checks this first)."""
        ids = [s.id for s in self.flow.steps]
        if any(s.depends_on for s in self.flow.steps):
            message = "a flow that runs as a DAG (depends_on) cannot be re-run from a step"
        elif resume.step_id not in ids:
            message = f"cannot re-run from {resume.step_id!r}: it is not a top-level step"
        else:
            return None
        return StepError(type="InvalidConfig", message=message)

    def _resume_index(self) -> int:
        resume = self.input.resume
        if resume is None:
            return 0
        return next(i for i, s in enumerate(self.flow.steps) if s.id == resume.step_id)

    def _reuse(self, step: Step, resume: ResumeFrom) -> None:
        """A step a re-run does not execute: its values come from the earlier run."""
        reason = f"reused from run {resume.run_id}"
        record = self._record(step, "steps", step.id, None, "skipped", None, skip_reason=reason)
        # What it extracted and set then, so reports, the context debugger and a re-run of
        # this run see where the values came from.
        output = self.state.step_outputs().get(step.id)
        extracted = {k: v for k, v in output.items() if k != "status"} if output else {}
        changes = resume.changes.get(step.id, {})
        if extracted or changes:
            update = {"extracted": self.state.masked(extracted), "context_changes": changes}
            record = record.model_copy(update=update)
        self.state.finish(record)

    def _init_webhooks(self, ctx: dict[str, Any]) -> None:
        self.inbox.declare(self.flow, ctx, self.renderer, self.input.webhook_base)

    async def _run_main(self, start_index: int) -> None:
        steps = self.flow.steps
        if any(s.depends_on for s in steps):
            if not await self._run_dag(steps, "steps", ""):
                self.state.failed = True
            return
        resume_at = self._resume_index()
        for index in range(start_index, len(steps)):
            step = steps[index]
            if index < resume_at and self.input.resume is not None:
                self._reuse(step, self.input.resume)
                continue
            if self.state.failed:
                self._skip(step, "steps", _SKIP_AFTER_FAILURE)
                await self._store_records()
                continue
            if not await self._run_step(step, "steps", "", {}):
                self.state.failed = True
            await self._store_records()
            if index + 1 < len(steps) and workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    self.input.model_copy(
                        update={
                            "carried": CarriedState(
                                next_index=index + 1,
                                context=self.state.context,
                                records=self.state.records,
                                event_seq=self.state.seq,
                                started_at=self.state.started_at,
                                failed=self.state.failed,
                                webhooks=self.inbox.deliveries,
                                webhook_nonce=self.inbox.nonce,
                                **({"stored": self.state.stored} if self.state.stored else {}),
                            )
                        }
                    )
                )

    async def _store_records(self) -> None:
        """Move the records so far to the artifact store once there is a page of them.

        The run then carries (across continue-as-new) and returns only their refs and the
        records since: its result and carried state stay small whatever the step count.
        """
        page_size = self.input.options.records_page
        if len(self.state.records) < page_size or not workflow.patched(STORE_RECORDS_PATCH):
            return
        page = RecordsPage(
            run_id=self.run_id, index=len(self.state.stored), records=self.state.records
        )
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
        self.state.records_stored(ref)

    # -- structure ------------------------------------------------------------------------
    async def _run_list(
        self,
        steps: list[Step],
        phase: str,
        prefix: str,
        scope: dict[str, Any] | None = None,
        *,
        stop_on_failure: bool = True,
        concurrent: bool = False,
    ) -> bool:
        scope = scope or {}
        if any(s.depends_on for s in steps):
            return await self._run_dag(steps, phase, prefix, scope)
        ok = True
        for step in steps:
            if not ok and stop_on_failure:
                self._skip(step, phase, _SKIP_AFTER_FAILURE, prefix)
                continue
            ok = await self._run_step(step, phase, prefix, scope, concurrent) and ok
        return ok

    async def _run_dag(
        self, steps: list[Step], phase: str, prefix: str, scope: dict[str, Any] | None = None
    ) -> bool:
        scope = scope or {}
        tasks: dict[str, asyncio.Task[bool]] = {}

        async def run_one(step: Step) -> bool:
            for dep in step.depends_on:
                if not await tasks[dep]:
                    self._skip(step, phase, f"dependency {dep!r} did not pass", prefix)
                    return False
            return await self._run_step(step, phase, prefix, scope, True)

        for step in steps:
            tasks[step.id] = asyncio.create_task(run_one(step))
        results = await asyncio.gather(*tasks.values())
        return all(results)

    async def _run_step(
        self, step: Step, phase: str, prefix: str, scope: dict[str, Any], concurrent: bool = False
    ) -> bool:
        """Apply ``when`` and ``for_each``, then run the step once or per item."""
        key = prefix + step.id
        ctx = {**self.state.context, **scope}
        if step.when is not None:
            try:
                run_it = bool(self.renderer.evaluate(step.when, ctx))
            except TemplateError as exc:
                return self._fail_before_start(step, phase, key, None, exc)
            if not run_it:
                self._skip(step, phase, f"when: {step.when!r} was false", prefix)
                return True
        if step.for_each is None:
            return await self._run_once(step, phase, key, scope, None, concurrent)
        try:
            items = self.renderer.render(step.for_each, ctx)
        except TemplateError as exc:
            return self._fail_before_start(step, phase, key, None, exc)
        if not isinstance(items, list | tuple):
            exc2 = TemplateError(f"for_each must give a list, got {type(items).__name__}")
            return self._fail_before_start(step, phase, key, None, exc2)
        ok = True
        for index, item in enumerate(items):
            loop = {"index": index, "first": index == 0, "last": index == len(items) - 1}
            item_scope = {**scope, step.as_: item, "loop": loop}
            passed = await self._run_once(
                step, phase, f"{key}[{index}]", item_scope, index, concurrent
            )
            if not passed and not step.continue_on_error:
                ok = False
                break
        return ok

    async def _run_once(
        self,
        step: Step,
        phase: str,
        key: str,
        scope: dict[str, Any],
        iteration: int | None,
        concurrent: bool = False,
    ) -> bool:
        if isinstance(step, ParallelStep):
            return await self._container(
                step, phase, key, iteration, self._parallel(step, phase, key, scope)
            )
        if isinstance(step, GroupStep):
            body = self._run_list(step.steps, phase, key + ".", scope, concurrent=concurrent)
            return await self._container(step, phase, key, iteration, body)
        if isinstance(step, CallStep):
            return await self._call(step, phase, key, scope, iteration)
        if isinstance(step, PollStep):
            inner = step.step
            if not isinstance(inner, ActionStep):
                exc = TemplateError(
                    "poll repeats one action step (http, a query...), not a control step"
                )
                return self._fail_before_start(step, phase, key, iteration, exc)
            poll = PollSpec(every=step.every, within=step.within)
            return await self._action(
                inner, phase, key, scope, iteration, poll=poll, shown=step, concurrent=concurrent
            )
        hooks = self.flow.hooks
        if (
            phase == "steps"
            and hooks
            and hooks.before_step
            and not await self._run_list(
                hooks.before_step, "hooks", f"{key}@before.", concurrent=concurrent
            )
        ):
            self.state.finish(
                self._record(
                    step,
                    phase,
                    key,
                    iteration,
                    "skipped",
                    None,
                    skip_reason="a before_step hook failed",
                )
            )
            return False
        ok = await self._action(step, phase, key, scope, iteration, concurrent=concurrent)
        if phase == "steps" and self.flow.hooks and self.flow.hooks.after_step:
            after = self.flow.hooks.after_step
            ok = await self._run_list(after, "hooks", f"{key}@after.", concurrent=concurrent) and ok
        return ok

    async def _container(
        self, step: StepBase, phase: str, key: str, iteration: int | None, body: Any
    ) -> bool:
        started = workflow.now()
        self.state.step_started(self._record(step, phase, key, iteration, "passed", started))
        try:
            ok = bool(await body)
        except asyncio.CancelledError:
            self.state.finish(self._record(step, phase, key, iteration, "cancelled", started))
            raise
        status: StepStatus = "passed" if ok else "failed"
        self.state.finish(self._record(step, phase, key, iteration, status, started))
        return ok or step.continue_on_error

    async def _parallel(
        self, step: ParallelStep, phase: str, key: str, scope: dict[str, Any]
    ) -> bool:
        tasks = [
            asyncio.create_task(
                self._run_list(
                    branch.steps,
                    phase,
                    f"{key}.{branch.name or f'branch{i}'}.",
                    scope,
                    concurrent=True,
                )
            )
            for i, branch in enumerate(step.branches)
        ]
        if not step.fail_fast:
            return all(await asyncio.gather(*tasks))
        pending: set[asyncio.Task[bool]] = set(tasks)
        while pending:
            done, still = await workflow.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            pending = set(still)
            if any(not t.result() for t in done):
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                return False
        return True

    async def _call(
        self, step: CallStep, phase: str, key: str, scope: dict[str, Any], iteration: int | None
    ) -> bool:
        started = workflow.now()
        if step.resolved is None:
            exc = TemplateError(f"sub-flow {step.flow!r} was not resolved by the loader")
            return self._fail_before_start(step, phase, key, iteration, exc)
        try:
            inputs = self.renderer.render(step.inputs, {**self.state.context, **scope})
        except TemplateError as exc:
            return self._fail_before_start(step, phase, key, iteration, exc)
        self.state.step_started(self._record(step, phase, key, iteration, "passed", started))
        child = self.input.model_copy(
            update={
                "run_id": f"{self.run_id}.{key}",
                "flow": step.resolved,
                "variables": inputs,
                "carried": None,
                "parent_run_id": self.run_id,
                # Only when set: an unchanged child input keeps old histories replaying.
                **({"resume": None} if self.input.resume is not None else {}),
            }
        )
        error: StepError | None = None
        outputs: dict[str, Any] = {}
        try:
            result: RunResult = await workflow.execute_child_workflow(
                FlowWorkflow.run, child, id=child.run_id
            )
            if result.status != "passed":
                bad = next((r for r in result.steps if r.status in ("failed", "error")), None)
                reason = (
                    f"{bad.step_id}: {bad.error.message if bad.error else bad.status}"
                    if bad
                    else result.status
                )
                error = StepError(
                    type="StepFailed", message=f"sub-flow {step.flow} {result.status} ({reason})"
                )
            for name, var in step.outputs.items():
                if var not in result.context:
                    error = error or StepError(
                        type="StepFailed", message=f"sub-flow has no variable {var!r}"
                    )
                else:
                    outputs[name] = result.context[var]
        except ChildWorkflowError as exc:
            error = StepError(
                type="StepFailed", message=f"sub-flow {step.flow} failed: {exc.cause or exc}"
            )
        changes = self.state.merge_extracted(outputs)
        status: StepStatus = (
            "passed" if error is None else ("failed" if error.type == "StepFailed" else "error")
        )
        self.state.note_step_output(step.id, status, outputs)
        record = self._record(step, phase, key, iteration, status, started, error=error)
        self.state.finish(
            record.model_copy(
                update={"extracted": self.state.masked(outputs), "context_changes": changes}
            )
        )
        return status == "passed" or step.continue_on_error

    # -- actions --------------------------------------------------------------------------
    async def _action(
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
        display = shown or step
        kind = self.input.kinds.get(step.type)
        started = workflow.now()
        ctx = {**self.state.context, **scope}
        if kind is None:
            exc = TemplateError(f"unknown step type {step.type!r} (no worker kind registered)")
            return self._fail_before_start(display, phase, key, iteration, exc)
        try:
            config = self.renderer.render(step.config, ctx)
            assertions = {
                name: (value if name == "that" else self.renderer.render(value, ctx))
                for name, value in step.assert_.items()
            }
        except TemplateError as exc:
            return self._fail_before_start(display, phase, key, iteration, exc)
        self.state.step_started(self._record(display, phase, key, iteration, "passed", started))
        try:
            outcome = await self._execute(
                step, kind, key, config, assertions, ctx, poll, concurrent, started
            )
        except asyncio.CancelledError:
            self.state.finish(self._record(display, phase, key, iteration, "cancelled", started))
            raise
        changes = (
            self.state.merge_extracted(outcome.extracted) if outcome.status == "passed" else {}
        )
        self.state.note_step_output(step.id, outcome.status, outcome.extracted)
        record = record_from_outcome(
            key=key,
            step_id=display.id,
            kind=display.type,
            phase=phase,
            parent=parent_of(key),
            iteration=iteration,
            description=display.description,
            outcome=outcome,
            context_changes=changes,
        )
        self.state.finish(record, outcome.preview)
        return outcome.status == "passed" or display.continue_on_error

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
        started: Any,
    ) -> StepOutcome:
        """Run one action step: a durable timer for ``delay``, else its activity."""
        if kind.mode == "workflow":
            return await self._workflow_kind(step, config, assertions, ctx, started)
        within = poll.within if poll else None
        options = step_options(step, self.flow.defaults, kind, poll_within=within)
        step_input = StepInput(
            run_id=self.run_id,
            flow_name=self.flow.name,
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
            connections=self.input.connections,
            secret_values=self.state.secrets,
            env=self.input.env,
            timeout=options.timeout,
            poll=poll,
            retry_on_assertion=options.retry.retry_on_assertion,
            # Only when set: the activity input of a run without a file root stays as it was.
            **({"file_root": root} if (root := self.input.options.file_root) else {}),
        )
        summary = f"{step.type} {step.id}"
        outcome: StepOutcome
        try:
            # Local activities racing timers in concurrent branches break replay (a known
            # SDK-core limitation with timers cancelled in the same task as a local
            # activity's marker), so concurrent regions use regular activities. A flow with
            # webhooks uses them too: a local activity keeps the workflow task open, and the
            # receiver's query (to check a delivery) would wait for it, so a partner calling
            # back while our request to it is in flight would be held for seconds.
            if options.local and not concurrent and not self.inbox.specs:
                # No summary here: the SDK converts it as one more payload, through the
                # sandbox, several times per step; that was ~10% of a quick step's time
                # (bench/steps.py). The step's record names it anyway.
                outcome = await workflow.execute_local_activity(
                    kind.activity,
                    step_input,
                    start_to_close_timeout=options.start_to_close,
                    retry_policy=options.retry_policy,
                    result_type=StepOutcome,
                )
            else:
                outcome = await workflow.execute_activity(
                    kind.activity,
                    step_input,
                    start_to_close_timeout=options.start_to_close,
                    heartbeat_timeout=self.input.options.heartbeat_timeout,
                    retry_policy=options.retry_policy,
                    result_type=StepOutcome,
                    summary=summary,
                )
        except (ActivityError, ApplicationError) as exc:
            # Local activity failures may surface as the ApplicationError itself.
            outcome = outcome_from_error(exc, started, workflow.now(), options.timeout)
        return outcome

    async def _workflow_kind(
        self,
        step: ActionStep,
        config: dict[str, Any],
        assertions: dict[str, Any],
        ctx: dict[str, Any],
        started: Any,
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
        started: Any,
    ) -> StepOutcome:
        try:
            await workflow.wait_condition(
                lambda: len(self.inbox.matching(cfg)) >= cfg.count, timeout=cfg.within
            )
        except builtins.TimeoutError:
            return outcome(started, workflow.now(), "error", error=self.inbox.timed_out(cfg))
        return self.inbox.take(
            step, cfg, assertions, ctx, self.renderer, started, workflow.now(), self.state.masked
        )

    def _record(
        self,
        step: StepBase,
        phase: str,
        key: str,
        iteration: int | None,
        status: StepStatus,
        started: Any,
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

    def _skip(self, step: Step, phase: str, reason: str, prefix: str = "") -> None:
        self.state.finish(
            self._record(step, phase, prefix + step.id, None, "skipped", None, skip_reason=reason)
        )

    def _fail_before_start(
        self, step: StepBase, phase: str, key: str, iteration: int | None, exc: TemplateError
    ) -> bool:
        error = StepError(type="TemplateError", message=f"{key}: {exc}")
        self.state.finish(
            self._record(step, phase, key, iteration, "error", workflow.now(), error=error)
        )
        return step.continue_on_error
