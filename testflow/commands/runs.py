"""``testflow runs list|show|cancel|rerun|logs --server URL``: runs on a testflow API server.

The server comes from ``--server`` or TESTFLOW_SERVER, the token from ``--token`` or
TESTFLOW_TOKEN. ``logs`` streams a run's events until it ends; ``rerun --follow`` too.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import typer

from testflow.commands import EXIT_INFRA_ERROR, EXIT_INVALID_INPUT, EXIT_OK, EXIT_TEST_FAILURES

runs_app = typer.Typer(help="Runs on a testflow server.", no_args_is_help=True)
ServerOption = typer.Option(None, "--server", help="API base URL (or TESTFLOW_SERVER).")
TokenOption = typer.Option(None, "--token", help="API token (or TESTFLOW_TOKEN).")


def _server(server: str | None) -> str:
    value = server or os.environ.get("TESTFLOW_SERVER") or "http://127.0.0.1:8420"
    return value


def _call(server: str | None, token: str | None, work: Any) -> Any:
    from testflow.api.client import ApiClient, ApiClientError

    async def go() -> Any:
        async with ApiClient(_server(server), token) as client:
            return await work(client)

    try:
        return asyncio.run(go())
    except ApiClientError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(
            EXIT_INVALID_INPUT if 400 <= exc.status < 500 else EXIT_INFRA_ERROR
        ) from None


@runs_app.command("list")
def list_runs(
    flow: str | None = typer.Option(None, "--flow"),
    tag: str | None = typer.Option(None, "--tag"),
    status: str | None = typer.Option(None, "--status"),
    page: int = typer.Option(1, "--page", min=1),
    page_size: int = typer.Option(20, "--page-size", min=1, max=500),
    as_json: bool = typer.Option(False, "--json"),
    server: str | None = ServerOption,
    token: str | None = TokenOption,
) -> None:
    """List runs, newest first."""
    params = {
        k: v
        for k, v in {
            "flow": flow,
            "tag": tag,
            "status": status,
            "page": page,
            "page_size": page_size,
        }.items()
        if v
    }
    data = _call(server, token, lambda c: c.request("GET", "/runs", params=params))
    if as_json:
        from testflow.api.client import dumps

        typer.echo(dumps(data))
        return
    for run in data["items"]:
        typer.echo(
            f"{run['run_id']:<48} {run['status']:<9} {run['started_at'][:19]}  {run['flow_name']}"
        )
    typer.echo(f"({len(data['items'])} of {data['total']}, page {data['page']})")


@runs_app.command("show")
def show(run_id: str, server: str | None = ServerOption, token: str | None = TokenOption) -> None:
    """A run's result as JSON."""
    from testflow.api.client import dumps

    typer.echo(dumps(_call(server, token, lambda c: c.request("GET", f"/runs/{run_id}"))))


@runs_app.command("cancel")
def cancel(run_id: str, server: str | None = ServerOption, token: str | None = TokenOption) -> None:
    """Cancel a running run (its teardown runs)."""
    _call(server, token, lambda c: c.request("POST", f"/runs/{run_id}/cancel"))
    typer.echo(f"cancelling {run_id}")


@runs_app.command("rerun")
def rerun(
    run_id: str,
    from_step: str | None = typer.Option(
        None,
        "--from-step",
        help="Start at this failed top-level step: the steps before it are not run again "
        "(their variables and extracted values come from RUN_ID); setup and teardown run.",
    ),
    var: list[str] = typer.Option(
        [], "--var", help="NAME=VALUE to change for the re-run (repeatable)."
    ),
    follow: bool = typer.Option(
        False, "--follow", help="Stream the new run until it ends; exit 0 passed, 1 otherwise."
    ),
    server: str | None = ServerOption,
    token: str | None = TokenOption,
) -> None:
    """Run a run's flow again (same text, environment and variables), or from a failed step."""
    from testflow.runtime.local_run import parse_vars

    try:
        variables = parse_vars(var)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    body: dict[str, Any] = {"vars": variables}
    if from_step:
        body["from_step"] = from_step
    started = _call(server, token, lambda c: c.request("POST", f"/runs/{run_id}/rerun", json=body))
    new_id = started["run_id"]
    typer.echo(new_id)
    if follow:
        _follow(server, token, new_id)


@runs_app.command("logs")
def logs(run_id: str, server: str | None = ServerOption, token: str | None = TokenOption) -> None:
    """Stream a run's events until it ends; exit 0 passed, 1 otherwise."""
    _follow(server, token, run_id)


def _follow(server: str | None, token: str | None, run_id: str) -> None:
    from rich.console import Console

    from testflow.runtime.progress import ProgressPrinter

    printer = ProgressPrinter(Console(highlight=False, soft_wrap=True))

    async def work(client: Any) -> str:
        status = "error"
        async for event in client.events(run_id):
            printer(event)
            if event.type == "run_finished":
                status = event.status or "error"
        return status

    status = _call(server, token, work)
    raise typer.Exit(EXIT_OK if status == "passed" else EXIT_TEST_FAILURES)


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")


@runs_app.command("attach")
def attach_run(
    run_id: str = typer.Argument(..., help="The run (workflow) id, as `testflow run` printed it."),
    temporal: str | None = typer.Option(
        None,
        "--temporal",
        help="HOST:PORT of the Temporal the run lives on (TESTFLOW_TEMPORAL_ADDRESS).",
    ),
    report: str = typer.Option("json,junit,html", "--report", help="Report formats."),
    report_dir: str = typer.Option("results", "--report-dir"),
    worker: bool = typer.Option(
        True, "--worker/--no-worker", help="Run a worker here so the run progresses."
    ),
) -> None:
    """Follow a run started by a `testflow run` that died (or elsewhere) and write its reports.

    Runs survive the CLI only on a Temporal that outlives it (`--temporal`, `testflow serve`):
    the embedded in-memory dev server of `testflow run` stops with it.
    """
    from pathlib import Path

    from rich.console import Console

    from testflow.reporting.writer import parse_formats
    from testflow.runtime.attach import AttachError, attach, write_attached_reports
    from testflow.runtime.devserver import TemporalUnavailable
    from testflow.runtime.engine import Engine
    from testflow.runtime.progress import ProgressPrinter
    from testflow.runtime.settings import Settings

    settings = Settings()
    if temporal:
        settings = settings.model_copy(update={"temporal_address": temporal})
    if not settings.temporal_address:
        raise typer.BadParameter("give --temporal HOST:PORT (or TESTFLOW_TEMPORAL_ADDRESS)")
    console = Console(highlight=False, soft_wrap=True)

    async def go() -> int:
        async with Engine(settings, with_worker=worker) as engine:
            result = await attach(engine, run_id, ProgressPrinter(console))
        written = write_attached_reports([result], Path(report_dir), parse_formats(report))
        ProgressPrinter(console).summary([result], {k: str(v) for k, v in written.items()})
        return EXIT_OK if result.status == "passed" else EXIT_TEST_FAILURES

    try:
        code = asyncio.run(go())
    except AttachError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    except TemporalUnavailable as exc:
        console.print(f"[red]infrastructure error: {exc}[/red]")
        raise typer.Exit(EXIT_INFRA_ERROR) from None
    raise typer.Exit(code)
