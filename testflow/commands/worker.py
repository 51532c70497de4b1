"""``testflow worker --temporal HOST:PORT``: a worker joining a Temporal cluster.

Workers scale horizontally on one task queue. The worker serves ``/livez``, ``/readyz`` and
``/metrics`` (testflow's step metrics plus the Temporal SDK's) on ``--health-port``;
SIGTERM/SIGINT drain it: polling stops, running activities get the graceful-shutdown window,
workflows continue on another worker.
"""

from __future__ import annotations

import asyncio
import logging

import typer

from testflow.commands import EXIT_INFRA_ERROR
from testflow.runtime.settings import Settings


async def run_worker(settings: Settings, *, health_port: int, build_id: str | None) -> None:
    from testflow.plugins.kinds import aplugin_registry
    from testflow.runtime import health, metrics
    from testflow.runtime.engine import Engine

    metrics.install_sdk_metrics()  # before the first Temporal client of the process
    registry, _ = await aplugin_registry(settings.plugins_dir)
    state = health.WorkerHealth()
    with health.HealthServer(state, port=health_port):
        async with Engine(settings, registry=registry, with_worker=False) as engine:
            from testflow.runtime.worker import build_worker

            assert engine.client is not None
            worker = build_worker(engine.client, settings, registry, build_id=build_id)
            metrics.set_worker_info(build_id=build_id, task_queue=settings.task_queue)
            typer.echo(
                f"worker on task queue {settings.task_queue!r} of {settings.temporal_address} "
                f"(activities <= {settings.max_concurrent_activities}, health on :{health_port}); "
                "SIGTERM stops it"
            )
            await health.run_worker(worker, state)
    typer.echo("worker stopped")


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker_command(
        temporal: str | None = typer.Option(
            None,
            "--temporal",
            help="HOST:PORT of the Temporal frontend (TESTFLOW_TEMPORAL_ADDRESS).",
        ),
        task_queue: str | None = typer.Option(None, "--task-queue", help="Default: testflow."),
        namespace: str | None = typer.Option(None, "--namespace"),
        max_concurrent_activities: int | None = typer.Option(
            None, "--max-concurrent-activities", min=1
        ),
        max_concurrent_workflow_tasks: int | None = typer.Option(
            None, "--max-concurrent-workflow-tasks", min=1
        ),
        health_port: int | None = typer.Option(
            None,
            "--health-port",
            help="Port of /livez /readyz /metrics (TESTFLOW_METRICS_PORT, 9090).",
        ),
        build_id: str | None = typer.Option(
            None,
            "--build-id",
            envvar="TESTFLOW_WORKER_BUILD_ID",
            help="Build id reported to Temporal.",
        ),
    ) -> None:
        """Run a worker for a Temporal cluster until SIGTERM."""
        from testflow.runtime.health import port_from_env

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        settings = Settings()
        update: dict[str, object] = {}
        for key, value in (
            ("temporal_address", temporal),
            ("task_queue", task_queue),
            ("temporal_namespace", namespace),
            ("max_concurrent_activities", max_concurrent_activities),
            ("max_concurrent_workflow_tasks", max_concurrent_workflow_tasks),
        ):
            if value is not None:
                update[key] = value
        settings = settings.model_copy(update=update)
        if not settings.temporal_address:
            raise typer.BadParameter("give --temporal HOST:PORT or set TESTFLOW_TEMPORAL_ADDRESS")
        from testflow.runtime.devserver import TemporalUnavailable

        port = health_port if health_port is not None else port_from_env()
        try:
            asyncio.run(run_worker(settings, health_port=port, build_id=build_id))
        except TemporalUnavailable as exc:
            typer.echo(f"infrastructure error: {exc}", err=True)
            raise typer.Exit(EXIT_INFRA_ERROR) from None
