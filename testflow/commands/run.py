"""``testflow run``: run flows on the embedded Temporal (or a cluster) with live progress.

Heavy imports happen when the command runs, so ``testflow --help`` and other commands start fast.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        ctx: typer.Context,
        paths: list[Path] = typer.Argument(..., help="Flow files, suite files or directories."),
        env: str | None = typer.Option(
            None, "--env", "-e", help="Environment name or file [default: the suite file's]."
        ),
        var: list[str] = typer.Option(
            [], "--var", help="NAME=VALUE (repeatable); wins over everything."
        ),
        tags: list[str] = typer.Option([], "--tags", help="Run only flows with one of these tags."),
        skip_tags: list[str] = typer.Option(
            [], "--skip-tags", help="Skip flows with one of these tags."
        ),
        concurrency: int | None = typer.Option(
            None,
            "--concurrency",
            "-c",
            min=1,
            help="Flows run at once [default: the suite file's concurrency, else 4].",
        ),
        temporal: str | None = typer.Option(
            None, "--temporal", help="HOST:PORT of a Temporal cluster. Not with --server."
        ),
        ui: bool = typer.Option(
            False, "--ui", help="Keep the dev server and its web UI up. Not with --server."
        ),
        fail_fast: bool | None = typer.Option(
            None,
            "--fail-fast/--no-fail-fast",
            help="Start no more flows after a failure [default: the suite file's fail_fast, else no].",
            show_default=False,
        ),
        report: str = typer.Option("json,junit,html", "--report", help="Report formats."),
        report_dir: Path = typer.Option(Path("results"), "--report-dir", help="Where reports go."),
        report_plugin: list[str] = typer.Option(
            [], "--report-plugin", help="Reporter plugin to run on the result (repeatable)."
        ),
        notify: Path | None = typer.Option(
            None, "--notify", help="Notifications file (Slack, webhook, email)."
        ),
        webhook_port: int | None = typer.Option(
            None,
            "--webhook-port",
            help="Port of the local webhook receiver (default: any free one). Not with --server.",
        ),
        public_url: str | None = typer.Option(
            None,
            "--public-url",
            help="Public base URL of the webhook receiver (a tunnel). Not with --server.",
        ),
        resume: bool = typer.Option(
            False,
            "--resume",
            help="Follow the still-running runs of these flows (after a killed CLI) instead of "
            "starting new ones. Not with --server.",
        ),
        server: str | None = typer.Option(
            None,
            "--server",
            help="Start the flows on a testflow server (URL) and stream them: directories, "
            "tags, -c, --fail-fast, reports and --notify work as here (-c and --fail-fast kept "
            "by this CLI); suite files, --resume, --ui, --temporal, --webhook-port and "
            "--public-url are refused (exit 2, nothing started).",
        ),
        token: str | None = typer.Option(
            None, "--token", envvar="TESTFLOW_TOKEN", help="API token."
        ),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Also print step starts."),
    ) -> None:
        """Run flows as durable Temporal workflows, with live progress and reports."""
        if server:
            refused = _server_refusal(ctx, paths)
            if refused:
                typer.echo(refused, err=True)
                raise typer.Exit(2)  # EXIT_INVALID_INPUT, before anything is started
        if server is None and temporal is None and not os.environ.get("TESTFLOW_TEMPORAL_ADDRESS"):
            # The embedded Temporal boots (~0.5 s, another process) while the rest of testflow
            # imports (as long again): the engine adopts it (testflow/runtime/devserver.py).
            from testflow.runtime.devserver import prestart

            prestart(ui=ui)
        from rich.console import Console

        from testflow.reporting.model import ReportError
        from testflow.reporting.writer import parse_formats
        from testflow.runtime.cli_logging import quiet_core_logs
        from testflow.runtime.local_run import RunRequest, execute, parse_vars, split_csv

        quiet_core_logs()  # before the engine's first client: no SDK core warnings in the output

        try:
            formats = parse_formats(report)
            variables = parse_vars(var)
        except (ValueError, ReportError) as exc:
            raise typer.BadParameter(str(exc)) from exc
        request = RunRequest(
            paths=paths,
            env=env,
            variables=variables,
            tags=split_csv(tags),
            skip_tags=split_csv(skip_tags),
            concurrency=concurrency,
            temporal=temporal,
            ui=ui,
            fail_fast=fail_fast,
            report_formats=formats,
            report_dir=report_dir,
            report_plugins=split_csv(report_plugin),
            notify=notify,
            webhook_port=webhook_port,
            public_url=public_url,
            resume=resume,
            verbose=verbose,
        )
        console = Console(highlight=False, soft_wrap=True)
        if server:
            from testflow.runtime.server_run import execute_on_server

            raise typer.Exit(asyncio.run(execute_on_server(server, token, request, console)))
        raise typer.Exit(asyncio.run(execute(request, console)))


def _server_refusal(ctx: typer.Context, paths: list[Path]) -> str | None:
    """An option the user gave, or a suite file, that ``--server`` cannot honour; or None."""
    from testflow.runtime.server_run import option_refusal, suite_file_refusal

    def given(name: str) -> bool:
        # Only a value the user gave counts: the defaults (--ui false...) are always there.
        # By name: typer ships its own copy of click, whose ParameterSource is another enum.
        source = ctx.get_parameter_source(name)
        return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")

    return option_refusal(given) or suite_file_refusal(paths)
