"""``testflow docs FLOWS...``: human documentation of flows (Markdown and/or HTML).

Each flow gets ``<name>.md`` / ``<name>.html`` in the output directory, plus an index when
there are several. The text comes from the validated flows and the step registry.
"""

from __future__ import annotations

from pathlib import Path

import typer

from testflow.commands import EXIT_INVALID_INPUT
from testflow.dsl.collect import collect_flows
from testflow.dsl.diagnostics import FlowValidationError
from testflow.reporting.docs import flow_markdown, markdown_to_html
from testflow.reporting.options import slug

DOC_FORMATS = ("md", "html")


def _formats(value: str) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(p.strip().lower() for p in value.split(",") if p.strip()))
    bad = [f for f in out if f not in DOC_FORMATS]
    if bad or not out:
        raise typer.BadParameter(
            f"unknown docs format {', '.join(bad) or value!r}; choose from md, html"
        )
    return out


def docs_command(
    flows: list[Path] = typer.Argument(..., help="Flow files, suites or directories."),
    out: Path = typer.Option(Path("docs/flows"), "--out", "-o", help="Output directory."),
    fmt: str = typer.Option(
        "md,html", "--format", "-f", help="Formats, comma-separated: md, html."
    ),
) -> None:
    """Render test documentation (overview, prerequisites, steps, expected results, data)."""
    formats = _formats(fmt)
    try:
        loaded = collect_flows(flows)
    except FlowValidationError as exc:
        typer.echo(exc.format(), err=True)
        raise typer.Exit(EXIT_INVALID_INPUT) from exc
    out.mkdir(parents=True, exist_ok=True)
    index: list[tuple[str, str, str]] = []
    used: set[str] = set()
    for item in loaded:
        name = slug(Path(item.path).stem)
        while name in used:  # two flows with the same file name in different folders
            name += "-2"
        used.add(name)
        text = flow_markdown(item.flow, item.path)
        if "md" in formats:
            (out / f"{name}.md").write_text(text, encoding="utf-8")
        if "html" in formats:
            (out / f"{name}.html").write_text(
                markdown_to_html(text, item.flow.name), encoding="utf-8"
            )
        index.append((name, item.flow.name, (item.flow.description or "").strip().split("\n")[0]))
        typer.echo(f"  {item.path} -> {out / name}.{{{','.join(formats)}}}")
    if len(index) > 1:
        ext = "md" if "md" in formats else "html"
        lines = ["# Flows", ""] + [
            f"- [{title}]({name}.{ext}) — {desc}".rstrip(" —") for name, title, desc in index
        ]
        text = "\n".join(lines) + "\n"
        if "md" in formats:
            (out / "index.md").write_text(text, encoding="utf-8")
        if "html" in formats:
            html_index = text.replace(".md)", ".html)")
            (out / "index.html").write_text(markdown_to_html(html_index, "Flows"), encoding="utf-8")
    typer.echo(f"documented {len(loaded)} flows in {out}")


def register(app: typer.Typer) -> None:
    app.command("docs")(docs_command)
