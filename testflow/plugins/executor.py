"""The executor of every plugin action kind (``my-plugin.hello``, ``scraper.extract``...).

``execute(config, ctx)`` posts ``{action, config, context}`` to the plugin that offers
``ctx.kind`` and maps the answer onto an :class:`Output`: ``$`` addresses the plugin's
``output``; ``output``, ``metrics`` and ``duration_ms`` are result fields; the plugin's logs
become the step's log lines (on failure they go to ``ctx.logs``, since no Output is returned).

Failures: ``success: false`` -> ``StepFailed`` with the plugin's code and message; a crash ->
``PluginCrashed``; no answer before the step's deadline -> ``Timeout`` (the process is
killed and restarts on next use). The call gives up a little before the deadline so the step
fails with this clear message instead of Temporal's bare activity timeout.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl.results import LogLine
from testflow.plugins.client import ExecuteResponse
from testflow.plugins.errors import (
    PluginCrashed,
    PluginDisabled,
    PluginError,
    PluginNotFound,
    PluginProtocolError,
    PluginTimeout,
)
from testflow.plugins.host import get_host
from testflow.plugins.kinds import resolve_action

DEADLINE_MARGIN_S = 0.25
_LEVELS = {
    "debug": "debug",
    "info": "info",
    "warn": "warning",
    "warning": "warning",
    "error": "error",
    "fatal": "error",
    "critical": "error",
    "trace": "debug",
}


def plugin_context(ctx: StepContext) -> dict[str, Any]:
    """The protocol's ``context`` object, filled from the step context."""
    return {
        "execution_id": ctx.run_id,
        "flow_id": ctx.flow_name,
        "step_id": ctx.step_id,
        "variables": ctx.variables,
        "step_outputs": ctx.step_outputs,
        "attempt": ctx.attempt,
    }


def to_log_lines(plugin_id: str, logs: list[dict[str, Any]]) -> list[LogLine]:
    """Plugin log entries as step log lines, prefixed with the plugin id."""
    out = []
    for entry in logs:
        level = _LEVELS.get(str(entry.get("level", "info")).lower(), "info")
        at = None
        stamp = entry.get("timestamp")
        if isinstance(stamp, str):
            try:
                at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            except ValueError:
                at = None
        out.append(LogLine(level=level, message=f"[{plugin_id}] {entry.get('message', '')}", at=at))
    return out


def step_timeout(ctx: StepContext) -> float:
    return max(0.05, ctx.remaining() - DEADLINE_MARGIN_S)


def failure_from(exc: PluginError, plugin_id: str) -> StepFailure:
    """A host error as the step failure the report shows."""
    details = {"plugin": plugin_id, "code": exc.code, **exc.details}
    if isinstance(exc, PluginTimeout):
        return StepFailure(exc.message, type="Timeout", details=details)
    if isinstance(exc, PluginCrashed):
        return StepFailure(exc.message, type="PluginCrashed", details=details)
    if isinstance(exc, PluginNotFound | PluginDisabled | PluginProtocolError):
        return StepFailure(exc.message, type="StepFailed", details=details, retryable=False)
    return StepFailure(exc.message, type="StepFailed", details=details)


async def call_action(
    plugin_id: str, action: str, config: Any, ctx: StepContext, *, plugins_dir: str | None = None
) -> ExecuteResponse:
    """``POST /execute`` for a step and map host errors onto step failures."""
    try:
        return await get_host(plugins_dir).call(
            plugin_id, action, config, plugin_context(ctx), step_timeout(ctx)
        )
    except PluginError as exc:
        raise failure_from(exc, plugin_id) from None


async def execute(config: dict[str, Any], ctx: StepContext) -> Output:
    """Run one plugin action step."""
    action = getattr(ctx, "kind", None)
    if not action:
        raise StepFailure(
            "the step context does not say which action to run (StepContext.kind is not set)",
            type="InfraError",
            retryable=False,
        )
    try:
        plugin_id = await resolve_action(action)
    except PluginError as exc:
        raise StepFailure(exc.message, type="StepFailed", retryable=False) from None
    started = time.perf_counter()
    response = await call_action(plugin_id, action, config, ctx)
    duration_ms = round((time.perf_counter() - started) * 1000, 3)
    logs = to_log_lines(plugin_id, response.logs)
    if not response.success:
        ctx.logs.extend(logs)
        error = response.error
        code = error.code if error else "PLUGIN_ERROR"
        message = error.message if error else "the plugin reported a failure without an error"
        raise StepFailure(
            f"{action}: {code}: {message}",
            type="StepFailed",
            details={
                "plugin": plugin_id,
                "code": code,
                **({"details": error.details} if error and error.details else {}),
            },
        )
    return Output(
        document=response.output,
        fields={"output": response.output, "metrics": response.metrics, "duration_ms": duration_ms},
        summary=f"{action} -> ok",
        request={"action": action, "config": config},
        response=response.model_dump(mode="json"),
        logs=logs,
    )
