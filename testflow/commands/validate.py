"""``testflow validate PATH...``: check flows, suites and environment files without running them.

Every problem of every file is reported as ``file:line:col: path: message`` with a source
snippet (text) or as a JSON document for editors and CI (``--format json``). Exit code 2 when
there is any error, 0 otherwise (warnings alone do not fail).
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path

import typer

from testflow.commands import EXIT_INVALID_INPUT, EXIT_OK
from testflow.dsl.diagnostics import Diagnostic
from testflow.dsl.loader import validate_files


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def use_color(stream: object = None) -> bool:
    """Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    target = stream if stream is not None else sys.stdout
    isatty = getattr(target, "isatty", None)
    return bool(isatty and isatty())


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(diagnostics: list[Diagnostic], checked: list[str]) -> str:
    """``3 errors, 1 warning in 2 files (5 files checked)``."""
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    files = len({d.file for d in diagnostics})
    if not diagnostics:
        return f"{_plural(len(checked), 'file')} checked, no problems"
    return (
        f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} in {_plural(files, 'file')} "
        f"({_plural(len(checked), 'file')} checked)"
    )


def render_json(diagnostics: list[Diagnostic], checked: list[str]) -> str:
    errors = sum(d.is_error for d in diagnostics)
    document = {
        "diagnostics": [d.to_dict() for d in diagnostics],
        "summary": {
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "files_with_problems": len({d.file for d in diagnostics}),
            "files_checked": len(checked),
        },
        "files": checked,
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def validate(
    paths: list[Path] = typer.Argument(
        ..., help="Flow, suite or environment files, or directories."
    ),
    output_format: OutputFormat = typer.Option(
        OutputFormat.text, "--format", "-f", help="text for people, json for editors and CI."
    ),
) -> None:
    """Check flows, suites and environment files; report every problem with file:line:col."""
    diagnostics, checked = validate_files(paths)
    if output_format is OutputFormat.json:
        typer.echo(render_json(diagnostics, checked))
    else:
        color = use_color()
        for diag in diagnostics:
            typer.echo(diag.format(color=color))
        if not checked and not diagnostics:
            typer.echo("no flow, suite or environment files found", err=True)
        typer.echo(summary_line(diagnostics, checked))
    has_errors = any(d.is_error for d in diagnostics)
    raise typer.Exit(EXIT_INVALID_INPUT if has_errors else EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
