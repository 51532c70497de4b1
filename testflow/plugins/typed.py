"""Calls to the non-action plugin types (auth, importer, exporter, reporter), and file output.

Every type speaks the same ``POST /execute``; the action names ``authenticate``, ``import``,
``export`` and ``report`` are reserved for them (docs/plugins.md documents each ``config``
and ``output``). Files a plugin produces come back in its answer (``files: [{name, content
| content_base64}]``) and testflow writes them itself, so a plugin never needs write access
outside its directory and a name like ``../../etc/x`` is refused here.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path, PurePosixPath
from typing import Any

from testflow.plugins.client import ExecuteResponse
from testflow.plugins.errors import PluginCallFailed, PluginError, PluginProtocolError
from testflow.plugins.host import PluginHost, get_host
from testflow.plugins.manifest import PluginType
from testflow.plugins.sdk.core import AUTH_ACTION, EXPORT_ACTION, IMPORT_ACTION, REPORT_ACTION

__all__ = [
    "AUTH_ACTION",
    "EXPORT_ACTION",
    "IMPORT_ACTION",
    "REPORT_ACTION",
    "call_typed",
    "write_files",
]

DEFAULT_TIMEOUT_S = 60.0


def empty_context(**values: Any) -> dict[str, Any]:
    """A protocol ``context`` for calls made outside a run step."""
    base: dict[str, Any] = {
        "execution_id": "",
        "flow_id": "",
        "step_id": "",
        "variables": {},
        "step_outputs": {},
    }
    base.update(values)
    return base


async def call_typed(
    plugin_id: str,
    expected: PluginType,
    action: str,
    config: dict[str, Any],
    context: dict[str, Any],
    *,
    host: PluginHost | None = None,
    plugins_dir: str | os.PathLike[str] | None = None,
    timeout_s: float | None = None,
) -> ExecuteResponse:
    """Call a plugin of type ``expected``; raise :class:`PluginCallFailed` on ``success: false``."""
    host = host or get_host(plugins_dir)
    plugin = host.plugin(plugin_id)
    if plugin.manifest.type != expected:
        raise PluginError(
            f"plugin {plugin_id!r} is of type {plugin.manifest.type!r}, not {expected!r}"
        )
    limit = timeout_s or plugin.manifest.default_timeout() or DEFAULT_TIMEOUT_S
    response = await host.call(plugin_id, action, config, context, limit)
    if not response.success:
        error = response.error
        raise PluginCallFailed(
            f"plugin {plugin_id!r}: {error.code if error else 'PLUGIN_ERROR'}: "
            f"{error.message if error else 'failed without a message'}",
            code=error.code if error else "PLUGIN_ERROR",
            details=error.details if error else {},
            logs=response.logs,
        )
    return response


def output_dict(response: ExecuteResponse, plugin_id: str, key: str) -> dict[str, Any]:
    """The answer's ``output`` as an object that has ``key``."""
    output = response.output
    if not isinstance(output, dict) or key not in output:
        raise PluginProtocolError(
            f"plugin {plugin_id!r} answered without {key!r} in its output (got {type(output).__name__})"
        )
    return output


def safe_name(out_dir: Path, name: Any, plugin_id: str) -> Path:
    """``out_dir/name`` when ``name`` is a relative path that stays inside ``out_dir``."""
    if not isinstance(name, str) or not name.strip():
        raise PluginProtocolError(f"plugin {plugin_id!r} gave a file without a name")
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts:
        raise PluginProtocolError(
            f"plugin {plugin_id!r} tried to write {name!r} outside the output directory"
        )
    target = (out_dir / pure).resolve()
    if not target.is_relative_to(out_dir.resolve()):
        raise PluginProtocolError(
            f"plugin {plugin_id!r} tried to write {name!r} outside the output directory"
        )
    return target


def write_files(files: Any, out_dir: Path, plugin_id: str) -> list[Path]:
    """Write ``[{name, content | content_base64}]`` into ``out_dir``; returns the paths."""
    if not isinstance(files, list):
        raise PluginProtocolError(f"plugin {plugin_id!r}: 'files' must be a list")
    written: list[Path] = []
    for item in files:
        if not isinstance(item, dict):
            raise PluginProtocolError(f"plugin {plugin_id!r}: each file must be an object")
        target = safe_name(out_dir, item.get("name"), plugin_id)
        if "content_base64" in item:
            try:
                data = base64.b64decode(str(item["content_base64"]), validate=True)
            except (binascii.Error, ValueError):
                raise PluginProtocolError(
                    f"plugin {plugin_id!r}: {item['name']!r} has invalid content_base64"
                ) from None
        elif isinstance(item.get("content"), str):
            data = item["content"].encode("utf-8")
        else:
            raise PluginProtocolError(
                f"plugin {plugin_id!r}: {item['name']!r} needs 'content' (text) or 'content_base64'"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written
