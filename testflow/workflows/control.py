"""Control flow of a run: step lists, ``depends_on`` DAGs, ``when``, ``for_each``, ``parallel``,
``group``, ``call`` (a child FlowWorkflow), ``poll`` and the before/after-step hooks.

Passed through the workflow sandbox (runtime/worker.py): no module-level state; everything a
run changes lives in its ``RunContext``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

from testflow.dsl.models import (
    ActionStep,
    CallStep,
    GroupStep,
    ParallelStep,
    PollStep,
    Step,
    StepBase,
)
from testflow.dsl.results import RunResult, StepError, StepStatus
from testflow.dsl.templating import TemplateError
from testflow.workflows.actions import ActionRunner
from testflow.workflows.context import SKIP_AFTER_FAILURE, RunContext
from testflow.workflows.types import FlowInput, PollSpec

ChildRun = Callable[[Any, FlowInput], Awaitable[RunResult]]
"""``FlowWorkflow.run``: what a ``call`` step starts as a child workflow."""


class ControlFlow:
    """Walks a run's steps: everything but the execution of one action step (ActionRunner)."""

    def __init__(self, run: RunContext, child_run: ChildRun) -> None:
        self.run = run
        self.actions = ActionRunner(run)
        self.child_run = child_run

    async def run_list(
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
            return await self.run_dag(steps, phase, prefix, scope)
        ok = True
        for step in steps:
            if not ok and stop_on_failure:
                self.run.skip(step, phase, SKIP_AFTER_FAILURE, prefix)
                continue
            ok = await self.run_step(step, phase, prefix, scope, concurrent) and ok
        return ok

    async def run_dag(
        self, steps: list[Step], phase: str, prefix: str, scope: dict[str, Any] | None = None
    ) -> bool:
        scope = scope or {}
        tasks: dict[str, asyncio.Task[bool]] = {}

        async def run_one(step: Step) -> bool:
            for dep in step.depends_on:
                if not await tasks[dep]:
                    self.run.skip(step, phase, f"dependency {dep!r} did not pass", prefix)
                    return False
            return await self.run_step(step, phase, prefix, scope, True)

        for step in steps:
            tasks[step.id] = asyncio.create_task(run_one(step))
        results = await asyncio.gather(*tasks.values())
        return all(results)

    async def run_step(
        self, step: Step, phase: str, prefix: str, scope: dict[str, Any], concurrent: bool = False
    ) -> bool:
        """Apply ``when`` and ``for_each``, then run the step once or per item."""
        run = self.run
        key = prefix + step.id
        ctx = {**run.state.context, **scope}
        if step.when is not None:
            try:
                run_it = bool(run.renderer.evaluate(step.when, ctx))
            except TemplateError as exc:
                return run.fail_before_start(step, phase, key, None, exc)
            if not run_it:
                run.skip(step, phase, f"when: {step.when!r} was false", prefix)
                return True
        if step.for_each is None:
            return await self._run_once(step, phase, key, scope, None, concurrent)
        try:
            items = run.renderer.render(step.for_each, ctx)
        except TemplateError as exc:
            return run.fail_before_start(step, phase, key, None, exc)
        if not isinstance(items, list | tuple):
            exc2 = TemplateError(f"for_each must give a list, got {type(items).__name__}")
            return run.fail_before_start(step, phase, key, None, exc2)
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
        run = self.run
        if isinstance(step, ParallelStep):
            return await self._container(
                step, phase, key, iteration, self._parallel(step, phase, key, scope)
            )
        if isinstance(step, GroupStep):
            body = self.run_list(step.steps, phase, key + ".", scope, concurrent=concurrent)
            return await self._container(step, phase, key, iteration, body)
        if isinstance(step, CallStep):
            return await self._call(step, phase, key, scope, iteration)
        if isinstance(step, PollStep):
            inner = step.step
            if not isinstance(inner, ActionStep):
                exc = TemplateError(
                    "poll repeats one action step (http, a query...), not a control step"
                )
                return run.fail_before_start(step, phase, key, iteration, exc)
            poll = PollSpec(every=step.every, within=step.within)
            return await self.actions.action(
                inner, phase, key, scope, iteration, poll=poll, shown=step, concurrent=concurrent
            )
        hooks = run.flow.hooks
        if (
            phase == "steps"
            and hooks
            and hooks.before_step
            and not await self.run_list(
                hooks.before_step, "hooks", f"{key}@before.", concurrent=concurrent
            )
        ):
            run.state.finish(
                run.record(
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
        ok = await self.actions.action(step, phase, key, scope, iteration, concurrent=concurrent)
        if phase == "steps" and run.flow.hooks and run.flow.hooks.after_step:
            after = run.flow.hooks.after_step
            ok = await self.run_list(after, "hooks", f"{key}@after.", concurrent=concurrent) and ok
        return ok

    async def _container(
        self,
        step: StepBase,
        phase: str,
        key: str,
        iteration: int | None,
        body: Awaitable[bool],
    ) -> bool:
        run = self.run
        started = workflow.now()
        run.state.step_started(run.record(step, phase, key, iteration, "passed", started))
        try:
            ok = bool(await body)
        except asyncio.CancelledError:
            run.state.finish(run.record(step, phase, key, iteration, "cancelled", started))
            raise
        status: StepStatus = "passed" if ok else "failed"
        run.state.finish(run.record(step, phase, key, iteration, status, started))
        return ok or step.continue_on_error

    async def _parallel(
        self, step: ParallelStep, phase: str, key: str, scope: dict[str, Any]
    ) -> bool:
        tasks = [
            asyncio.create_task(
                self.run_list(
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
        # Lists, not sets: workflow.wait keeps the order, and the cancel commands below must come
        # out in the same order on replay (a set iterates in memory-address order).
        pending: list[asyncio.Task[bool]] = list(tasks)
        while pending:
            done, pending = await workflow.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if any(not t.result() for t in done):
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                return False
        return True

    async def _call(
        self, step: CallStep, phase: str, key: str, scope: dict[str, Any], iteration: int | None
    ) -> bool:
        run, state = self.run, self.run.state
        started = workflow.now()
        if step.resolved is None:
            exc = TemplateError(f"sub-flow {step.flow!r} was not resolved by the loader")
            return run.fail_before_start(step, phase, key, iteration, exc)
        try:
            inputs = run.renderer.render(step.inputs, {**state.context, **scope})
        except TemplateError as exc:
            return run.fail_before_start(step, phase, key, iteration, exc)
        state.step_started(run.record(step, phase, key, iteration, "passed", started))
        child = run.input.model_copy(
            update={
                "run_id": f"{run.run_id}.{key}",
                "flow": step.resolved,
                "variables": inputs,
                "carried": None,
                "parent_run_id": run.run_id,
                # Only when set: an unchanged child input keeps old histories replaying.
                **({"resume": None} if run.input.resume is not None else {}),
            }
        )
        error: StepError | None = None
        outputs: dict[str, Any] = {}
        try:
            result: RunResult = await workflow.execute_child_workflow(
                self.child_run, child, id=child.run_id
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
        changes = state.merge_extracted(outputs)
        status: StepStatus = (
            "passed" if error is None else ("failed" if error.type == "StepFailed" else "error")
        )
        state.note_step_output(step.id, status, outputs)
        record = run.record(step, phase, key, iteration, status, started, error=error)
        state.finish(
            record.model_copy(
                update={"extracted": state.masked(outputs), "context_changes": changes}
            )
        )
        return status == "passed" or step.continue_on_error
