"""`testflow` imports a command's module only when that command runs (cold-start budget)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import typer

from testflow import cli, commands


def test_the_command_table_names_every_command_and_its_module() -> None:
    registered: dict[str, str] = {}
    for info in pkgutil.iter_modules(commands.__path__):
        register = getattr(
            importlib.import_module(f"testflow.commands.{info.name}"), "register", None
        )
        if register is None:
            continue
        holder = typer.Typer()
        register(holder)
        for name in typer.main.get_group(holder).commands:
            registered[name] = info.name
    assert registered == cli.COMMAND_MODULES


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def test_importing_the_cli_loads_no_library_of_any_command() -> None:
    loaded = _modules_after("import testflow.cli")
    assert not loaded & {"pydantic", "jinja2", "httpx", "temporalio", "yaml", "rich.console"}
    assert not {m for m in loaded if m.startswith("testflow.commands.")}


def test_running_a_command_imports_only_its_module() -> None:
    code = (
        "from typer.testing import CliRunner\n"
        "from testflow.cli import app\n"
        "result = CliRunner().invoke(app, ['run', '--help'])\n"
        "assert result.exit_code == 0 and 'Run flows' in result.output, result.output\n"
    )
    loaded = {m for m in _modules_after(code) if m.startswith("testflow.commands.")}
    assert loaded == {"testflow.commands.run"}


def test_help_still_lists_every_command() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    for name in cli.COMMAND_MODULES:
        assert name in result.output
