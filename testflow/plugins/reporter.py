"""Reporter plugins: after a run, each gets the run result JSON and returns its own files.

``testflow run --report-plugin NAME`` calls :func:`run_reporter_plugins`. Request ``config``:
``{"result": <RunResult / report JSON>, "options": {...}}``; context ``execution_id`` is the
run id and ``flow_id`` the flow name. Answer ``output``: ``{"files": [{"name", "content" |
"content_base64", "media_type"?}]}``, written into the report directory.

A failing reporter does not stop the others: all run, then :class:`ReporterFailed` lists the
failures (and the files that were written).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from testflow.plugins.errors import PluginError
from testflow.plugins.host import get_host
from testflow.plugins.typed import (
    REPORT_ACTION,
    call_typed,
    empty_context,
    output_dict,
    write_files,
)


class ReporterFailed(PluginError):
    code = "REPORTER_FAILED"

    def __init__(self, failures: list[str], written: list[Path]) -> None:
        super().__init__("; ".join(failures), details={"written": [str(p) for p in written]})
        self.failures = failures
        self.written = written


async def run_reporter_plugins(
    result_json: dict[str, Any],
    out_dir: Path,
    plugins: list[str],
    *,
    options: dict[str, Any] | None = None,
    plugins_dir: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Run each reporter plugin on ``result_json``; returns the files written in ``out_dir``."""
    host = get_host(plugins_dir)
    context = empty_context(
        execution_id=str(result_json.get("run_id", "")), flow_id=str(result_json.get("flow", ""))
    )
    written: list[Path] = []
    failures: list[str] = []
    for plugin_id in plugins:
        try:
            response = await call_typed(
                plugin_id,
                "reporter",
                REPORT_ACTION,
                {"result": result_json, "options": options or {}},
                context,
                host=host,
            )
            files = output_dict(response, plugin_id, "files")["files"]
            written.extend(write_files(files, out_dir, plugin_id))
        except PluginError as exc:
            failures.append(f"reporter {plugin_id!r}: {exc.message}")
    if failures:
        raise ReporterFailed(failures, written)
    return written
