"""``testflow codec-server``: decrypt testflow's payloads for the Temporal web UI.

Point the UI at it (``temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8081`` or
the UI's "Codec Server" setting) and give it the same token. See docs/durable.md.
"""

from __future__ import annotations

import typer
from rich.console import Console

from testflow.commands import EXIT_INVALID_INPUT

DEFAULT_UI_ORIGIN = "http://localhost:8233"


def register(app: typer.Typer) -> None:
    @app.command("codec-server")
    def codec_server(
        port: int = typer.Option(8081, "--port", help="Port to listen on."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        origin: list[str] = typer.Option(
            [],
            "--origin",
            help=f"Temporal UI origin allowed by CORS (repeatable; default {DEFAULT_UI_ORIGIN}).",
        ),
        token: str | None = typer.Option(
            None,
            "--token",
            envvar="TESTFLOW_CODEC_TOKEN",
            help="Bearer token callers must send.",
            show_default=False,
        ),
    ) -> None:
        """Serve /encode and /decode (Temporal codec protocol) with the payload encryption keys."""
        # Imported here: the web stack must not slow down every other command's start.
        import uvicorn

        from testflow.runtime.codec_server import codec_from_settings, create_codec_app
        from testflow.runtime.settings import Settings

        console = Console(stderr=True, highlight=False)
        if not token:
            console.print(
                "[red]the codec server hands out decrypted payloads, so it needs a token: "
                "set TESTFLOW_CODEC_TOKEN or pass --token[/red]"
            )
            raise typer.Exit(EXIT_INVALID_INPUT)
        settings = Settings()
        origins = origin or settings.cors_origins or [DEFAULT_UI_ORIGIN]
        try:
            codec = codec_from_settings(settings)
        except ValueError as exc:
            console.print(f"[red]bad TESTFLOW_ENCRYPTION_KEYS: {exc}[/red]")
            raise typer.Exit(EXIT_INVALID_INPUT) from exc
        console.print(f"codec server on http://{host}:{port} for {', '.join(origins)}")
        uvicorn.run(
            create_codec_app(codec, token, origins), host=host, port=port, log_level="warning"
        )
