"""One plugin process: spawn by entry-point extension, health polling, graceful stop.

The process gets ``PLUGIN_PORT`` (a free loopback port picked here), ``PLUGIN_ID`` and
``PLUGIN_HOST=127.0.0.1``; it runs in the plugin directory, in a session of its own so a
``.sh`` entry point and everything it started can be killed as one process group. Its stdout
and stderr go to a temporary log file (a pipe nobody reads would block the plugin once full);
the tail of that file is quoted when the plugin fails to start or crashes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testflow.plugins.client import PluginClient
from testflow.plugins.discovery import DiscoveredPlugin
from testflow.plugins.errors import PluginProtocolError, PluginStartError
from testflow.plugins.manifest import entry_point_path
from testflow.plugins.transport import TransportError, TransportTimeout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command_for(entry: Path) -> list[str]:
    """The command line for an entry point, by extension (the seed's rule).

    ``.py`` runs with the interpreter running testflow (a ``python3``), so plugins written
    with ``testflow.plugins.sdk`` import it without further set-up.
    """
    suffix = entry.suffix.lower()
    if suffix == ".py":
        return [sys.executable, str(entry)]
    if suffix in (".js", ".mjs", ".cjs"):
        node = shutil.which("node")
        if node is None:
            raise PluginStartError(f"{entry.name} needs Node.js, and no 'node' is on PATH")
        return [node, str(entry)]
    if suffix == ".sh":
        return [shutil.which("bash") or "/bin/bash", str(entry)]
    if not os.access(entry, os.X_OK):
        raise PluginStartError(f"{entry} is not executable (chmod +x it, or use .py/.js/.sh)")
    return [str(entry)]


class PluginProcess:
    """A running (or stopped) plugin process and its HTTP client."""

    def __init__(self, plugin: DiscoveredPlugin) -> None:
        self.plugin = plugin
        self.popen: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.client: PluginClient | None = None
        self.log_path: Path | None = None
        self.started_at = 0.0
        self.starts = 0

    @property
    def id(self) -> str:
        return self.plugin.id

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def exit_code(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def output_tail(self, limit: int = 1500) -> str:
        """The end of the plugin's stdout/stderr (for error messages)."""
        if self.log_path is None:
            return ""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", "replace").strip()

    async def start(self, timeout_s: float = 30.0, poll_interval: float = 0.1) -> None:
        """Spawn the process and poll ``GET /health`` until healthy (or fail clearly)."""
        entry = entry_point_path(self.plugin.directory, self.plugin.manifest)
        cmd = command_for(entry)
        self.port = free_port()
        fd, log_name = tempfile.mkstemp(prefix=f"testflow-plugin-{self.id}-", suffix=".log")
        self.log_path = Path(log_name)
        env = {
            **os.environ,
            "PLUGIN_PORT": str(self.port),
            "PLUGIN_ID": self.id,
            "PLUGIN_HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
        try:
            # Popen only forks and execs (the child's output goes to a file): it does not block.
            self.popen = subprocess.Popen(  # noqa: ASYNC220
                cmd,
                cwd=self.plugin.directory,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise PluginStartError(
                f"plugin {self.id!r}: cannot start {' '.join(cmd)}: {exc}"
            ) from None
        finally:
            os.close(fd)
        self.starts += 1
        self.started_at = time.monotonic()
        self.client = PluginClient(self.id, self.port)
        await self._wait_healthy(timeout_s, poll_interval)

    async def _wait_healthy(self, timeout_s: float, poll_interval: float) -> None:
        assert self.client is not None
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while True:
            code = self.exit_code()
            if code is not None:
                self._cleanup_log(keep=True)
                raise PluginStartError(
                    f"plugin {self.id!r} exited with code {code} before it was healthy; "
                    f"its output: {self.output_tail() or '(none)'}"
                )
            try:
                if await self.client.health(
                    timeout_s=min(1.0, max(0.1, deadline - time.monotonic()))
                ):
                    return
                last = "GET /health did not say status 'healthy'"
            except (TransportError, TransportTimeout, PluginProtocolError) as exc:
                last = str(exc) or type(exc).__name__
            if time.monotonic() >= deadline:
                tail = self.output_tail()
                self.kill()
                raise PluginStartError(
                    f"plugin {self.id!r} was not healthy after {timeout_s:g}s on port {self.port} "
                    f"({last}); its output: {tail or '(none)'}"
                )
            await asyncio.sleep(poll_interval)

    async def stop(self, grace: float = 5.0) -> None:
        """``POST /shutdown``, wait up to ``grace`` seconds, then SIGKILL the process group."""
        if self.alive() and self.client is not None:
            with contextlib.suppress(TransportError, TransportTimeout):
                await self.client.shutdown(timeout_s=min(grace, 2.0))
            deadline = time.monotonic() + grace
            # No event tells that a Popen child exited; polling at 50 ms is cheap here.
            while self.alive() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        self.kill()
        if self.client is not None:
            self.client.close()

    def kill(self) -> None:
        """SIGKILL the whole process group at once (used after a hang and at exit)."""
        if self.popen is not None:
            if self.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=2)
            else:
                # The leader is gone; children it left in the group are killed too.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
        self._cleanup_log()

    def _cleanup_log(self, keep: bool = False) -> None:
        if self.log_path is not None and not keep and not self.alive():
            with contextlib.suppress(OSError):
                self.log_path.unlink()
            self.log_path = None
