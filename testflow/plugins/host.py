"""The plugin host of a worker (or a CLI command): lazy start, reuse, restart, calls.

Processes start on first use and are reused across steps and runs. A plugin that crashed is
started again on its next use; one that did not answer within the step's time is killed (a
hung single-threaded plugin would block every later call) and restarts on next use. Either
way only the step that hit it fails, and the run goes on.

Hosts are shared per primary plugin directory (:func:`get_host`); their processes are killed
when the interpreter exits, so a CLI run never leaves plugin processes behind.
"""

from __future__ import annotations

import asyncio
import atexit
import difflib
import os
import time
from pathlib import Path
from typing import Any

from testflow.plugins.client import ExecuteResponse, PluginInfo, parse_info
from testflow.plugins.discovery import (
    STATE_FILE,
    DiscoveredPlugin,
    Discovery,
    discover,
    fingerprint,
    primary_dir,
)
from testflow.plugins.errors import (
    PluginCrashed,
    PluginDisabled,
    PluginNotFound,
    PluginTimeout,
)
from testflow.plugins.process import PluginProcess
from testflow.plugins.state import PluginState, load_state
from testflow.plugins.transport import TransportError, TransportTimeout


class PluginHost:
    """Discovered plugins of one plugin directory and their processes."""

    def __init__(
        self,
        plugins_dir: str | os.PathLike[str] | None = None,
        *,
        start_timeout: float = 30.0,
        poll_interval: float = 0.1,
        shutdown_grace: float = 5.0,
    ) -> None:
        self.plugins_dir = plugins_dir
        self.start_timeout = start_timeout
        self.poll_interval = poll_interval
        self.shutdown_grace = shutdown_grace
        self._discovery: Discovery | None = None
        self._procs: dict[str, PluginProcess] = {}
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._state: PluginState | None = None
        self._state_path: Path | None = None
        self._state_stamp: tuple[int, int] | None = None
        self.action_owners: dict[str, str] = {}
        """action name -> plugin id, filled by :func:`testflow.plugins.kinds.resolve_action`."""

    # -- discovery and state -------------------------------------------------------------

    @property
    def discovery(self) -> Discovery:
        if self._discovery is None:
            self._discovery = discover(self.plugins_dir)
        return self._discovery

    def rescan(self) -> Discovery:
        self._discovery = discover(self.plugins_dir)
        return self._discovery

    def state(self) -> PluginState:
        """The state file, re-read only when it changed (it is consulted on every call)."""
        if self._state_path is None:
            self._state_path = primary_dir(self.plugins_dir) / STATE_FILE
        try:
            st = os.stat(self._state_path)
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if self._state is None or stamp is None or stamp != self._state_stamp:
            self._state = load_state(self.plugins_dir)
            self._state_stamp = stamp
        return self._state

    def plugin(self, plugin_id: str, *, check_enabled: bool = True) -> DiscoveredPlugin:
        """A discovered plugin by id; clear errors for unknown or disabled ones."""
        found = self.discovery.plugins.get(plugin_id)
        if found is None:
            self.rescan()  # installed since the last scan?
            found = self.discovery.plugins.get(plugin_id)
        if found is None:
            known = sorted(self.discovery.plugins)
            close = difflib.get_close_matches(plugin_id, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            where = ", ".join(str(p) for p in [primary_dir(self.plugins_dir)])
            raise PluginNotFound(
                f"no plugin {plugin_id!r} in {where}{hint}; known: {', '.join(known) or 'none'}"
            )
        if check_enabled and not self.state().is_enabled(plugin_id):
            raise PluginDisabled(
                f"plugin {plugin_id!r} is disabled (enable it with: testflow plugins enable {plugin_id})"
            )
        return found

    # -- processes -----------------------------------------------------------------------

    def _lock(self, plugin_id: str) -> asyncio.Lock:
        key = (id(asyncio.get_running_loop()), plugin_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def running(self) -> dict[str, PluginProcess]:
        return {pid: p for pid, p in self._procs.items() if p.alive()}

    async def process(self, plugin_id: str, *, start_timeout: float | None = None) -> PluginProcess:
        """The running process of a plugin, started (or restarted after a crash) if needed."""
        plugin = self.plugin(plugin_id)
        async with self._lock(plugin_id):
            proc = self._procs.get(plugin_id)
            if proc is not None and proc.alive():
                return proc
            if proc is not None:
                proc.kill()  # reap it and whatever it left in its process group
            proc = PluginProcess(plugin)
            self._procs[plugin_id] = proc
            await proc.start(start_timeout or self.start_timeout, self.poll_interval)
            return proc

    async def stop(self, plugin_id: str) -> None:
        proc = self._procs.pop(plugin_id, None)
        if proc is not None:
            await proc.stop(self.shutdown_grace)

    async def shutdown_all(self) -> None:
        await asyncio.gather(*(self.stop(pid) for pid in list(self._procs)))

    def kill_all(self) -> None:
        for proc in self._procs.values():
            proc.kill()
        self._procs.clear()

    # -- protocol calls ------------------------------------------------------------------

    async def info(self, plugin_id: str, *, refresh: bool = False) -> PluginInfo:
        """``GET /info`` of a plugin, from the state-file cache unless stale or ``refresh``."""
        plugin = self.plugin(plugin_id)
        state = self.state()
        fp = fingerprint(plugin.directory, plugin.manifest)
        cached = None if refresh else state.cached_info(plugin_id, fp)
        if cached is not None:
            return parse_info(cached, plugin_id)
        try:
            proc = await self.process(plugin_id)
            assert proc.client is not None
            info = await proc.client.info()
        except Exception as exc:
            state.entry(plugin_id).error = str(exc)
            state.save()
            raise
        state.set_info(plugin_id, info.model_dump(mode="json", by_alias=True), fp)
        state.save()
        return info

    async def call(
        self,
        plugin_id: str,
        action: str,
        config: Any,
        context: dict[str, Any],
        timeout_s: float,
    ) -> ExecuteResponse:
        """``POST /execute`` with crash and hang handling (see the module docstring)."""
        started = time.monotonic()
        proc = await self.process(
            plugin_id, start_timeout=min(self.start_timeout, max(timeout_s, 1.0))
        )
        assert proc.client is not None
        remaining = max(0.05, timeout_s - (time.monotonic() - started))
        try:
            return await proc.client.execute(action, config, context, remaining)
        except TransportTimeout:
            proc.kill()
            raise PluginTimeout(
                f"plugin {plugin_id!r} did not answer {action!r} within {timeout_s:.3g}s; "
                "the process was killed and restarts on next use",
                details={"action": action, "timeout_s": round(timeout_s, 3)},
            ) from None
        except TransportError as exc:
            raise await self._crashed(proc, action, exc) from None

    async def _crashed(self, proc: PluginProcess, action: str, exc: Exception) -> PluginCrashed:
        # The connection broke; give the process a moment to be reaped, so the exit code is
        # known, and kill it if it still runs (it can no longer be trusted).
        deadline = time.monotonic() + 0.5
        while proc.alive() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        code = proc.exit_code()
        tail = proc.output_tail()
        proc.kill()
        how = (
            f"exited with code {code}" if code is not None else f"dropped the connection ({exc!r})"
        )
        return PluginCrashed(
            f"PLUGIN_CRASHED: plugin {proc.id!r} {how} while running {action!r}; it restarts on "
            f"next use. Its last output: {tail or '(none)'}",
            details={"action": action, "exit_code": code},
        )


_HOSTS: dict[Path, PluginHost] = {}
_BY_ARG: dict[tuple[str | None, str | None], PluginHost] = {}


def get_host(plugins_dir: str | os.PathLike[str] | None = None) -> PluginHost:
    """The shared host of a plugin directory (one per process).

    Looked up on every plugin call: the resolved path is cached per argument (and
    ``$PLUGINS_DIR``) so a call costs a dict lookup, not a filesystem walk.
    """
    arg = None if plugins_dir is None else os.fspath(plugins_dir)
    fast_key = (arg, os.environ.get("PLUGINS_DIR") if arg is None else None)
    host = _BY_ARG.get(fast_key)
    if host is not None:
        return host
    key = primary_dir(plugins_dir).resolve()
    host = _HOSTS.get(key)
    if host is None:
        host = _HOSTS[key] = PluginHost(plugins_dir)
    _BY_ARG[fast_key] = host
    return host


@atexit.register
def _kill_all_hosts() -> None:
    for host in _HOSTS.values():
        host.kill_all()
