"""The engine: Temporal (embedded or remote), a client, optionally an in-process worker.

``testflow run``, ``testflow serve`` and the tests all start runs through :class:`Engine`, so
preparing a run (variables, secrets, environment snapshot, kind options) happens in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import PydanticPayloadConverter, ToJsonOptions
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from testflow.dsl.models import CallStep, Environment, Flow, all_steps
from testflow.dsl.registry import StepRegistry, default_registry
from testflow.dsl.results import RunEvent, RunResult
from testflow.dsl.templating import referenced_env, referenced_secrets
from testflow.runtime.artifacts import open_store
from testflow.runtime.codec import EncryptionCodec, EncryptionKeys, large_payload_storage
from testflow.runtime.devserver import TemporalUnavailable, connect, start_dev_server
from testflow.runtime.run_events import iter_events
from testflow.runtime.run_results import full_result
from testflow.runtime.settings import Settings
from testflow.webhooks.tokens import book_for, remember_run, webhook_keys
from testflow.webhooks.tokens import starter_nonce as make_starter_nonce
from testflow.workflows import FlowWorkflow, SuiteWorkflow
from testflow.workflows.search import run_attributes
from testflow.workflows.suite import SuiteInput, SuiteProgress
from testflow.workflows.types import FlowInput, KindOptions, ResumeFrom, RunOptions


class RunPreparationError(ValueError):
    """The run cannot start: a secret is missing, a kind is unknown... (exit code 2)."""


def new_run_id(flow_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", flow_name.lower()).strip("-")[:40] or "flow"
    return f"run-{slug}-{uuid.uuid4().hex[:8]}"


def new_suite_id(suite_name: str) -> str:
    """The run id of a suite run (its SuiteWorkflow's id)."""
    return "suite-" + new_run_id(suite_name).removeprefix("run-")


class CompactPayloadConverter(PydanticPayloadConverter):
    """Pydantic JSON without the fields left at their defaults.

    A flow of 3,000 steps dumps to ~1.8 MB with every default spelled out and to a fraction of
    that without; Temporal warns at 256 KB and rejects payloads over 2 MB (ARCHITECTURE.md 2).
    """

    def __init__(self) -> None:
        super().__init__(ToJsonOptions(exclude_unset=True))


def data_converter(settings: Settings) -> DataConverter:
    """Compact pydantic JSON, encrypted with the configured keys (ARCHITECTURE.md 4, rule 7);
    what is still too large for Temporal is kept in the artifact store (codec.py)."""
    keys = EncryptionKeys.load_or_create(settings.encryption_keys, settings.home)
    return DataConverter(
        payload_converter_class=CompactPayloadConverter,
        payload_codec=EncryptionCodec(keys),
        external_storage=large_payload_storage(open_store(settings)),
    )


def _flows(flow: Flow) -> list[Flow]:
    out = [flow]
    for step in all_steps(flow):
        if isinstance(step, CallStep) and step.resolved is not None:
            out.extend(_flows(step.resolved))
    return out


def kind_options(flow: Flow, registry: StepRegistry) -> dict[str, KindOptions]:
    kinds: dict[str, KindOptions] = {}
    for sub in _flows(flow):
        for step in all_steps(sub):
            kind = registry.get(step.type)
            if kind is None:
                raise RunPreparationError(f"unknown step type {step.type!r} in step {step.id!r}")
            if kind.mode != "control":
                kinds[kind.name] = KindOptions.of(kind)
    return kinds


def template_references(flow: Flow) -> tuple[frozenset[str], frozenset[str]]:
    """(environment variables, secrets) the templates of a flow and its sub-flows read."""
    texts = tuple(
        json.dumps(sub.model_dump(mode="json", by_alias=True, exclude_unset=True), sort_keys=True)
        for sub in _flows(flow)
    )
    return _references_of(texts)


@functools.lru_cache(maxsize=256)
def _references_of(texts: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    # Cached by content: the API and schedules start the same flow many times, and scanning
    # every template costs milliseconds per start.
    dumped = [json.loads(t) for t in texts]
    env = frozenset().union(*(referenced_env(d) for d in dumped))
    secrets = frozenset().union(*(referenced_secrets(d) for d in dumped))
    return env, secrets


def resolve_secrets(
    flow: Flow, environment: Environment | None, environ: Mapping[str, str], base_dir: Path | None
) -> dict[str, str]:
    """Values of the secrets the flows use: from the environment file's sources, else env vars."""
    names = template_references(flow)[1]
    sources = environment.secrets if environment else {}
    values: dict[str, str] = {}
    for name in sorted(names):
        source = sources.get(name)
        if source is not None and source.file:
            path = Path(source.file)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            if not path.exists():
                raise RunPreparationError(f"secret {name}: file {path} does not exist")
            values[name] = path.read_text().strip()
            continue
        var = source.env if source is not None and source.env else name
        if var not in environ:
            raise RunPreparationError(
                f"secret {name!r} is not set: export {var}=... (or define it in the environment file)"
            )
        values[name] = environ[var]
    return values


def env_snapshot(flow: Flow, environ: Mapping[str, str]) -> dict[str, str]:
    names = template_references(flow)[0]
    return {name: environ[name] for name in sorted(names) if name in environ}


def run_variables(
    environment: Environment | None, overrides: Mapping[str, Any], environ: Mapping[str, str]
) -> dict[str, Any]:
    """Precedence, lowest first: flow context, environment file, TESTFLOW_VAR_*, --var."""
    out: dict[str, Any] = dict(environment.variables) if environment else {}
    for key, value in environ.items():
        if key.startswith("TESTFLOW_VAR_") and len(key) > len("TESTFLOW_VAR_"):
            out[key[len("TESTFLOW_VAR_") :]] = value
    out.update(overrides)
    return out


class Engine:
    """Temporal plus a worker, as an async context manager."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        registry: StepRegistry | None = None,
        with_worker: bool = True,
        ui: bool = False,
        db_file: Path | None = None,
        client: Client | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.registry = registry or default_registry()
        self.with_worker = with_worker
        self.ui = ui
        self.db_file = db_file
        self.env: WorkflowEnvironment | None = None
        self.client: Client | None = client
        self.worker: Worker | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self._stack = contextlib.AsyncExitStack()
        self.webhook_keys: list[bytes] = []

    @property
    def task_queue(self) -> str:
        return self.settings.task_queue

    @property
    def temporal_ui_url(self) -> str | None:
        if self.settings.temporal_ui_url:
            return self.settings.temporal_ui_url
        if self.env is not None and self.ui:
            target = self.client.service_client.config.target_host if self.client else ""
            host, _, port = target.rpartition(":")
            return f"http://{host}:{int(port) + 1000}"
        return None

    async def __aenter__(self) -> Engine:
        converter = data_converter(self.settings)
        if self.client is not None:
            pass
        elif self.settings.temporal_address:
            self.client = await connect(
                self.settings.temporal_address,
                namespace=self.settings.temporal_namespace,
                data_converter=converter,
                tls=self.settings.temporal_tls,
                api_key=self.settings.temporal_api_key,
            )
        else:
            self.env = await start_dev_server(
                data_converter=converter, db_file=self.db_file, ui=self.ui
            )
            self.client = self.env.client
        # Signs the webhook tokens of the runs this engine starts, and lets the receivers of
        # this process verify them without asking the run (testflow.webhooks.tokens).
        self.webhook_keys = webhook_keys(self.settings)
        book_for(self.client).trust(self.webhook_keys)
        if self.with_worker:
            # Imported here: a server started with --no-worker loads no activity code.
            from testflow.runtime.worker import build_worker

            self.worker = build_worker(self.client, self.settings, self.registry)
            self._worker_task = asyncio.create_task(self.worker.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.worker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.worker.shutdown(), timeout=15)
        if self._worker_task is not None:
            with contextlib.suppress(BaseException):
                await self._worker_task
        if self.env is not None:
            with contextlib.suppress(Exception):
                await self.env.shutdown()

    def _client(self) -> Client:
        if self.client is None:
            raise TemporalUnavailable("the engine is not started")
        return self.client

    def prepare(
        self,
        flow: Flow,
        *,
        flow_file: str | None = None,
        environment: Environment | None = None,
        variables: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
        run_id: str | None = None,
        options: RunOptions | None = None,
        webhook_base: str | None = None,
        resume: ResumeFrom | None = None,
        starter_nonce: bool = True,
    ) -> FlowInput:
        """The FlowInput of one run (variables, secrets, environment snapshot, kinds, webhook
        nonce): what ``start`` starts, and what a suite hands to each child.

        ``starter_nonce=False`` for an input started again and again (a Schedule's): each of
        its runs then draws its own webhook nonce in the workflow."""
        environ = os.environ if environ is None else environ
        run_id = run_id or new_run_id(flow.name)
        connections = {
            name: conn.model_dump(mode="json", exclude_none=True)
            for name, conn in (environment.connections.items() if environment else [])
        }
        # The starter makes the webhook nonce, so it knows the run's URLs at once.
        nonce = make_starter_nonce(self.webhook_keys, run_id, flow) if starter_nonce else None
        return FlowInput(
            run_id=run_id,
            flow=flow,
            flow_file=flow_file,
            kinds=kind_options(flow, self.registry),
            variables=run_variables(environment, variables or {}, environ),
            secrets=resolve_secrets(flow, environment, environ, base_dir),
            env=env_snapshot(flow, environ),
            connections=connections,
            environment=environment.name if environment else None,
            options=options or RunOptions(),
            webhook_base=webhook_base,
            # Only when there is one: the input of a flow without webhooks stays as it was.
            **({"webhook_nonce": nonce} if nonce else {}),
            resume=resume,
        )

    def _remember(self, flow_input: FlowInput) -> None:
        if flow_input.webhook_nonce:
            remember_run(
                self._client(),
                flow_input.run_id,
                flow_input.webhook_nonce,
                flow_input.flow,
                flow_input.env,
                flow_input.secrets,
            )

    async def start(
        self,
        flow: Flow,
        *,
        flow_file: str | None = None,
        environment: Environment | None = None,
        variables: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
        run_id: str | None = None,
        options: RunOptions | None = None,
        webhook_base: str | None = None,
        resume: ResumeFrom | None = None,
    ) -> WorkflowHandle[Any, RunResult]:
        """Prepare and start one run; returns its handle (the workflow id is the run id)."""
        flow_input = self.prepare(
            flow,
            flow_file=flow_file,
            environment=environment,
            variables=variables,
            environ=environ,
            base_dir=base_dir,
            run_id=run_id,
            options=options,
            webhook_base=webhook_base,
            resume=resume,
        )
        handle = await self._client().start_workflow(
            FlowWorkflow.run,
            flow_input,
            id=flow_input.run_id,
            task_queue=self.task_queue,
            search_attributes=run_attributes(flow.name, flow.tags, flow_input.environment),
            static_summary=f"{flow.name} ({flow_file or 'inline'})",
        )
        self._remember(flow_input)
        return handle

    async def start_suite(
        self, suite: SuiteInput, *, suite_run_id: str | None = None
    ) -> WorkflowHandle[Any, SuiteProgress]:
        """Start a SuiteWorkflow over children prepared with :meth:`prepare` (their run ids are
        already known: the caller can index and stream them at once)."""
        suite_run_id = suite_run_id or new_suite_id(suite.name)
        handle = await self._client().start_workflow(
            SuiteWorkflow.run,
            suite,
            id=suite_run_id,
            task_queue=self.task_queue,
            search_attributes=run_attributes(suite.name, suite.tags, suite.environment),
            static_summary=f"suite {suite.name} ({len(suite.children)} flows)",
        )
        for child in suite.children:
            self._remember(child.input)
        return handle

    async def events(
        self, run_id: str, *, since: int = 0, poll_interval: float = 0.3
    ) -> AsyncIterator[RunEvent]:
        """The run's events as they happen (query polling), until the run is over."""
        # Generous retries: a busy worker (a 3,000-step flow's long workflow tasks) answers late.
        async for event in iter_events(
            self._client(), run_id, since=since, poll_interval=poll_interval, attempts=60
        ):
            yield event

    async def follow(
        self, run_id: str, on_event: Callable[[RunEvent], Awaitable[None] | None] | None = None
    ) -> RunResult:
        """Stream a run's events to ``on_event`` and return its result.

        The events are read until the run ends, then come from its result: a finished run is
        replayed for every query (testflow.runtime.run_events.missed_events).
        """
        client = self._client()
        handle = client.get_workflow_handle(run_id, result_type=RunResult)
        # With the records a long run kept in the artifact store (run_results.py).
        ended: asyncio.Future[RunResult] = asyncio.ensure_future(full_result(handle))
        try:
            # attempts as in events(): a busy worker answers queries late.
            async for event in iter_events(client, run_id, attempts=60, wake=ended):
                if on_event is not None:
                    maybe = on_event(event)
                    if maybe is not None:
                        await maybe
            return await ended
        finally:
            ended.cancel()
