"""``testflow serve``: the API (and the built web UI), with an embedded Temporal and worker by
default; ``--temporal HOST:PORT --no-worker`` for a server beside remote workers.

The worker runs in a child process (:class:`WorkerProcess`), not on the API's event loop:
workflow tasks (a sandbox per new run) and activities took the loop for seconds when 100 runs
started at once, and every API request waited behind them (bench/api.py). It is still one
command: the child starts before the API answers, is restarted if it dies, stops when the
server stops, and stops by itself when the server is killed (its stdin closes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import typer

from testflow.commands import EXIT_INFRA_ERROR
from testflow.runtime.settings import Settings

log = logging.getLogger("testflow.serve")
READY = b"ready\n"
CHILD = "from testflow.commands.serve import worker_main; worker_main()"


class WorkerProcess:
    """The embedded worker in a child process, supervised by the server."""

    def __init__(self, settings: Settings, address: str, *, start_timeout: float = 60) -> None:
        self.settings = settings.model_copy(update={"temporal_address": address})
        self.start_timeout = start_timeout
        self.proc: asyncio.subprocess.Process | None = None
        self._stopping = False

    async def start(self) -> None:
        """Start the child and wait until its worker polls (raise if it cannot start)."""
        from testflow.runtime.devserver import TemporalUnavailable

        ready_r, ready_w = os.pipe()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", CHILD, stdin=asyncio.subprocess.PIPE, pass_fds=(ready_w,)
            )
        finally:
            os.close(ready_w)  # the child's copy is the only writer: EOF when it dies
        assert self.proc.stdin is not None
        # The settings go through the pipe, not argv or the environment: they may hold keys.
        config = {"settings": self.settings.model_dump(mode="json"), "ready_fd": ready_w}
        self.proc.stdin.write(json.dumps(config).encode() + b"\n")
        reading = asyncio.ensure_future(asyncio.to_thread(_read_all, ready_r))
        try:
            await self.proc.stdin.drain()
            answer = await asyncio.wait_for(asyncio.shield(reading), self.start_timeout)
        except (TimeoutError, ConnectionError):
            answer = b""
        if answer != READY:
            await self._end(grace=0)
        await reading  # returns once the child wrote or died
        os.close(ready_r)
        if answer != READY:
            raise TemporalUnavailable(
                "the embedded worker process did not start (its output is above this line)"
            )
        typer.echo(f"worker: process {self.proc.pid}")

    async def supervise(self) -> None:
        """Restart the child whenever it dies while the server runs (runs wait meanwhile:
        their tasks stay in Temporal's queue)."""
        delay = 1.0
        while True:
            assert self.proc is not None
            code = await self.proc.wait()
            if self._stopping:
                return
            log.error("the worker process exited with %s; restarting it in %.0f s", code, delay)
            await asyncio.sleep(delay)
            try:
                await self.start()
                delay = 1.0
            except Exception as exc:
                log.error("the worker process did not restart: %s", exc)
                delay = min(delay * 2, 30.0)

    async def stop(self, supervisor: asyncio.Task[None] | None = None, grace: float = 20) -> None:
        """Close the child's stdin (it drains its worker and exits); kill it after ``grace`` s.
        The supervisor goes first, so that no restart races the stop."""
        self._stopping = True
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        await self._end(grace)

    async def _end(self, grace: float) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 64):
        chunks.append(chunk)
    return b"".join(chunks)


@contextlib.asynccontextmanager
async def worker_process(settings: Settings, address: str) -> AsyncIterator[WorkerProcess]:
    child = WorkerProcess(settings, address)
    await child.start()
    supervisor = asyncio.create_task(child.supervise())
    try:
        yield child
    finally:
        await child.stop(supervisor)


def worker_main() -> None:
    """The child: settings on the first line of stdin, then run until stdin closes."""
    # Ctrl+C reaches the whole process group; the server decides when its worker stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(_worker_child())


async def _worker_child() -> None:
    from testflow.runtime.engine import Engine

    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    config = json.loads(await stdin.readline())
    settings = Settings(**config["settings"])
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # The same worker an in-process Engine builds (registry, options, graceful shutdown).
    async with Engine(settings, with_worker=True):
        os.write(config["ready_fd"], READY)
        os.close(config["ready_fd"])
        eof = asyncio.create_task(stdin.read())  # returns when the server closes it or dies
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait((eof, stopped), return_when=asyncio.FIRST_COMPLETED)


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn re-raises SIGINT/SIGTERM once it has stopped, which cancels (SIGINT) or
            # kills (SIGTERM) this process before it stops its worker and Temporal: handle
            # them on the loop instead, and let serve() return normally.
            loop = asyncio.get_running_loop()
            signals = (signal.SIGINT, signal.SIGTERM)
            for sig in signals:
                loop.add_signal_handler(sig, self.handle_exit, sig, None)
            try:
                yield
            finally:
                for sig in signals:
                    loop.remove_signal_handler(sig)

    return Server


async def serve(settings: Settings, *, worker: bool, db_file: Path | None, ui: bool) -> None:
    import uvicorn

    from testflow.api.app import create_app
    from testflow.runtime.engine import Engine

    async with Engine(settings, with_worker=False, db_file=db_file, ui=ui) as engine:
        assert engine.client is not None
        address = engine.client.service_client.config.target_host
        async with worker_process(settings, address) if worker else contextlib.nullcontext():
            app = create_app(settings, engine=engine)
            config = uvicorn.Config(
                app,
                host=settings.api_host,
                port=settings.api_port,
                log_level="info",
                proxy_headers=True,
                timeout_graceful_shutdown=5,
            )
            server = _server_class()(config)
            where = f"http://{settings.api_host}:{settings.api_port}"
            typer.echo(f"testflow API and UI on {where} (OpenAPI {where}/api/v1/docs)")
            if engine.env is not None:
                # The embedded frontend's address, for `temporal --address`, a remote worker
                # or bench/api.py's floor.
                typer.echo(f"Temporal frontend: {address}")
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
        """Serve the API and the web UI; with no options Temporal and a worker (in a child
        process) come with it."""
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
