"""``testflow demo``: the example flows against the bundled demo partner service.

Starts the demo orders API (FastAPI + SQLite) on a free port, points the examples at it
(``ORDERS_URL``), and runs them on the embedded Temporal dev server like ``testflow run``
would. The documented failing example (tag ``expected-failure``) and the flows that need
other local services (tag ``multi-protocol``) are left out unless asked for.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import typer

import testflow
from testflow.commands import EXIT_INVALID_INPUT


def examples_dir() -> Path | None:
    """``examples/`` of a source checkout, or the copy shipped in the wheel."""
    package = Path(testflow.__file__).resolve().parent
    for candidate in (package.parent / "examples", package / "_examples"):
        if candidate.is_dir():
            return candidate
    return None


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        include_failing: bool = typer.Option(
            False, "--include-failing", help="Also run the documented failing example."
        ),
        report_dir: Path = typer.Option(Path("results"), "--report-dir"),
        port: int = typer.Option(0, "--port", help="Port of the demo service (0: any free one)."),
    ) -> None:
        """Run the example flows against the bundled demo partner service."""
        if not os.environ.get("TESTFLOW_TEMPORAL_ADDRESS"):
            # As in `testflow run`: Temporal boots while the rest of testflow imports.
            from testflow.runtime.devserver import prestart

            prestart()
        from rich.console import Console

        from testflow.demo import start_demo_service
        from testflow.runtime.cli_logging import quiet_core_logs
        from testflow.runtime.local_run import RunRequest, execute

        quiet_core_logs()  # as in `testflow run`

        folder = examples_dir()
        console = Console(highlight=False, soft_wrap=True)
        if folder is None:
            console.print("[red]the examples folder was not found in this installation[/red]")
            raise typer.Exit(EXIT_INVALID_INPUT)
        url, stop = start_demo_service(port)
        console.print(f"[dim]demo partner service: {url}[/dim]")
        os.environ["ORDERS_URL"] = url
        # The secrets example needs a token to mask; the demo service does not enforce it here.
        os.environ.setdefault("DEMO_TOKEN", f"demo-{secrets.token_hex(8)}")
        skip = ["multi-protocol"] + ([] if include_failing else ["expected-failure"])
        request = RunRequest(paths=[folder], env="demo", skip_tags=skip, report_dir=report_dir)
        try:
            code = asyncio.run(execute(request, console))
        finally:
            stop()
        raise typer.Exit(code)
