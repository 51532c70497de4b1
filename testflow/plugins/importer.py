"""Importer plugins: ``testflow import --from PLUGIN FILE`` turns a foreign file into flows.

Request ``config``: ``{"filename", "content"}`` (text, when the file is UTF-8) or
``{"filename", "content_base64"}`` (otherwise), plus ``"options"`` from ``--option k=v``.
Answer ``output``: ``{"flows": [{"filename": "x.yaml", "flow": {...}} | {"filename",
"text": "<yaml>"}]}``. Every flow is validated with testflow's own loader (the registry
includes plugin actions) before it is written; an invalid one fails the import with the
loader's diagnostics, and nothing is written.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

from testflow.dsl.registry import StepRegistry
from testflow.plugins.errors import PluginProtocolError
from testflow.plugins.host import get_host
from testflow.plugins.kinds import aplugin_registry
from testflow.plugins.typed import IMPORT_ACTION, call_typed, empty_context, output_dict, safe_name


class ImportedFlowInvalid(ValueError):
    """A flow the importer produced does not validate; the message has the diagnostics."""


def _source_config(file: Path, options: dict[str, Any]) -> dict[str, Any]:
    raw = file.read_bytes()
    config: dict[str, Any] = {"filename": file.name, "options": options}
    try:
        config["content"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        config["content_base64"] = base64.b64encode(raw).decode()
    return config


def _flow_text(item: Any, plugin_id: str) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise PluginProtocolError(
            f"importer {plugin_id!r}: each entry of 'flows' must be an object"
        )
    filename = item.get("filename") or "imported.yaml"
    if isinstance(item.get("text"), str):
        return filename, item["text"]
    if isinstance(item.get("flow"), dict):
        text = yaml.safe_dump(item["flow"], sort_keys=False, allow_unicode=True)
        return filename, text
    raise PluginProtocolError(
        f"importer {plugin_id!r}: flow {filename!r} needs 'flow' (an object) or 'text' (YAML)"
    )


def _validate(text: str, filename: str, registry: StepRegistry) -> None:
    from testflow.dsl.diagnostics import FlowValidationError
    from testflow.dsl.loader import parse_flow

    try:
        parse_flow(text, filename, registry=registry)
    except FlowValidationError as exc:
        raise ImportedFlowInvalid(
            f"the importer produced an invalid flow {filename}:\n{exc}"
        ) from None


async def import_with_plugin(
    plugin_id: str,
    file: Path,
    out_dir: Path,
    *,
    options: dict[str, Any] | None = None,
    plugins_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Import ``file`` with an importer plugin; returns the flow files written in ``out_dir``."""
    response = await call_typed(
        plugin_id,
        "importer",
        IMPORT_ACTION,
        _source_config(file, options or {}),
        empty_context(),
        host=get_host(plugins_dir),
    )
    flows = output_dict(response, plugin_id, "flows")["flows"]
    if not isinstance(flows, list) or not flows:
        raise PluginProtocolError(f"importer {plugin_id!r} produced no flow")
    registry, _ = await aplugin_registry(plugins_dir)
    planned: list[tuple[Path, str]] = []
    for item in flows:
        filename, text = _flow_text(item, plugin_id)
        target = safe_name(out_dir, filename, plugin_id)
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} exists (use --overwrite to replace it)")
        _validate(text, str(target), registry)
        planned.append((target, text))
    for target, text in planned:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return [t for t, _ in planned]
