"""Errors of the plugin host; the executor maps them onto step failures."""

from __future__ import annotations

from typing import Any


class PluginError(Exception):
    """Base of every plugin host error. ``code`` is the protocol-style code shown to users."""

    code = "PLUGIN_ERROR"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class PluginNotFound(PluginError):
    code = "PLUGIN_NOT_FOUND"


class PluginDisabled(PluginError):
    code = "PLUGIN_DISABLED"


class PluginStartError(PluginError):
    """The process could not be started or never answered ``GET /health``."""

    code = "PLUGIN_START_FAILED"


class PluginCrashed(PluginError):
    """The process died (or dropped the connection) while serving a request."""

    code = "PLUGIN_CRASHED"


class PluginTimeout(PluginError):
    """The process did not answer in time; it was killed and restarts on next use."""

    code = "PLUGIN_TIMEOUT"


class PluginProtocolError(PluginError):
    """The plugin answered something the protocol does not allow (bad JSON, wrong shape)."""

    code = "PLUGIN_PROTOCOL_ERROR"


class PluginCallFailed(PluginError):
    """The plugin answered ``success: false``; ``code`` is the plugin's own error code."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "PLUGIN_ERROR",
        details: dict[str, Any] | None = None,
        logs: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.code = code
        self.logs = logs or []
