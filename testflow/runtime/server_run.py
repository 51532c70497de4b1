"""``testflow run --server URL``: the local run's flow selection and reports, the runs on a server.

The flows are collected and checked here as ``testflow run`` does (directories, ``--tags``,
``--skip-tags``: :func:`testflow.dsl.collect.collect` and
:func:`testflow.runtime.local_run.choose`), started on the server as inline runs by
:func:`testflow.api.client.run_flows` (``-c`` and ``--fail-fast`` kept by the CLI), and after
they end each run's result is read back (``GET /api/v1/runs/{id}``, the same ``RunResult`` a
local run has) for the reports :func:`testflow.runtime.local_run.write_all_reports` writes.

Exit codes as for a local run: 0 every flow passed, 1 a flow failed (or was cancelled: Ctrl-C
cancels the runs on the server, as a local run cancels its workflows), 2 invalid input or an
option that cannot apply to a server (nothing started), 3 the server could not be reached or
a run could not be followed.

Text from the server (refusals, errors) is printed without rich markup: ``[...]`` in it is text.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from rich.console import Console

import testflow
from testflow.api.client import (
    ApiClient,
    ApiClientError,
    ServerFlow,
    StartedRun,
    run_flows,
    unreadable,
)
from testflow.commands import EXIT_INFRA_ERROR, EXIT_INVALID_INPUT
from testflow.dsl.collect import Collection, collect
from testflow.dsl.diagnostics import FlowValidationError
from testflow.dsl.loader import LoadedFlow, detect_kind
from testflow.dsl.results import RunResult, StepError
from testflow.reporting.model import Report, detect_git_sha, overall_status
from testflow.runtime.interrupt import install_interrupt
from testflow.runtime.local_run import (
    InputError,
    RunRequest,
    choose,
    print_input_error,
    step_registry,
    write_all_reports,
)
from testflow.runtime.progress import ProgressPrinter
from testflow.runtime.settings import Settings
from testflow.runtime.suite_file import merge

NOT_ON_A_SERVER: dict[str, tuple[str, str]] = {
    # parameter name: (option, why it cannot apply when the runs are on a server)
    "resume": ("--resume", "it follows runs this machine's Temporal still has"),
    "ui": ("--ui", "it keeps this machine's Temporal dev server up; the server has its own UI"),
    "temporal": ("--temporal", "the server runs the flows on its own Temporal"),
    "webhook_port": ("--webhook-port", "webhook.wait steps use the server's receiver"),
    "public_url": ("--public-url", "webhook.wait steps use the server's receiver"),
}


def option_refusal(given: Callable[[str], bool]) -> str | None:
    """The first option the user gave (``given(name)``) that a server run cannot honour.

    ``given`` must say whether the user set the parameter (not its default): ``--ui`` false
    is its default and refusing it would refuse every ``--server`` run.
    """
    for name, (option, why) in NOT_ON_A_SERVER.items():
        if given(name):
            return f"{option} cannot be used with --server: {why}; nothing was started."
    return None


def suite_file_refusal(paths: list[Path]) -> str | None:
    """Why ``--server`` cannot run these paths as asked, or None.

    The server starts an inline flow (``POST /runs {text}``) one file at a time and has no
    inline suite: a suite file's concurrency, fail_fast, environment and vars would be lost
    (or the file refused as a flow), so a suite file is refused before anything starts.
    """
    for path in paths:
        if not path.is_file():
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # checked with the flows: the problem is reported with its position
        if detect_kind(data) == "suite":
            return (
                f"{path} is a suite file, which testflow run --server cannot run: the server "
                "starts inline flows one by one (POST /runs {text}) and has no inline suite, "
                "so the suite's concurrency, fail_fast, environment and vars would be lost. "
                f"Run it here (testflow run {path}), or store the suite on the server (the "
                "Suites screen, POST /api/v1/suites) and start it there (POST /runs "
                "{suite_id}); nothing was started."
            )
    return None


async def execute_on_server(
    server: str, token: str | None, request: RunRequest, console: Console
) -> int:
    """Collect, start on ``server``, follow, report; the exit code."""
    settings = merge(
        [], concurrency=request.concurrency, fail_fast=request.fail_fast, environment=None
    )
    printer = ProgressPrinter(console, verbose=request.verbose)

    def echo(text: str) -> None:
        console.print(text, markup=False)

    started_at = datetime.now(UTC)
    git_sha = asyncio.ensure_future(asyncio.to_thread(detect_git_sha))  # a `git` process
    async with ApiClient(server, token) as client:
        try:
            known = set(request.variables) | await _environment_names(client, request.env)
            registry = await step_registry(Settings())
            collection = await asyncio.to_thread(_collect, request, registry, known)
        except (InputError, FlowValidationError) as exc:
            print_input_error(exc, console)
            return EXIT_INVALID_INPUT
        except ApiClientError as exc:
            console.print(str(exc), style="red", markup=False)
            return EXIT_INVALID_INPUT if exc.status in (400, 404, 422) else EXIT_INFRA_ERROR
        flows = collection.flows
        interrupt = asyncio.Event()
        # As locally: cancelled runs are followed to their end and reported ``cancelled``, exit 1.
        remove_handler = install_interrupt(interrupt.set, console, "on the server")
        try:
            done = await run_flows(
                client,
                [ServerFlow(f.text, Path(f.path).name) for f in flows],
                environment=request.env,
                variables=request.variables,
                concurrency=settings.concurrency,
                fail_fast=settings.fail_fast,
                printer=printer,
                echo=echo,
                interrupt=interrupt,
            )
        finally:
            remove_handler()
        if not done.started:  # refused or unreachable at the first start: no empty reports
            return done.code
        code = done.code
        results: list[RunResult] = []
        for run in done.started:
            result, problem = await _result(client, run, flows[run.index], started_at)
            if problem:
                echo(f"cannot read the result of {run.run_id} for the reports: {problem}")
                code = max(code, EXIT_INFRA_ERROR)
            results.append(result)
    report = Report(
        tool_version=testflow.__version__,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        status=overall_status(r.status for r in results),
        environment=request.env,
        git_sha=await git_sha,
        hostname=socket.gethostname(),
        runs=results,
    )
    # The server masked the secrets it knows in what it returned; the CLI knows none.
    written = await write_all_reports(report, flows, set(), request, console)
    printer.summary(results, {k: str(v) for k, v in written.items()})
    return code


def _collect(request: RunRequest, registry: Any, known: set[str]) -> Collection:
    return choose(collect(request.paths, registry=registry, known_names=known), request)


async def _environment_names(client: ApiClient, name: str | None) -> set[str]:
    """The variables the server's environment ``name`` gives the flows: they count as defined
    when the flows are checked here (the local run reads its environment file for them)."""
    if not name:
        return set()
    try:
        environment = await client.request("GET", f"/environments/{name}")
    except ApiClientError as exc:
        if exc.status == 404:
            raise InputError(
                f"environment {name!r} does not exist on {client.base}; nothing was started"
            ) from None
        raise
    return set(environment.get("variables") or {})


async def _result(
    client: ApiClient, run: StartedRun, loaded: LoadedFlow, started_at: datetime
) -> tuple[RunResult, str | None]:
    """The run's result from the server (``GET /runs/{id}``), named as this machine's file; a
    run that could not be followed, or whose result cannot be read, is reported ``error`` with
    the reason (it ran: it is not left out), the reason given back as well when it is new."""
    problem = None
    if run.reason is None:
        try:
            answer = await client.request("GET", f"/runs/{run.run_id}")
            return _as_local(RunResult.model_validate(answer), loaded), None
        except ApiClientError as exc:
            problem = str(exc)
        except ValidationError as exc:
            problem = unreadable(exc)
    reason = run.reason or problem or "unknown"
    failed = RunResult(
        run_id=run.run_id,
        flow=loaded.flow.name,
        flow_file=loaded.path,
        status="error",
        started_at=started_at,
        error=StepError(type="InfraError", message=f"testflow run --server: {reason}"),
    )
    return failed, problem


def _as_local(result: RunResult, loaded: LoadedFlow) -> RunResult:
    """The server names the flow file by its base name; the report names this machine's file
    (and finds its step lines in it), as a local run's does."""
    return result.model_copy(update={"flow_file": loaded.path})
