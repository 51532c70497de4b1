"""Exporter plugins: ``testflow export --to PLUGIN FLOW`` writes a flow in another format.

The flow is validated first (an exporter should never have to cope with a broken flow).
Request ``config``: ``{"flow": <the flow as written, parsed from YAML/JSON>, "flow_text":
<the file's text>, "filename": <its name>, "options": {...}}``. Answer ``output``: ``{"files":
[{"name", "content" | "content_base64"}]}``, written into the output directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from testflow.dsl.registry import StepRegistry
from testflow.plugins.host import get_host
from testflow.plugins.kinds import aplugin_registry
from testflow.plugins.typed import (
    EXPORT_ACTION,
    call_typed,
    empty_context,
    output_dict,
    write_files,
)


def _read_flow(flow_file: Path, registry: StepRegistry) -> tuple[str, str]:
    """(flow name, file text) of a flow that validates (raises FlowValidationError else)."""
    from testflow.dsl.loader import load_flow

    loaded = load_flow(flow_file, registry=registry)
    return loaded.flow.name, flow_file.read_text(encoding="utf-8")


async def export_with_plugin(
    plugin_id: str,
    flow_file: Path,
    out_dir: Path,
    *,
    options: dict[str, Any] | None = None,
    plugins_dir: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Export one flow file with an exporter plugin; returns the files written."""
    registry, _ = await aplugin_registry(plugins_dir)
    flow_name, text = _read_flow(flow_file, registry)
    config = {
        "flow": yaml.safe_load(text),
        "flow_text": text,
        "filename": flow_file.name,
        "options": options or {},
    }
    response = await call_typed(
        plugin_id,
        "exporter",
        EXPORT_ACTION,
        config,
        empty_context(flow_id=flow_name),
        host=get_host(plugins_dir),
    )
    files = output_dict(response, plugin_id, "files")["files"]
    return write_files(files, out_dir, plugin_id)
