"""``testflow import --from PLUGIN FILE`` and ``testflow export --to PLUGIN FLOW``.

Both go through importer/exporter plugins (see docs/plugins.md). ``--option k=v`` passes
options to the plugin (values read as YAML, so numbers stay numbers).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer
import yaml

from testflow.commands import EXIT_INFRA_ERROR, EXIT_INVALID_INPUT
from testflow.plugins.errors import PluginCrashed, PluginError, PluginStartError, PluginTimeout
from testflow.plugins.host import get_host

DirOption = typer.Option(
    None, "--plugins-dir", help="Plugin directory (default $PLUGINS_DIR or ./plugins)."
)


def _options(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--option expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def _run_plugin_call(plugins_dir: Path | None, coro: Any) -> list[Path]:
    from testflow.dsl.diagnostics import FlowValidationError
    from testflow.plugins.importer import ImportedFlowInvalid

    async def go() -> list[Path]:
        try:
            result: list[Path] = await coro
            return result
        finally:
            await get_host(plugins_dir).shutdown_all()

    try:
        return asyncio.run(go())
    except (PluginStartError, PluginCrashed, PluginTimeout) as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(EXIT_INFRA_ERROR) from None
    except PluginError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    except (FlowValidationError, ImportedFlowInvalid, FileExistsError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID_INPUT) from None


def import_flows(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The file to import."),
    plugin: str = typer.Option(..., "--from", help="The importer plugin's id."),
    out: Path = typer.Option(Path("."), "--out", "-o", help="Directory for the flow files."),
    option: list[str] = typer.Option([], "--option", help="KEY=VALUE passed to the plugin."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing flow files."),
    plugins_dir: Path | None = DirOption,
) -> None:
    """Import flows from another format with an importer plugin."""
    from testflow.plugins.importer import import_with_plugin

    paths = _run_plugin_call(
        plugins_dir,
        import_with_plugin(
            plugin,
            file,
            out,
            options=_options(option),
            plugins_dir=plugins_dir,
            overwrite=overwrite,
        ),
    )
    for path in paths:
        typer.echo(f"wrote {path}")


def export_flow(
    flow: Path = typer.Argument(..., exists=True, dir_okay=False, help="The flow file to export."),
    plugin: str = typer.Option(..., "--to", help="The exporter plugin's id."),
    out: Path = typer.Option(Path("."), "--out", "-o", help="Directory for the exported files."),
    option: list[str] = typer.Option([], "--option", help="KEY=VALUE passed to the plugin."),
    plugins_dir: Path | None = DirOption,
) -> None:
    """Export a flow to another format with an exporter plugin."""
    from testflow.plugins.exporter import export_with_plugin

    paths = _run_plugin_call(
        plugins_dir,
        export_with_plugin(plugin, flow, out, options=_options(option), plugins_dir=plugins_dir),
    )
    for path in paths:
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("import")(import_flows)
    app.command("export")(export_flow)
