"""What ``testflow run`` does: collect flows, start them on an engine, print progress, report.

Exit codes: 0 every flow passed, 1 a flow failed, 2 invalid input (flow, environment,
variables, secrets), 3 infrastructure (Temporal could not start or be reached).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from temporalio.service import RPCError

import testflow
from testflow.commands import EXIT_INFRA_ERROR, EXIT_INVALID_INPUT, EXIT_OK, EXIT_TEST_FAILURES
from testflow.dsl.collect import Collection, collect, suite_files
from testflow.dsl.diagnostics import FlowValidationError
from testflow.dsl.loader import LoadedFlow, find_environment, load_environment
from testflow.dsl.models import Environment, all_steps
from testflow.dsl.registry import StepRegistry, default_registry
from testflow.dsl.results import ArtifactRef, RunResult
from testflow.reporting.model import Report, detect_git_sha, overall_status
from testflow.reporting.options import ReportOptions, step_lines
from testflow.reporting.writer import write_reports
from testflow.runtime.devserver import TemporalUnavailable
from testflow.runtime.engine import Engine, RunPreparationError, resolve_secrets
from testflow.runtime.interrupt import install_interrupt
from testflow.runtime.progress import ProgressPrinter
from testflow.runtime.run_events import is_transient
from testflow.runtime.settings import Settings
from testflow.runtime.suite_file import RunSettings, SuiteConflict, merge
from testflow.runtime.worker import build_worker  # noqa: F401 (imported while Temporal boots)
from testflow.workflows.search import FLOW
from testflow.workflows.types import RunOptions


class InputError(Exception):
    """Bad input found before anything ran (exit code 2); the message is for the user."""


@dataclass
class RunRequest:
    paths: list[Path]
    env: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    skip_tags: list[str] = field(default_factory=list)
    concurrency: int | None = None
    """None: the suite files' or 4 (testflow/runtime/suite_file.py); so for fail_fast and env."""
    temporal: str | None = None
    ui: bool = False
    fail_fast: bool | None = None
    report_formats: tuple[str, ...] = ("json", "junit", "html")
    report_dir: Path = Path("results")
    report_plugins: list[str] = field(default_factory=list)
    notify: Path | None = None
    webhook_port: int | None = None
    public_url: str | None = None
    resume: bool = False
    verbose: bool = False


def parse_vars(items: list[str]) -> dict[str, Any]:
    """``--var k=v``; the value is read as YAML so numbers and booleans keep their type."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--var expects NAME=VALUE, got {item!r}")
        try:
            out[name.strip()] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            out[name.strip()] = value
    return out


def split_csv(values: list[str]) -> list[str]:
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


def select(flows: list[LoadedFlow], tags: list[str], skip_tags: list[str]) -> list[LoadedFlow]:
    chosen = []
    for loaded in flows:
        flow_tags = set(loaded.flow.tags)
        if tags and not flow_tags.intersection(tags):
            continue
        if skip_tags and flow_tags.intersection(skip_tags):
            continue
        chosen.append(loaded)
    return chosen


def choose(collection: Collection, request: RunRequest) -> Collection:
    """``--tags``/``--skip-tags`` applied; none left is an input error (here and --server)."""
    collection.flows = select(collection.flows, request.tags, request.skip_tags)
    if not collection.flows:
        raise InputError("no flow matched: nothing to run")
    return collection


def print_input_error(exc: InputError | FlowValidationError, console: Console) -> None:
    """What ``testflow run`` prints for input refused before anything started (exit 2)."""
    if isinstance(exc, InputError):
        console.print(f"[red]{exc}[/red]")
        return
    for diagnostic in exc.diagnostics:
        console.print(diagnostic.format(color=console.is_terminal), highlight=False, markup=False)
    console.print(f"[red]{len(exc.diagnostics)} problem(s); nothing was run.[/red]")


@dataclass
class Inputs:
    """What a ``testflow run`` runs: its flows (with the variables their suite files give
    them), environment, run-wide settings and the secret values to mask."""

    collection: Collection
    environment: Environment | None
    settings: RunSettings
    secrets: set[str]

    @property
    def flows(self) -> list[LoadedFlow]:
        return self.collection.flows

    def variables(self, loaded: LoadedFlow, request: RunRequest) -> dict[str, Any]:
        """Its suite's ``vars``, then its entry's, then ``--var``."""
        return {**self.collection.variables(loaded), **request.variables}


def load_inputs(request: RunRequest, registry: StepRegistry) -> Inputs:
    """Flows, environment and the secret values to mask; raises InputError or FlowValidationError."""
    try:
        settings = merge(
            suite_files(request.paths),
            concurrency=request.concurrency,
            fail_fast=request.fail_fast,
            environment=request.env,
        )
    except SuiteConflict as exc:
        raise InputError(str(exc)) from exc
    environment: Environment | None = None
    if settings.environment:
        search = [Path.cwd(), *{p if p.is_dir() else p.parent for p in request.paths}]
        try:
            environment = load_environment(find_environment(settings.environment, search))
        except FileNotFoundError as exc:
            raise InputError(str(exc)) from exc
    known = set(request.variables) | {
        k[len("TESTFLOW_VAR_") :] for k in os.environ if k.startswith("TESTFLOW_VAR_")
    }
    if environment is not None:
        known |= set(environment.variables)
    collection = choose(collect(request.paths, registry=registry, known_names=known), request)
    secrets: set[str] = set()
    try:  # a missing secret is an input error before anything runs
        for loaded in collection.flows:
            base = Path(loaded.path).parent
            secrets.update(resolve_secrets(loaded.flow, environment, os.environ, base).values())
    except RunPreparationError as exc:
        raise InputError(f"cannot start the run: {exc}") from exc
    return Inputs(collection, environment, settings, {s for s in secrets if s})


def _load_and_warm(request: RunRequest, registry: StepRegistry) -> Inputs:
    """:func:`load_inputs`, then the executors of the kinds the flows use are imported: this
    runs while Temporal boots, and the first step would otherwise wait for them (the HTTP
    executor's libraries take ~0.1 s, its TLS set-up as long again)."""
    loaded = load_inputs(request, registry)
    from testflow.activities.runner import load_executor

    kinds = {step.type for f in loaded.flows for step in all_steps(f.flow)}
    for name in sorted(kinds):
        kind = registry.get(name)
        if kind is not None and kind.executor is not None:
            with contextlib.suppress(Exception):  # a missing driver fails the step itself
                load_executor(kind)
    if "http" in kinds:
        # What httpx imports at its first client and its first request (~0.1 s each).
        for module in ("httpcore", "anyio._backends._asyncio"):
            with contextlib.suppress(ImportError):
                importlib.import_module(module)
        from testflow.activities.http_transport import default_ssl_context

        default_ssl_context()  # loading the CA bundle releases the GIL: it overlaps the rest
    return loaded


async def execute(request: RunRequest, console: Console) -> int:
    settings = Settings()
    if request.temporal:
        settings = settings.model_copy(update={"temporal_address": request.temporal})
    registry = await step_registry(settings)
    engine = Engine(settings, registry=registry, ui=request.ui)
    # Temporal starts while the flows load: the dev server's start-up overlaps the parsing.
    starting = asyncio.create_task(engine.__aenter__())
    try:
        inputs = await asyncio.to_thread(_load_and_warm, request, registry)
    except (InputError, FlowValidationError) as exc:
        await _abandon(engine, starting)
        print_input_error(exc, console)
        return EXIT_INVALID_INPUT

    flows, environment, secrets = inputs.flows, inputs.environment, inputs.secrets
    started_at = datetime.now(UTC)
    git_sha = asyncio.ensure_future(asyncio.to_thread(detect_git_sha))  # a `git` process
    printer = ProgressPrinter(console, secrets=tuple(secrets), verbose=request.verbose)
    try:
        await starting
    except TemporalUnavailable as exc:
        console.print(f"[red]infrastructure error: {exc}[/red]")
        return EXIT_INFRA_ERROR
    try:
        if engine.temporal_ui_url:
            console.print(f"[dim]Temporal UI: {engine.temporal_ui_url}[/dim]")
        async with _webhook_listener(engine, flows, request) as webhook_base:
            results = await _run_all(engine, inputs, request, printer, webhook_base)
        if engine.ui and engine.temporal_ui_url:
            console.print(
                f"[dim]Temporal UI still up at {engine.temporal_ui_url}; Ctrl-C to stop.[/dim]"
            )
            await _until_interrupted()
    except RunPreparationError as exc:
        console.print(f"[red]cannot start the run: {exc}[/red]")
        return EXIT_INVALID_INPUT
    finally:
        await engine.__aexit__(None, None, None)

    report = Report(
        tool_version=testflow.__version__,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        status=overall_status(r.status for r in results),
        environment=environment.name if environment else None,
        git_sha=await git_sha,
        hostname=socket.gethostname(),
        runs=results,
    )
    written = await write_all_reports(report, flows, secrets, request, console)
    printer.summary(results, {k: str(v) for k, v in written.items()})
    return EXIT_OK if all(r.status == "passed" for r in results) else EXIT_TEST_FAILURES


async def step_registry(settings: Settings) -> StepRegistry:
    """Built-in kinds plus those of the installed plugins. With no plugin directory the plugin
    host (and the HTTP client it loads, ~0.05 s of a cold run) is not needed."""
    from testflow.plugins.discovery import plugin_roots

    if not any(root.is_dir() for root in plugin_roots(settings.plugins_dir)):
        return default_registry()
    from testflow.plugins.kinds import aplugin_registry

    registry, _ = await aplugin_registry(settings.plugins_dir)
    return registry


async def _run_all(
    engine: Engine,
    inputs: Inputs,
    request: RunRequest,
    printer: ProgressPrinter,
    webhook_base: str | None,
) -> list[RunResult]:
    """One flow: one run. Several: one SuiteWorkflow (ARCHITECTURE.md 2), which keeps the
    concurrency bound and ``--fail-fast`` in Temporal, so a killed CLI does not stop the suite;
    each child is followed as it starts (its live output and result as for a single run)."""
    running: set[str] = set()
    remove_handler = install_interrupt(
        _cancel_workflows(engine, running), printer.console, "in Temporal"
    )
    try:
        if len(inputs.flows) == 1:
            return [await _run_one(engine, inputs, request, printer, webhook_base, running)]
        return await _run_suite(engine, inputs, request, printer, webhook_base, running)
    finally:
        remove_handler()


async def _resumable(engine: Engine, name: str) -> str | None:
    """The run a dead ``testflow run`` left running under this name (flow or suite), if any."""
    from testflow.runtime.attach import running_runs

    for run_id in await running_runs(engine, [name]):
        description = await engine._client().get_workflow_handle(run_id).describe()
        if description.typed_search_attributes.get(FLOW) == name:
            return run_id
    return None


async def _run_one(
    engine: Engine,
    inputs: Inputs,
    request: RunRequest,
    printer: ProgressPrinter,
    webhook_base: str | None,
    running: set[str],
) -> RunResult:
    loaded = inputs.flows[0]
    run_id = await _resumable(engine, loaded.flow.name) if request.resume else None
    if run_id is not None:
        printer.console.print(f"[dim]resuming {run_id}[/dim]")
    else:
        handle = await engine.start(
            loaded.flow,
            flow_file=loaded.path,
            environment=inputs.environment,
            variables=inputs.variables(loaded, request),
            base_dir=Path(loaded.path).parent,
            options=RunOptions(),
            webhook_base=webhook_base,
        )
        run_id = handle.id
    running.add(run_id)
    return await follow(engine, run_id, printer)


def suite_name(request: RunRequest) -> str:
    """The name of the suite ``testflow run`` starts for several flows (--resume finds it)."""
    return ("testflow run " + " ".join(str(p) for p in request.paths))[:200]


async def _run_suite(
    engine: Engine,
    inputs: Inputs,
    request: RunRequest,
    printer: ProgressPrinter,
    webhook_base: str | None,
    running: set[str],
) -> list[RunResult]:
    from testflow.workflows.suite import SuiteChild, SuiteInput

    name = suite_name(request)
    suite_id = await _resumable(engine, name) if request.resume else None
    if suite_id is not None:
        printer.console.print(f"[dim]resuming {suite_id}[/dim]")
    else:
        children = []
        environment, settings = inputs.environment, inputs.settings
        for loaded in inputs.flows:
            prepared = engine.prepare(
                loaded.flow,
                flow_file=loaded.path,
                environment=environment,
                variables=inputs.variables(loaded, request),
                base_dir=Path(loaded.path).parent,
                options=RunOptions(),
                webhook_base=webhook_base,
            )
            children.append(SuiteChild(run_id=prepared.run_id, input=prepared))
        suite = SuiteInput(
            name=name,
            children=children,
            concurrency=min(settings.concurrency, 1000),
            fail_fast=settings.fail_fast,
            tags=settings.tags,
            environment=environment.name if environment else None,
        )
        suite_id = (await engine.start_suite(suite)).id
    running.add(suite_id)  # Ctrl-C cancels the suite: its running children, and no more start
    return await follow_suite(engine, suite_id, printer)


async def follow_suite(engine: Engine, suite_id: str, printer: ProgressPrinter) -> list[RunResult]:
    """Follow each child of a suite as it starts; the results of those that started, in the
    suite's order (with --fail-fast or a cancel, the others never ran)."""
    from testflow.workflows.suite import SuiteProgress

    handle = engine._client().get_workflow_handle(suite_id, result_type=SuiteProgress)
    ended: asyncio.Future[SuiteProgress] = asyncio.ensure_future(handle.result())
    followers: dict[str, asyncio.Task[RunResult]] = {}
    delay = SUITE_POLL[0]
    try:
        while True:
            if ended.done():
                progress = ended.result()
            else:
                try:
                    progress = await handle.query("progress", 0, result_type=SuiteProgress)
                except RPCError as exc:  # a busy worker answers late; the suite goes on
                    if not is_transient(exc):
                        raise
                    await asyncio.wait([ended], timeout=delay)  # not at once: no busy loop
                    delay = min(delay * 1.5, SUITE_POLL[1])
                    continue
            for child in progress.children:
                if child.started and child.run_id not in followers:
                    followers[child.run_id] = asyncio.create_task(
                        follow(engine, child.run_id, printer)
                    )
                    delay = SUITE_POLL[0]
            if ended.done():
                break
            await asyncio.wait([ended], timeout=delay)
            delay = min(delay * 1.5, SUITE_POLL[1])
        return [await followers[c.run_id] for c in progress.children if c.run_id in followers]
    finally:
        ended.cancel()
        for task in followers.values():
            task.cancel()


SUITE_POLL = (0.05, 1.0)
"""How often ``testflow run`` asks its suite which children started: often at first (a child's
output starts when it is followed), backing off while none starts."""


async def follow(engine: Engine, run_id: str, printer: ProgressPrinter) -> RunResult:
    """:meth:`Engine.follow`: woken by the run's end instead of its next progress poll.

    Progress is polled every 0.3 s or more; a short flow ends between two polls, and waiting
    for the next one cost up to a fifth of a cold ``testflow run``.
    """
    return await engine.follow(run_id, printer)


@contextlib.asynccontextmanager
async def _webhook_listener(
    engine: Engine, flows: list[LoadedFlow], request: RunRequest
) -> AsyncIterator[str | None]:
    """The local receiver for ``webhook.wait`` steps, started only when a flow has one."""
    needed = any(step.type == "webhook.wait" for f in flows for step in all_steps(f.flow))
    if not needed or engine.client is None:
        yield None
        return
    from testflow.webhooks.listener import start_listener

    base, stop = await start_listener(engine.client, request.webhook_port or 0, request.public_url)
    try:
        yield base
    finally:
        await stop()


async def write_all_reports(
    report: Report,
    flows: list[LoadedFlow],
    secrets: set[str],
    request: RunRequest,
    console: Console,
) -> dict[str, Path]:
    """Built-in formats, then reporter plugins and notifications (their failures never fail the run)."""
    by_flow = {f.path: f for f in flows}
    positions = {
        r.run_id: step_lines(by_flow[r.flow_file].text, by_flow[r.flow_file].positions)
        for r in report.runs
        if r.flow_file in by_flow
    }
    options = ReportOptions(
        secrets=tuple(secrets), flow_files=positions, detail_loader=_load_detail
    )
    written = write_reports(report, request.report_dir, request.report_formats, options=options)
    if request.report_plugins:
        from testflow.plugins.reporter import ReporterFailed, run_reporter_plugins

        try:
            files = await run_reporter_plugins(
                report.model_dump(mode="json"), request.report_dir, request.report_plugins
            )
        except ReporterFailed as exc:
            console.print(f"[yellow]reporter plugin failed: {exc}[/yellow]")
            files = list(getattr(exc, "written", []))
        for path in files:
            written[f"plugin:{path.name}"] = path
    if request.notify is not None:
        from testflow.reporting.notify import load_config, notify

        config, masked = load_config(request.notify)
        notify(report, config, secrets=tuple(secrets) + masked)
    return written


def _load_detail(ref: ArtifactRef) -> dict[str, Any] | None:
    """A step's detail from wherever the worker stored it (local file or S3)."""
    from testflow.runtime.artifacts import read_any_artifact

    data = read_any_artifact(ref)
    if data is None:
        return None
    value = json.loads(data)
    return value if isinstance(value, dict) else None


async def _abandon(engine: Engine, starting: asyncio.Task[Engine]) -> None:
    """Stop an engine that was starting when the input turned out invalid."""
    with contextlib.suppress(Exception):
        await starting
    await engine.__aexit__(None, None, None)


async def _until_interrupted() -> None:
    """``--ui``: wait for Ctrl-C, then stop as after any run (reports, the runs' exit code).

    Left to asyncio, Ctrl-C raised KeyboardInterrupt here: no reports, exit code 130, and the
    worker's tasks cancelled all at once, which could leave the command hanging.
    """
    loop = asyncio.get_running_loop()
    pressed = asyncio.Event()
    try:
        loop.add_signal_handler(signal.SIGINT, pressed.set)
    except (NotImplementedError, RuntimeError):  # no loop signal handlers (Windows)
        await asyncio.Event().wait()
    try:
        await pressed.wait()
    finally:
        loop.remove_signal_handler(signal.SIGINT)  # a second Ctrl-C quits at once


def _cancel_workflows(engine: Engine, running: set[str]) -> Callable[[], None]:
    """What the first Ctrl-C does: cancel the running workflows (their teardown runs)."""
    pending: set[asyncio.Task[None]] = set()

    def cancel() -> None:
        client = engine.client
        if client is None:
            return
        for run_id in list(running):
            task = asyncio.get_running_loop().create_task(
                client.get_workflow_handle(run_id).cancel()
            )
            pending.add(task)  # kept referenced until done
            task.add_done_callback(pending.discard)

    return cancel
