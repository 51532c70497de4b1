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
            None, "--temporal", help="HOST:PORT of a Temporal cluster."
        ),
        ui: bool = typer.Option(False, "--ui", help="Keep the dev server and its web UI up."),
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
            help="Port of the local webhook receiver (default: any free one).",
        ),
        public_url: str | None = typer.Option(
            None, "--public-url", help="Public base URL of the webhook receiver (a tunnel)."
        ),
        resume: bool = typer.Option(
            False,
            "--resume",
            help="Follow the still-running runs of these flows (after a killed CLI) instead of starting new ones.",
        ),
        server: str | None = typer.Option(
            None, "--server", help="Submit to a testflow server (URL) and stream from it."
        ),
        token: str | None = typer.Option(
            None, "--token", envvar="TESTFLOW_TOKEN", help="API token."
        ),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Also print step starts."),
    ) -> None:
        """Run flows as durable Temporal workflows, with live progress and reports."""
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
        from testflow.runtime.progress import ProgressPrinter

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
            from testflow.api.client import submit_and_stream

            refused = suite_file_refusal(paths)
            if refused:
                typer.echo(refused, err=True)
                raise typer.Exit(2)  # EXIT_INVALID_INPUT, before anything is started
            files = [p for p in paths if p.is_file()]
            code = asyncio.run(
                submit_and_stream(
                    server,
                    files,
                    environment=env,
                    variables=variables,
                    token=token,
                    printer=ProgressPrinter(console, verbose=verbose),
                    echo=console.print,
                )
            )
            raise typer.Exit(code)
        raise typer.Exit(asyncio.run(execute(request, console)))


def suite_file_refusal(paths: list[Path]) -> str | None:
    """Why ``--server`` cannot run these paths as asked, or None.

    The server starts an inline flow (``POST /runs {text}``) one file at a time and has no
    inline suite: a suite file's concurrency, fail_fast, environment and vars would be lost
    (or the file refused as a flow), so a suite file is refused before anything starts.
    """
    import yaml

    from testflow.dsl.source import detect_kind

    for path in paths:
        if not path.is_file():
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # sent as it is: the server reports the problem with its position
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
