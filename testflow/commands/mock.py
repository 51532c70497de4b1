"""``testflow mock serve mocks.yaml``: serve partner mocks without a run (local development,
or mocks that must outlive workers). ``testflow mock check`` validates mocks files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from testflow.commands import EXIT_INVALID_INPUT, EXIT_OK
from testflow.dsl.diagnostics import FlowValidationError


def register(app: typer.Typer) -> None:
    mock_app = typer.Typer(
        help="Partner mocks: serve and check mocks files (testflow or WireMock JSON)."
    )
    app.add_typer(mock_app, name="mock")

    @mock_app.command("serve")
    def serve(
        files: list[Path] = typer.Argument(
            ..., help="Mocks files (YAML/JSON) or WireMock mappings (JSON)."
        ),
        port: int = typer.Option(8089, "--port", help="Port to listen on."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    ) -> None:
        """Serve the routes of the files at / (journal at /__admin/requests)."""
        import uvicorn

        from testflow.mocks.files import load_mock_file
        from testflow.mocks.server import Mock, single_mock_app

        console = Console(stderr=True, highlight=False)
        routes = []
        try:
            for file in files:
                routes.extend(load_mock_file(file).routes)
        except FlowValidationError as exc:
            for diagnostic in exc.diagnostics:
                console.print(diagnostic.format(color=console.is_terminal), markup=False)
            raise typer.Exit(EXIT_INVALID_INPUT) from exc
        name = files[0].stem
        console.print(f"mock {name}: {len(routes)} route(s) on http://{host}:{port}")
        uvicorn.run(single_mock_app(Mock(name, routes)), host=host, port=port, log_level="warning")

    @mock_app.command("check")
    def check(files: list[Path] = typer.Argument(..., help="Mocks files to validate.")) -> None:
        """Validate mocks files; errors as file:line:col."""
        from testflow.mocks.files import load_mock_file

        console = Console(highlight=False)
        problems = 0
        for file in files:
            try:
                mocks = load_mock_file(file)
                console.print(f"{file}: {len(mocks.routes)} route(s) ok")
            except FlowValidationError as exc:
                problems += len(exc.diagnostics)
                for diagnostic in exc.diagnostics:
                    console.print(diagnostic.format(color=console.is_terminal), markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT if problems else EXIT_OK)
