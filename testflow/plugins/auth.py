"""Auth plugins: headers for ``http`` steps (``request.auth: {plugin: my-sso, config: {...}}``).

The http executor calls :func:`auth_headers` before sending its request. The plugin gets
``{"action": "authenticate", "config": <auth config>, "context": <step context + request>}``
and answers ``output: {"headers": {...}, "query": {...}?, "expires_in": seconds?}``.

Answers with ``expires_in`` are cached in memory (per plugin and config) until a few seconds
before they expire, so a flow of fifty calls does not log in fifty times. The header values
are credentials: they are added to ``ctx.secret_values`` so the report masks them.
"""

from __future__ import annotations

import json
import time
from typing import Any

from testflow.activities.base import StepContext, StepFailure
from testflow.plugins.errors import PluginCallFailed, PluginError
from testflow.plugins.executor import failure_from, plugin_context, step_timeout, to_log_lines
from testflow.plugins.typed import AUTH_ACTION, call_typed, output_dict

_EXPIRY_MARGIN_S = 5.0
_cache: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}


def _cache_key(plugin_id: str, config: dict[str, Any]) -> tuple[str, str]:
    return plugin_id, json.dumps(config, sort_keys=True, default=str)


def clear_cache() -> None:
    _cache.clear()


async def auth_credentials(
    plugin_id: str,
    config: dict[str, Any],
    ctx: StepContext,
    *,
    request: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The auth plugin's whole ``output`` (``headers``, optional ``query``)."""
    key = _cache_key(plugin_id, config)
    cached = _cache.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return {"headers": dict(cached[1])}
    context = {**plugin_context(ctx), "request": request or {}}
    try:
        response = await call_typed(
            plugin_id, "auth", AUTH_ACTION, config, context, timeout_s=step_timeout(ctx)
        )
        output = output_dict(response, plugin_id, "headers")
    except PluginCallFailed as exc:
        ctx.logs.extend(to_log_lines(plugin_id, exc.logs))
        raise StepFailure(
            f"auth plugin {exc.message}",
            details={"plugin": plugin_id, "code": exc.code},
            retryable=True,
        ) from None
    except PluginError as exc:
        raise failure_from(exc, plugin_id) from None
    headers = output["headers"]
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise StepFailure(
            f"auth plugin {plugin_id!r} answered headers that are not a string-to-string map",
            type="StepFailed",
            retryable=False,
        )
    ctx.logs.extend(to_log_lines(plugin_id, response.logs))
    ctx.secret_values = (*ctx.secret_values, *(v for v in headers.values() if len(v) >= 6))
    expires_in = output.get("expires_in")
    if isinstance(expires_in, int | float) and expires_in > _EXPIRY_MARGIN_S:
        _cache[key] = (time.monotonic() + float(expires_in) - _EXPIRY_MARGIN_S, dict(headers))
    return output


async def auth_headers(
    plugin_id: str,
    config: dict[str, Any],
    ctx: StepContext,
    *,
    request: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Headers to add to an ``http`` step's request, from the auth plugin ``plugin_id``.

    ``request`` (``{"method", "url"}``) is passed on to the plugin, which may sign it.
    Raises :class:`StepFailure` when the plugin fails, crashes or is not an auth plugin.
    """
    output = await auth_credentials(plugin_id, config, ctx, request=request)
    return dict(output["headers"])
