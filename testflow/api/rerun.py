"""Re-running a run from a failed step: which step, and what the earlier run had before it.

The context to seed comes from the earlier run's stored result, the way the UI's context
debugger rebuilds "the context after every step": the final context, where a variable that the
step itself, a later step or the teardown changed is taken back to the value an earlier step
set (``StepRecord.context_changes`` folded in order), or dropped when no earlier step set it
(the new run renders the flow's ``context`` and the run's variables again).

Recorded values are masked: a value shown as ``***`` is never fed back into a run. A masked
variable of the flow's ``context`` or of the run's variables is rendered again, secrets from
the environment; a masked value an earlier step extracted cannot be recovered, so such a
re-run is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from testflow.api.db.models import RunRow
from testflow.api.deps import AppState
from testflow.api.errors import Conflict
from testflow.api.flowcache import default_filename
from testflow.api.launcher import load_environment
from testflow.dsl.masking import MASK
from testflow.dsl.models import Flow, PollStep, Step, iter_steps
from testflow.dsl.results import RunResult, StepRecord
from testflow.runtime.run_results import StoredStepsMissing, full_result
from testflow.workflows.types import ResumeFrom

# Names the interpreter sets itself for every run: never carried from an earlier one.
RUNTIME_KEYS = frozenset({"run", "env", "webhooks", "steps"})
CONTAINER_KINDS = frozenset({"group", "parallel"})
FAILED = frozenset({"failed", "error"})
REUSED = "reused from run "
"""How the interpreter words the skip reason of a step a re-run did not execute."""


class RerunRefused(Exception):
    """The run cannot be re-run from that step (answered 409 with the message)."""


def top_of(key: str) -> str:
    """``grp.inner`` / ``loop[2]`` / ``create@before.hook`` -> the top-level step id."""
    return re.split(r"[.\[@]", key, maxsplit=1)[0]


def _has_mask(value: Any) -> bool:
    if isinstance(value, str):
        return MASK in value
    if isinstance(value, dict):
        return any(_has_mask(k) or _has_mask(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_mask(v) for v in value)
    return False


def _describe(step: Step) -> str:
    kind = f"the {step.type} step" if step.type in ("group", "parallel", "poll") else "the step"
    return f"{kind} {step.id!r}" + (" (a for_each loop)" if step.for_each is not None else "")


def check_step(flow: Flow, run_id: str, step_id: str) -> None:
    """Refuse a step that is not a top-level step of a sequential flow (RerunRefused)."""
    tops = [s.id for s in flow.steps]
    choose = ", ".join(tops)
    if any(s.depends_on for s in flow.steps):
        raise RerunRefused(
            f"the flow of run {run_id!r} runs as a DAG (depends_on): its steps run by their "
            "dependencies, not one after the other, so it cannot be re-run from a step; re-run "
            "the whole flow (omit from_step)"
        )
    if step_id in tops:
        return
    for top in flow.steps:
        if any(s.id == step_id for s in iter_steps([top])[1:]):
            raise RerunRefused(
                f"step {step_id!r} is nested inside {_describe(top)}; a re-run starts at a "
                f"top-level step: re-run from {top.id!r}"
            )
    hooks = (flow.hooks.before_step + flow.hooks.after_step) if flow.hooks else []
    for phase, steps in (("setup", flow.setup), ("teardown", flow.teardown), ("hook", hooks)):
        if any(s.id == step_id for s in iter_steps(steps)):
            raise RerunRefused(
                f"step {step_id!r} is a {phase} step, which runs again on every re-run; "
                f"re-run from a top-level step ({choose}) or the whole flow"
            )
    raise RerunRefused(f"run {run_id!r} has no step {step_id!r}; its top-level steps: {choose}")


def check_failed(result: RunResult, step_id: str) -> None:
    """Refuse a step whose top-level record did not fail (RerunRefused)."""
    mine = [r for r in result.steps if r.phase == "steps" and r.step_id == step_id and not r.parent]
    if any(r.status in FAILED for r in mine):
        return
    failed = [
        r.step_id
        for r in result.steps
        if r.phase == "steps" and not r.parent and r.status in FAILED
    ]
    status = mine[-1].status if mine else "not run"
    hint = (
        f"re-run from the step that failed ({', '.join(dict.fromkeys(failed))})"
        if failed
        else "re-run the whole flow (omit from_step)"
    )
    raise RerunRefused(
        f"step {step_id!r} did not fail in run {result.run_id!r} (it {status_phrase(status)}); "
        + hint
    )


def status_phrase(status: str) -> str:
    return {"passed": "passed", "skipped": "was skipped", "cancelled": "was cancelled"}.get(
        status, status
    )


def resume_from(
    flow: Flow, result: RunResult, step_id: str, overrides: Iterable[str] = ()
) -> ResumeFrom:
    """The resume input of a re-run of ``result`` from ``step_id`` (checked: RerunRefused).

    ``overrides`` are variables the re-run sets anew: the earlier values of those are not
    seeded, so the new ones win.
    """
    check_step(flow, result.run_id, step_id)
    check_failed(result, step_id)
    tops = [s.id for s in flow.steps]
    before = set(tops[: tops.index(step_id)])
    by_id = {s.id: s for s in iter_steps(flow.steps)}
    earlier: dict[str, Any] = {}  # what the reused steps set, folded in order
    per_step: dict[str, dict[str, Any]] = {}
    later: set[str] = set()  # what the step itself, later steps and the teardown changed
    outputs: dict[str, Any] = {}  # the `steps.<id>` map the reused steps filled
    for record in result.steps:
        top = top_of(record.key)
        if record.phase in ("steps", "hooks") and top in before:
            earlier.update(record.context_changes)
            per_step.setdefault(top, {}).update(record.context_changes)
            _note_output(outputs, record, by_id.get(record.step_id))
        elif record.phase != "setup":
            later.update(record.context_changes)
    seed = {k: v for k, v in result.context.items() if k not in later}
    seed.update(earlier)
    skip = RUNTIME_KEYS | set(overrides)
    context: dict[str, Any] = {}
    for name, value in seed.items():
        if name in skip:
            continue
        if _has_mask(value):
            if name in earlier:
                setter = next(s for s, changes in per_step.items() if name in changes)
                raise RerunRefused(
                    f"step {setter!r} of run {result.run_id!r} set {name!r} to a value that is "
                    "masked in the run's record (it holds a secret), so a re-run cannot reuse "
                    f"it; re-run from {setter!r} or the whole flow"
                )
            continue  # the flow's context or a run variable: rendered again, from the secrets
        context[name] = value
    if outputs:
        context["steps"] = {k: v for k, v in outputs.items() if not _has_mask(v)}
    return ResumeFrom(
        run_id=result.run_id,
        step_id=step_id,
        context=context,
        changes={k: v for k, v in per_step.items() if v},
    )


def _note_output(outputs: dict[str, Any], record: StepRecord, step: Step | None) -> None:
    """``steps.<id>``, as the interpreter fills it: action and call steps that ran."""
    if record.kind in CONTAINER_KINDS:
        return
    status = record.status
    if status == "skipped":
        if not (record.skip_reason or "").startswith(REUSED):
            return
        status = "passed"  # reused by a re-run: it passed (or went on) in the run before
    # A poll's record carries the poll's id; the interpreter files the inner step's output.
    step_id = step.step.id if isinstance(step, PollStep) else record.step_id
    outputs[step_id] = {"status": status, **record.extracted}


# -- the server's side: the earlier run from the index (or Temporal), 409 when refused ---------


async def known_to_temporal(state: AppState, run_id: str) -> bool:
    try:
        await state.client.get_workflow_handle(run_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def earlier_result(state: AppState, row: RunRow) -> RunResult:
    """The earlier run's stored result; from Temporal when the index has not stored it yet
    (the tracker learns of a run's end a moment after Temporal does), with every step record
    as the tracker would store it."""
    if row.result is not None:
        return RunResult.model_validate(row.result)
    handle = state.client.get_workflow_handle(row.run_id, result_type=RunResult)
    try:
        status = (await handle.describe()).status
        if status == WorkflowExecutionStatus.RUNNING:
            raise Conflict(
                f"run {row.run_id!r} is still running; re-run from a step once it has failed"
            )
        if status == WorkflowExecutionStatus.COMPLETED:
            # With the records a long run moved to the artifact store (run_results.py): the
            # step to re-run from and the steps before it may be in those pages.
            return await full_result(handle)
    except StoredStepsMissing as exc:
        raise Conflict(f"the context of run {row.run_id!r} is not available: {exc}") from None
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    raise Conflict(
        f"the context of run {row.run_id!r} is not available: it ended ({row.status}) without "
        "a recorded result (terminated, or gone from Temporal); re-run the whole flow "
        "(omit from_step)"
    )


async def plan_resume(
    state: AppState,
    session: AsyncSession,
    row: RunRow,
    step_id: str,
    variables: dict[str, Any],
    overrides: Iterable[str],
) -> ResumeFrom:
    """Where the re-run of ``row`` starts and the context it starts with (409 if refused)."""
    result = await earlier_result(state, row)
    # Parsed as start_run will parse it (the same cache key), so the start reuses this parse.
    bundle = await load_environment(state, session, row.environment)
    env = bundle.environment
    known = set(variables) | (set(env.variables) if env else set())
    text = row.text or ""
    loaded = state.flows.parse(
        state.registry, state.library_dir, text, default_filename(text), known
    )
    try:
        return resume_from(loaded.flow, result, step_id, overrides=overrides)
    except RerunRefused as exc:
        raise Conflict(str(exc)) from None
