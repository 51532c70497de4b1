"""``write_reports``: the one entry point ``testflow run`` and ``testflow report`` call.

Each format is one module with a ``write_<format>(report, out_dir, options)`` function;
they are imported lazily so writing ``run.json`` never loads the HTML templates or Chromium.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from collections.abc import Sequence
from pathlib import Path

from testflow.reporting.github import emit_annotations, in_github_actions
from testflow.reporting.history import HISTORY_DIR, record_history
from testflow.reporting.model import Report, ReportError
from testflow.reporting.options import ReportOptions

FORMATS = ("json", "junit", "html", "allure", "md", "pdf")
DEFAULT_FORMATS = ("json", "junit", "html")

_WRITERS = {
    "json": "testflow.reporting.json_report:write_json",
    "junit": "testflow.reporting.junit:write_junit",
    "html": "testflow.reporting.html:write_html",
    "allure": "testflow.reporting.allure:write_allure",
    "md": "testflow.reporting.markdown:write_markdown",
    "pdf": "testflow.reporting.pdf:write_pdf",
}
logger = logging.getLogger(__name__)
_ALIASES = {"xml": "junit", "markdown": "md", "run.json": "json"}

__all__ = ["DEFAULT_FORMATS", "FORMATS", "ReportOptions", "parse_formats", "write_reports"]


def parse_formats(value: str | Sequence[str]) -> tuple[str, ...]:
    """``"html,junit"`` or ``["html", "junit"]`` -> ("html", "junit"); unknown names are errors."""
    items = value.split(",") if isinstance(value, str) else [p for v in value for p in v.split(",")]
    out: list[str] = []
    for item in items:
        name = _ALIASES.get(item.strip().lower(), item.strip().lower())
        if not name:
            continue
        if name not in FORMATS:
            raise ReportError(
                f"unknown report format {item.strip()!r}; choose from {', '.join(FORMATS)}"
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def write_reports(
    report: Report,
    out_dir: Path,
    formats: Sequence[str] = DEFAULT_FORMATS,
    *,
    options: ReportOptions | None = None,
) -> dict[str, Path]:
    """Write the chosen formats into ``out_dir``; returns format -> written path.

    ``run.json`` is written first whatever the order asked, so a crash in a later reporter
    still leaves the canonical result on disk to re-render with ``testflow report``.
    """
    options = options or ReportOptions()
    names = parse_formats(formats)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if options.history and options.history_dir is None:
        options = dataclasses.replace(options, history_dir=out_dir / HISTORY_DIR)
    elif not options.history:
        options = dataclasses.replace(options, history_dir=None)
    ordered = sorted(names, key=lambda n: 0 if n == "json" else 1)
    written: dict[str, Path] = {}
    for name in ordered:
        module_name, func_name = _WRITERS[name].split(":")
        writer = getattr(importlib.import_module(module_name), func_name)
        written[name] = writer(report, out_dir, options)
    if options.history_dir is not None:
        try:
            record_history(report, options.history_dir, options.masker)
        except OSError as exc:  # history is a convenience: never fail the reports for it
            logger.warning("could not record run history in %s: %s", options.history_dir, exc)
    if in_github_actions():
        emit_annotations(report, options)
    return written
