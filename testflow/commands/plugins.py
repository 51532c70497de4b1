"""``testflow plugins list|info|install|uninstall|enable|disable|discover|new|schema``.

Every command takes ``--plugins-dir`` (default ``$PLUGINS_DIR`` or ``./plugins``). Plugin
processes a command starts are stopped before it returns. Exit codes: 0 ok, 2 bad input
(unknown plugin, invalid manifest, refused install), 3 a plugin could not be started.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from testflow.commands import EXIT_INFRA_ERROR, EXIT_INVALID_INPUT
from testflow.plugins.errors import (
    PluginCrashed,
    PluginError,
    PluginStartError,
    PluginTimeout,
)
from testflow.plugins.manager import PluginManager

T = TypeVar("T")
plugins_app = typer.Typer(
    help="Manage external plugins (TestMesh-compatible HTTP plugins).", no_args_is_help=True
)
DirOption = typer.Option(
    None, "--plugins-dir", help="Plugin directory (default $PLUGINS_DIR or ./plugins)."
)
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _run(plugins_dir: Path | None, work: Callable[[PluginManager], Awaitable[T]]) -> T:
    """Run ``work`` with a manager; map plugin errors to exit codes; stop started plugins."""
    manager = PluginManager(plugins_dir)

    async def go() -> T:
        try:
            return await work(manager)
        finally:
            await manager.host.shutdown_all()

    try:
        return asyncio.run(go())
    except (PluginStartError, PluginCrashed, PluginTimeout) as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(EXIT_INFRA_ERROR) from None
    except (PluginError, ValueError, FileExistsError) as exc:
        typer.echo(f"error: {getattr(exc, 'message', exc)}", err=True)
        raise typer.Exit(EXIT_INVALID_INPUT) from None


def _print_problems(problems: list[str]) -> None:
    for problem in problems:
        typer.echo(f"warning: {problem}", err=True)


def _table(plugins: list[dict[str, Any]]) -> None:
    table = Table(show_lines=False)
    for column in ("id", "version", "type", "enabled", "actions", "directory"):
        table.add_column(column)
    for p in plugins:
        actions = ", ".join(p["actions"]) or ("(run discover)" if p["type"] == "action" else "-")
        table.add_row(
            p["id"],
            p["version"],
            p["type"],
            "yes" if p["enabled"] else "no",
            actions,
            p["directory"],
        )
    Console().print(table)


@plugins_app.command("list")
def list_plugins(plugins_dir: Path | None = DirOption, as_json: bool = JsonOption) -> None:
    """List installed plugins (and problems found while scanning)."""
    data = _run(plugins_dir, lambda m: m.list())
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    if not data["plugins"]:
        typer.echo("no plugins installed")
    else:
        _table(data["plugins"])
    _print_problems(data["problems"])


@plugins_app.command("info")
def info(plugin_id: str, plugins_dir: Path | None = DirOption, as_json: bool = JsonOption) -> None:
    """Show a plugin's manifest, permissions and actions (with their schemas)."""
    data = _run(plugins_dir, lambda m: m.info(plugin_id))
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"{data['id']} {data['version']} ({data['type']}) - {data['name']}")
    if data["description"]:
        typer.echo(f"  {data['description']}")
    typer.echo(f"  directory:   {data['directory']}")
    typer.echo(f"  entry point: {data['entry_point']}")
    typer.echo(f"  enabled:     {'yes' if data['enabled'] else 'no'}")
    typer.echo(f"  permissions: {', '.join(data['permissions']) or 'none declared'}")
    for action in (data.get("info") or {}).get("actions", []):
        typer.echo(f"  action {action['id']}: {action.get('description', '')}")
        typer.echo("    schema: " + json.dumps(action.get("schema", {})))


@plugins_app.command("install")
def install(
    source: str = typer.Argument(..., help="A local plugin directory or a .tar.gz/.zip archive."),
    force: bool = typer.Option(
        False, "--force", help="Replace an installed plugin with the same id."
    ),
    plugins_dir: Path | None = DirOption,
) -> None:
    """Install a plugin from a local directory or archive (never from a URL)."""
    data = _run(plugins_dir, lambda m: m.install(source, force=force))
    typer.echo(
        f"installed {data['id']} {data['version']} ({data['type']}) into {data['directory']}"
    )
    perms = ", ".join(data["permissions"]) or "none declared"
    typer.echo(f"permissions requested: {perms}")
    typer.echo(
        "(permissions are informational: a plugin runs as your user; install only code you trust)"
    )


@plugins_app.command("uninstall")
def uninstall(plugin_id: str, plugins_dir: Path | None = DirOption) -> None:
    """Stop a plugin and delete its folder."""
    _run(plugins_dir, lambda m: m.uninstall(plugin_id))
    typer.echo(f"uninstalled {plugin_id}")


@plugins_app.command("enable")
def enable(plugin_id: str, plugins_dir: Path | None = DirOption) -> None:
    """Enable a plugin (its actions become step kinds again)."""
    _run(plugins_dir, lambda m: m.enable(plugin_id))
    typer.echo(f"enabled {plugin_id}")


@plugins_app.command("disable")
def disable(plugin_id: str, plugins_dir: Path | None = DirOption) -> None:
    """Disable a plugin (flows using its actions no longer validate)."""
    _run(plugins_dir, lambda m: m.disable(plugin_id))
    typer.echo(f"disabled {plugin_id}")


@plugins_app.command("discover")
def discover(plugins_dir: Path | None = DirOption, as_json: bool = JsonOption) -> None:
    """Rescan, start each enabled action plugin once and refresh its cached actions."""
    data = _run(plugins_dir, lambda m: m.discover(stop_after=True))
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    _table(data["plugins"])
    typer.echo(f"{len(data['actions'])} plugin action(s): {', '.join(data['actions']) or 'none'}")
    _print_problems(data["problems"])


@plugins_app.command("new")
def new(
    name: str = typer.Argument(..., help="The plugin id (also its folder name)."),
    lang: str = typer.Option("py", "--lang", help="py, ts or go."),
    directory: Path = typer.Option(Path("."), "--dir", help="Where to create the plugin folder."),
) -> None:
    """Create a new action plugin from a template."""
    from testflow.plugins.scaffold import new_plugin

    try:
        target = new_plugin(name, lang, directory)
    except (ValueError, FileExistsError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    typer.echo(f"created {target} (see its README.md)")


@plugins_app.command("schema")
def schema(
    plugins_dir: Path | None = DirOption,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write here instead of stdout."
    ),
    refresh: bool = typer.Option(False, "--refresh", help="Ask every plugin for /info again."),
) -> None:
    """The flow JSON Schema with the discovered plugin actions (for editors and the validator)."""
    from testflow.dsl.schema import flow_json_schema, render_schema
    from testflow.plugins.kinds import aplugin_registry

    async def build(manager: PluginManager) -> tuple[str, list[str]]:
        registry, found = await aplugin_registry(manager.plugins_dir, refresh=refresh)
        return render_schema(flow_json_schema(registry)), found.problems

    content, problems = _run(plugins_dir, build)
    _print_problems(problems)
    if output is None:
        typer.echo(content, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(content, encoding="utf-8")
    typer.echo(f"{output}: written")


def register(app: typer.Typer) -> None:
    app.add_typer(plugins_app, name="plugins")
