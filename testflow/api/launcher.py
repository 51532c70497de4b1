"""Starting runs from the API: a stored flow, an inline definition, a suite, a re-run.

The flow is validated first (422 with line/column), the environment comes from the database
(secrets decrypted only here, in memory, and handed to Temporal through the encrypting payload
codec), then the engine starts the workflow and the run index gets its row.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from testflow.api.db.models import EnvironmentRow, RunRow, tag_text, utcnow
from testflow.api.deps import AppState, span
from testflow.api.errors import Invalid, field_problem
from testflow.api.flowcache import default_filename
from testflow.dsl.models import Connection, Environment, Flow, SecretSource

if TYPE_CHECKING:
    from testflow.workflows.types import ResumeFrom, RunOptions

# Secrets reach the engine as if they were environment variables under names no flow uses,
# so `env.X` in a flow never sees them and the server's own environment is never exposed.
SECRET_VAR = "__TESTFLOW_SECRET__"


@dataclass
class EnvironmentBundle:
    environment: Environment | None
    environ: dict[str, str]


async def load_environment(
    state: AppState, session: AsyncSession, name: str | None
) -> EnvironmentBundle:
    if not name:
        return EnvironmentBundle(None, {})
    row = await session.get(EnvironmentRow, name)
    if row is None:
        raise Invalid(
            f"environment {name!r} does not exist",
            [field_problem("environment", "unknown environment")],
        )
    environ = {f"{SECRET_VAR}{key}": state.box.open(value) for key, value in row.secrets.items()}
    environment = Environment(
        name=row.name,
        description=row.description,
        variables=row.variables,
        secrets={key: SecretSource(env=f"{SECRET_VAR}{key}") for key in row.secrets},
        connections={k: Connection.model_validate(v) for k, v in row.connections.items()},
    )
    return EnvironmentBundle(environment, environ)


@dataclass
class StartRequest:
    text: str
    filename: str | None = None
    flow_id: str | None = None
    flow_version: int | None = None
    environment: str | None = None
    variables: dict[str, Any] | None = None
    trigger: str = "api"
    started_by: str | None = None
    parent_run_id: str | None = None
    resume: ResumeFrom | None = None
    """A re-run from a step: where to start and the earlier run's context (api/rerun.py)."""


async def start_run(state: AppState, session: AsyncSession, req: StartRequest) -> RunRow:
    """Validate, start the workflow, index it and follow it; returns the index row."""
    begun = time.perf_counter()
    engine = state.engine
    if engine is None:
        raise Invalid("this server has no Temporal connection")
    bundle = await load_environment(state, session, req.environment)
    variables = dict(req.variables or {})
    known = set(variables) | (set(bundle.environment.variables) if bundle.environment else set())
    filename = req.filename or default_filename(req.text)
    with span("parse"):
        loaded = state.flows.parse(state.registry, state.library_dir, req.text, filename, known)
    # End the read transaction (environment, stored flow): no pooled connection is held while
    # Temporal starts the run (the pool has 15; 100 concurrent starts would hold them all).
    await session.commit()
    from testflow.runtime.engine import new_run_id  # loaded with the engine already

    flow = loaded.flow
    row = RunRow(
        run_id=new_run_id(flow.name),
        flow_id=req.flow_id,
        flow_version=req.flow_version,
        flow_name=flow.name,
        parent_run_id=req.parent_run_id,
        tags=list(flow.tags),
        tag_text=tag_text(list(flow.tags)),
        environment=req.environment,
        status="running",
        trigger=req.trigger,
        started_by=req.started_by,
        started_at=utcnow(),
        text=req.text,
        variables=variables,
    )

    async def start() -> Any:
        with span("temporal"):
            return await engine.start(
                flow,
                flow_file=loaded.path,
                environment=bundle.environment,
                variables=variables,
                environ=bundle.environ,
                webhook_base=state.webhook_base,
                resume=req.resume,
                run_id=row.run_id,
                options=run_options(state),
            )

    async def index() -> None:
        with span("index"):
            await state.db.add(row)  # committed with the other starts of the moment

    # Both are durable before the 202 (the run in Temporal, its row in the index); together
    # they take the longer of the two, not the sum.
    outcome: tuple[Any, BaseException | None] = await asyncio.gather(
        start(), index(), return_exceptions=True
    )
    handle, indexed = outcome
    if isinstance(handle, BaseException):
        if not isinstance(indexed, BaseException):
            await _forget(state, row.run_id)
        if isinstance(handle, ValueError):  # RunPreparationError: a missing secret, a kind...
            raise Invalid(f"cannot start the run: {handle}") from None
        raise handle
    if isinstance(indexed, BaseException):
        raise indexed
    if state.tracker is not None:
        state.tracker.track(handle.id)
    state.metrics.runs_started.labels(req.trigger).inc()
    state.metrics.start_seconds.observe(time.perf_counter() - begun)
    return row


async def _forget(state: AppState, run_id: str) -> None:
    """Remove the index row of a run Temporal did not start."""
    from sqlalchemy import delete

    await state.db.write(lambda s: s.execute(delete(RunRow).where(RunRow.run_id == run_id)))


def run_options(state: AppState) -> RunOptions:
    """Options of every run the API starts: its steps open files only inside the flow library
    (the loader's root too), so a stored flow cannot read or write the server's files."""
    from testflow.workflows.types import RunOptions

    return RunOptions(file_root=str(state.library_dir))


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def prepare_flow(
    state: AppState,
    bundle: EnvironmentBundle,
    variables: dict[str, Any],
    text: str,
    filename: str | None,
    run_id: Callable[[Flow], str],
    *,
    starter_nonce: bool = True,
    problem: str = "cannot prepare the run",
) -> Any:
    """Parse a stored flow (positioned 422s) and prepare its FlowInput with ``engine.prepare``,
    in an environment loaded once by the caller (a suite prepares all its flows in one);
    ``run_id`` names the run after its parsed flow."""
    engine = state.engine
    if engine is None:
        raise Invalid("this server has no Temporal connection")
    known = set(variables) | (set(bundle.environment.variables) if bundle.environment else set())
    filename = filename or default_filename(text)
    loaded = state.flows.parse(state.registry, state.library_dir, text, filename, known)
    try:
        return engine.prepare(
            loaded.flow,
            flow_file=loaded.path,
            environment=bundle.environment,
            variables=variables,
            environ=bundle.environ,
            run_id=run_id(loaded.flow),
            options=run_options(state),
            webhook_base=state.webhook_base,
            starter_nonce=starter_nonce,
        )
    except ValueError as exc:  # RunPreparationError: a missing secret, an unknown kind...
        raise Invalid(f"{problem}: {exc}") from None


async def prepared_input(
    state: AppState, session: AsyncSession, req: StartRequest, run_id: str
) -> tuple[Any, Any]:
    """The FlowInput and search attributes of a run started later (a Temporal Schedule):
    no starter-made webhook nonce (the schedule repeats this input; each firing's run draws
    its own)."""
    from testflow.workflows.search import run_attributes

    bundle = await load_environment(state, session, req.environment)
    variables = dict(req.variables or {})
    flow_input = prepare_flow(
        state, bundle, variables, req.text, req.filename, lambda _flow: run_id, starter_nonce=False
    )
    flow = flow_input.flow
    return flow_input, run_attributes(flow.name, flow.tags, flow_input.environment)
