"""``testflow schema``: write the JSON Schema of flow files (and the step-kinds reference).

The schema is generated from the models and the step registry and committed as
``schemas/flow.schema.json``; ``--check`` (used by CI and a test) fails when the committed
file is stale.
"""

from __future__ import annotations

from pathlib import Path

import typer

from testflow.commands import EXIT_INVALID_INPUT, EXIT_OK
from testflow.dsl.schema import (
    DOCS_PATH,
    SCHEMA_PATH,
    flow_json_schema,
    render_schema,
    step_kinds_markdown,
)


def _write_or_check(path: Path, content: str, check: bool) -> bool:
    """True when the file is (now) up to date."""
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if current == content:
        typer.echo(f"{path}: up to date")
        return True
    if check:
        typer.echo(f"{path}: stale; run `testflow schema` to regenerate it", err=True)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    typer.echo(f"{path}: written")
    return True


def schema(
    output: Path = typer.Option(
        Path(SCHEMA_PATH), "--output", "-o", help="Where to write the schema."
    ),
    check: bool = typer.Option(
        False, "--check", help="Do not write; exit 2 when the file is stale."
    ),
    docs: Path = typer.Option(
        Path(DOCS_PATH), "--docs", help="Where to write the step-kinds reference (Markdown)."
    ),
    no_docs: bool = typer.Option(False, "--no-docs", help="Do not write or check the reference."),
    stdout: bool = typer.Option(False, "--stdout", help="Print the schema instead of writing it."),
) -> None:
    """Write schemas/flow.schema.json and docs/step-kinds.md from the models and the registry."""
    content = render_schema(flow_json_schema())
    if stdout:
        typer.echo(content, nl=False)
        raise typer.Exit(EXIT_OK)
    ok = _write_or_check(output, content, check)
    if not no_docs:
        ok = _write_or_check(docs, step_kinds_markdown(), check) and ok
    raise typer.Exit(EXIT_OK if ok else EXIT_INVALID_INPUT)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
