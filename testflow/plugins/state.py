"""The plugin state file: enabled flags and the cached ``GET /info`` answer of each plugin.

It lives in the primary plugin directory (``.testflow-plugins.json``). Caching /info lets
the validator and ``testflow schema`` know plugin actions without spawning every plugin
process each time; the cache entry carries a fingerprint of the manifest and the entry point
and is refreshed when they change (or by ``testflow plugins discover``).

Writes are atomic (a temporary file renamed over the old one) so a reader never sees half a
file; concurrent writers may lose an update, which only costs a later refresh.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from testflow.plugins.discovery import STATE_FILE, primary_dir


@dataclass
class PluginEntry:
    enabled: bool = True
    info: dict[str, Any] | None = None
    fingerprint: str | None = None
    refreshed_at: str | None = None
    error: str | None = None
    """Why the last /info fetch failed (shown by ``plugins list``)."""


@dataclass
class PluginState:
    path: Path
    plugins: dict[str, PluginEntry] = field(default_factory=dict)

    def entry(self, plugin_id: str) -> PluginEntry:
        return self.plugins.setdefault(plugin_id, PluginEntry())

    def is_enabled(self, plugin_id: str) -> bool:
        entry = self.plugins.get(plugin_id)
        return entry.enabled if entry is not None else True

    def set_info(self, plugin_id: str, info: dict[str, Any], fingerprint: str) -> None:
        entry = self.entry(plugin_id)
        entry.info = info
        entry.fingerprint = fingerprint
        entry.error = None
        entry.refreshed_at = datetime.now(UTC).isoformat(timespec="seconds")

    def cached_info(self, plugin_id: str, fingerprint: str) -> dict[str, Any] | None:
        entry = self.plugins.get(plugin_id)
        if entry is None or entry.fingerprint != fingerprint:
            return None
        return entry.info

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": 1,
            "plugins": {
                pid: {k: v for k, v in vars(e).items() if v is not None}
                for pid, e in sorted(self.plugins.items())
            },
        }
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
                fh.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def load_state(plugins_dir: str | os.PathLike[str] | None = None) -> PluginState:
    """The state of the plugin directory; an absent or unreadable file is an empty state."""
    path = primary_dir(plugins_dir) / STATE_FILE
    state = PluginState(path=path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return state
    for pid, raw in (data.get("plugins") or {}).items():
        if isinstance(raw, dict):
            state.plugins[pid] = PluginEntry(
                enabled=bool(raw.get("enabled", True)),
                info=raw.get("info") if isinstance(raw.get("info"), dict) else None,
                fingerprint=raw.get("fingerprint"),
                refreshed_at=raw.get("refreshed_at"),
                error=raw.get("error"),
            )
    return state
