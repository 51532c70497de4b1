"""The generic step activity: one per step kind, all built from the same loop.

For each kind with an executor the worker registers an activity named ``testflow.<kind>``.
It validates the rendered config with the kind's input model, calls the executor, runs
extraction and assertions against the full output (ARCHITECTURE.md section 2), masks secrets,
writes the step's full detail to the artifact store, and returns a small
:class:`StepOutcome`. A failure is raised as an ``ApplicationError`` carrying the outcome, so
Temporal retries per the step's policy and the workflow still gets the full story.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import random
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from testflow.activities.base import Executor, Output, StepContext, StepFailure
from testflow.dsl import assertions as assertion_engine
from testflow.dsl.masking import mask
from testflow.dsl.registry import StepKind, StepRegistry
from testflow.dsl.results import AssertionOutcome, AttemptRecord, StepError, StepOutcome
from testflow.dsl.templating import Renderer, TemplateError, TemplateRuntime
from testflow.runtime.artifacts import ArtifactStore, flush_writes
from testflow.runtime.metrics import record_step
from testflow.workflows.types import StepInput

log = logging.getLogger(__name__)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
_RENDERERS = 64


def load_executor(kind: StepKind) -> Executor:
    """Import ``module:function`` of a kind's executor."""
    assert kind.executor is not None
    module_name, _, func_name = kind.executor.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, func_name)  # type: ignore[no-any-return]


def _preview(value: Any, limit: int) -> Any:
    """A JSON-able excerpt of at most ``limit`` bytes."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) <= limit:
        return value
    return text[:limit] + f"... [{len(text) - limit} more bytes in the step detail]"


class StepRunner:
    """Runs steps of every kind; holds what a worker process shares (store, limits)."""

    def __init__(
        self, registry: StepRegistry, store: ArtifactStore, *, preview_bytes: int = 4096
    ) -> None:
        self.registry = registry
        self.store = store
        self.preview_bytes = preview_bytes
        self.worker_id = WORKER_ID
        self._executors: dict[str, Executor] = {}
        self._renderers: OrderedDict[tuple[tuple[str, str], ...], Renderer] = OrderedDict()

    def _renderer(self, env: dict[str, str]) -> Renderer:
        """A renderer per environment snapshot, reused across steps: building one (a seeded
        random source, the fake-data providers) cost more than a quick step's assertions."""
        key = tuple(sorted(env.items()))
        renderer = self._renderers.get(key)
        if renderer is None:
            runtime = TemplateRuntime(
                rng=random.Random(), clock=lambda: datetime.now(UTC), uuid4=uuid.uuid4, env=env
            )
            renderer = self._renderers[key] = Renderer(runtime)
            while len(self._renderers) > _RENDERERS:
                self._renderers.popitem(last=False)
        else:
            self._renderers.move_to_end(key)
        return renderer

    def activities(self) -> list[Callable[..., Any]]:
        """One activity function per kind that has an executor."""
        return [self._activity_for(kind) for kind in self.registry if kind.executor is not None]

    def executor_for(self, kind: StepKind) -> Executor:
        """The kind's executor, imported on first use: a worker starts fast and only loads
        the protocol clients its flows need (a missing optional driver fails the step)."""
        executor = self._executors.get(kind.name)
        if executor is None:
            try:
                executor = load_executor(kind)
            except ImportError as exc:
                executor = _missing_dependency(kind, exc)
            self._executors[kind.name] = executor
        return executor

    def _activity_for(self, kind: StepKind) -> Callable[..., Any]:
        async def run(step: StepInput) -> StepOutcome:
            return await self.run(kind, self.executor_for(kind), step)

        run.__name__ = f"step_{kind.name.replace('.', '_').replace('-', '_')}"
        return activity.defn(name=kind.activity_name)(run)

    # -- one step ---------------------------------------------------------------------------
    async def run(self, kind: StepKind, executor: Executor, step: StepInput) -> StepOutcome:
        info = activity.info()
        started = datetime.now(UTC)
        t0 = time.monotonic()
        deadline = t0 + step.timeout.total_seconds()
        ctx = StepContext(
            run_id=step.run_id,
            flow_name=step.flow_name,
            step_id=step.step_id,
            step_key=step.step_key,
            variables=step.context,
            step_outputs=step.context.get("steps", {})
            if isinstance(step.context.get("steps"), dict)
            else {},
            connections=step.connections,
            deadline=deadline,
            heartbeat_details=list(info.heartbeat_details) if not info.is_local else [],
            attempt=info.attempt,
            heartbeat_fn=None if info.is_local else activity.heartbeat,
            artifact_dir=str(self.store.root),
            secret_values=tuple(step.secret_values),
            kind=kind.name,
            file_root=step.file_root,
        )
        renderer = self._renderer(step.env)
        output = Output()
        outcomes: list[AssertionOutcome] = []
        extracted: dict[str, Any] = {}
        error: StepError | None = None
        tries = 0
        try:
            config = kind.parse_config(step.config)
            while True:
                tries += 1
                # asyncio.timeout, not wait_for: wait_for wraps the executor in a new task.
                async with asyncio.timeout(max(0.001, ctx.remaining()) + 0.5):
                    output = await executor(config, ctx)
                ctx.logs.extend(output.logs)
                outcomes = self._assert(step, output, renderer)
                if step.poll is None or all(o.passed for o in outcomes):
                    break
                wait = step.poll.every.total_seconds()
                if ctx.remaining() <= wait:
                    break
                if not info.is_local:
                    activity.heartbeat(tries)
                await asyncio.sleep(wait)
            if all(o.passed for o in outcomes):
                extracted = assertion_engine.extract(
                    step.extract,
                    document=output.document,
                    fields=output.fields,
                    renderer=renderer,
                    context=step.context,
                )
                extracted.update(output.variables)
            else:
                failed = [o for o in outcomes if not o.passed]
                what = "; ".join(f"{o.path}: {o.message}" for o in failed[:3])
                error = StepError(
                    type="AssertionFailed", message=f"{len(failed)} assertion(s) failed: {what}"
                )
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]
            )
            error = StepError(type="InvalidConfig", message=f"invalid {kind.name} step: {problems}")
        except StepFailure as exc:
            error = StepError(type=exc.type, message=exc.message, details=exc.details)
        except TimeoutError:
            error = StepError(
                type="Timeout", message=f"the step did not finish within {step.timeout}"
            )
        except TemplateError as exc:
            error = StepError(type="TemplateError", message=str(exc))
        except assertion_engine.ExtractionError as exc:
            error = StepError(type="AssertionFailed", message=f"extract: {exc}")
        except Exception as exc:  # an executor bug or an unexpected library error
            log.exception("step %s (%s) raised", step.step_key, kind.name)
            error = StepError(type="StepFailed", message=f"{type(exc).__name__}: {exc}")
        finished = datetime.now(UTC)
        # Executors add what they learn to be secret (OAuth2 tokens, auth-plugin headers).
        secrets = list(dict.fromkeys([*step.secret_values, *ctx.secret_values]))

        def masked(value: Any) -> Any:
            # Walking every response for nothing to hide cost more than the step's assertions.
            return mask(value, secrets) if secrets else value

        detail = await self.store.aput_json(
            step.run_id,
            f"{step.step_key}.json",
            masked(
                {
                    "step_key": step.step_key,
                    "kind": kind.name,
                    "attempt": info.attempt,
                    "request": output.request,
                    "response": output.response,
                    "fields": output.fields,
                    "logs": [line.model_dump(mode="json") for line in ctx.logs],
                }
            ),
        )
        if not info.is_local:
            # A regular activity's step may be followed by a worker crash; its detail must be
            # on disk before Temporal records the step (local steps write in the background).
            await asyncio.to_thread(flush_writes)
        attempt_errors = await self._attempt_errors(step, info.attempt, error, secrets)
        status = (
            "passed"
            if error is None
            else ("failed" if error.type == "AssertionFailed" else "error")
        )
        outcome = StepOutcome(
            status=status,
            started_at=started,
            finished_at=finished,
            duration_ms=(time.monotonic() - t0) * 1000,
            attempts=info.attempt if step.poll is None else tries,
            extracted=extracted,
            assertions=masked(outcomes),
            error=masked(error),
            summary=masked(output.summary or (error.message if error else "")),
            detail=detail,
            preview=masked(
                {"request": output.request, "response": output.response}
                # A detail within the limit holds request and response within it, unabridged.
                if detail.size <= self.preview_bytes
                else {
                    "request": _preview(output.request, self.preview_bytes),
                    "response": _preview(output.response, self.preview_bytes),
                }
            ),
            logs=[
                line.model_copy(update={"message": masked(line.message)}) for line in ctx.logs[-50:]
            ]
            if secrets
            else ctx.logs[-50:],
            attempt_errors=attempt_errors,
            worker=self.worker_id,
        )
        record_step(kind.name, outcome.status, outcome.duration_ms)
        if error is None:
            return outcome
        retryable = error.type not in ("InvalidConfig", "TemplateError", "FileNotAllowed") and (
            error.type != "AssertionFailed" or step.retry_on_assertion
        )
        raise ApplicationError(
            outcome.summary or error.message,
            outcome.model_dump(mode="json"),
            type=error.type,
            non_retryable=not retryable,
        )

    def _assert(
        self, step: StepInput, output: Output, renderer: Renderer
    ) -> list[AssertionOutcome]:
        if not step.assertions:
            return []
        return assertion_engine.evaluate(
            step.assertions,
            document=output.document,
            fields=output.fields,
            renderer=renderer,
            context=step.context,
        )

    async def _attempt_errors(
        self, step: StepInput, attempt: int, error: StepError | None, secrets: list[str]
    ) -> list[AttemptRecord]:
        """Errors of earlier tries, kept in the store because Temporal keeps only the last."""
        if attempt == 1 and error is None:
            return []
        name = f"{step.step_key}.attempts.json"
        history = await self.store.aget_json(step.run_id, name) or []
        if error is not None:
            history.append(
                {
                    "attempt": attempt,
                    "error": mask(error.message, secrets),
                    "at": datetime.now(UTC).isoformat(),
                }
            )
            await self.store.aput_json(step.run_id, name, history)
        return [AttemptRecord.model_validate(item) for item in history][-20:]


def _missing_dependency(kind: StepKind, exc: ImportError) -> Executor:
    async def fail(config: Any, ctx: StepContext) -> Output:
        extra = kind.name.split(".")[0]
        raise StepFailure(
            f"{kind.name} steps need an optional dependency that is not installed ({exc.name}): "
            f"pip install 'testflow[{extra}]'",
            type="InfraError",
            retryable=False,
        )

    return fail
