"""``testflow serve``: the API (and the built web UI), with an embedded Temporal and worker by
default; ``--temporal HOST:PORT --no-worker`` for a server beside remote workers."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import typer

from testflow.commands import EXIT_INFRA_ERROR
from testflow.runtime.settings import Settings


async def serve(settings: Settings, *, worker: bool, db_file: Path | None, ui: bool) -> None:
    import uvicorn

    from testflow.api.app import create_app
    from testflow.runtime.engine import Engine

    async with Engine(settings, with_worker=worker, db_file=db_file, ui=ui) as engine:
        app = create_app(settings, engine=engine)
        config = uvicorn.Config(
            app,
            host=settings.api_host,
            port=settings.api_port,
            log_level="info",
            proxy_headers=True,
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        where = f"http://{settings.api_host}:{settings.api_port}"
        typer.echo(f"testflow API and UI on {where} (OpenAPI {where}/api/v1/docs)")
        if engine.env is not None and engine.client is not None:
            # The embedded frontend's address, for `temporal --address`, a remote worker or
            # bench/api.py's floor.
            typer.echo(f"Temporal frontend: {engine.client.service_client.config.target_host}")
        if engine.temporal_ui_url:
            typer.echo(f"Temporal UI: {engine.temporal_ui_url}")
        await server.serve()


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_command(
        host: str | None = typer.Option(None, "--host", help="Listen address (default 127.0.0.1)."),
        port: int | None = typer.Option(None, "--port", help="Listen port (default 8420)."),
        temporal: str | None = typer.Option(
            None, "--temporal", help="HOST:PORT of a Temporal cluster."
        ),
        no_worker: bool = typer.Option(
            False, "--no-worker", help="Run no worker (use `testflow worker`)."
        ),
        db_file: Path | None = typer.Option(
            None,
            "--db-file",
            help="Embedded Temporal's database (default ~/.testflow/temporal.db).",
        ),
        ui: bool = typer.Option(
            False, "--temporal-ui", help="Also start the Temporal web UI (embedded)."
        ),
    ) -> None:
        """Serve the API and the web UI; with no options everything runs in this process."""
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        settings = Settings()
        update: dict[str, object] = {}
        if host:
            update["api_host"] = host
        if port:
            update["api_port"] = port
        if temporal:
            update["temporal_address"] = temporal
        settings = settings.model_copy(update=update)
        if no_worker and not settings.temporal_address:
            raise typer.BadParameter(
                "--no-worker needs --temporal (the embedded server needs a worker)"
            )
        if db_file is None and not settings.temporal_address:
            db_file = settings.home / "temporal.db"
        from testflow.runtime.devserver import TemporalUnavailable

        try:
            asyncio.run(serve(settings, worker=not no_worker, db_file=db_file, ui=ui))
        except TemporalUnavailable as exc:
            typer.echo(f"infrastructure error: {exc}", err=True)
            raise typer.Exit(EXIT_INFRA_ERROR) from None
        except KeyboardInterrupt:
            pass
