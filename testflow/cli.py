"""The ``testflow`` command line.

Each module of :mod:`testflow.commands` adds its commands with a ``register(app)`` function,
so a command lives next to the code it drives and this file stays a composition root.

Modules are imported when their command runs, not when the CLI starts: ``testflow run``
does not pay for the API server, the docs renderer or the plugin manager (a cold
``testflow run`` has a 1.5 s budget, dev server included). ``testflow --help`` imports them all.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib
import os
import pkgutil
import sys
from typing import TYPE_CHECKING

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:  # typer's own copy of click (the `click` package is another one)
    from typer._click import Command, Context

import testflow
from testflow import commands

# Which module of testflow.commands registers each command, so that running one imports one
# module. A command missing here is still found (by importing every module);
# tests/runtime/test_cli_lazy.py keeps the table exact.
COMMAND_MODULES = {
    "codec-server": "codec_server",
    "demo": "demo",
    "docs": "docs",
    "export": "transfer",
    "import": "transfer",
    "mock": "mock",
    "plugins": "plugins",
    "report": "report",
    "run": "run",
    "runs": "runs",
    "schema": "schema",
    "serve": "serve",
    "tokens": "tokens",
    "validate": "validate",
    "worker": "worker",
}


@functools.cache
def module_commands(module: str) -> dict[str, Command]:
    """The click commands one module of testflow.commands registers."""
    imported = importlib.import_module(f"{commands.__name__}.{module}")
    register = getattr(imported, "register", None)
    if register is None:
        return {}
    holder = typer.Typer()
    register(holder)
    return dict(typer.main.get_group(holder).commands)


def all_commands() -> dict[str, Command]:
    found: dict[str, Command] = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        found.update(module_commands(info.name))
    return found


class _LazyCommands(TyperGroup):
    def list_commands(self, ctx: Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *all_commands()})

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMAND_MODULES:
            command = module_commands(COMMAND_MODULES[cmd_name]).get(cmd_name)
        if command is None:
            command = all_commands().get(cmd_name)
        return command


app = typer.Typer(
    name="testflow",
    help="Durable end-to-end tests for B2B integrations, run as Temporal workflows.",
    cls=_LazyCommands,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"testflow {testflow.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """testflow runs flows (YAML/JSON) as durable Temporal workflows."""


def main() -> None:
    """The console script: run the command, then exit without tearing the interpreter down."""
    try:
        app()
    except SystemExit as exc:
        _exit_now(exc.code)
    except Exception as exc:  # only bad settings become a message; the rest re-raises
        message = settings_problem(exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        _exit_now(2)  # EXIT_INVALID_INPUT (testflow.commands is not imported for this)


def settings_problem(exc: BaseException) -> str | None:
    """A ``TESTFLOW_*`` environment variable with a bad value, as a message naming it."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError) or exc.title != "Settings":
        return None
    lines = ["configuration error:"]
    for error in exc.errors(include_url=False):
        # The value itself is never printed: it may be a key or a client secret.
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:
            message = f"TESTFLOW_{str(error['loc'][0]).upper()}: {message}"
        lines.append(f"  {message}")
    return "\n".join(lines)


def _exit_now(code: object) -> None:
    """Flush, run the exit handlers, and leave with ``os._exit``.

    Tearing down ~1,000 modules (the SDK, pydantic's schemas) took 0.2-1 s after ``testflow
    run`` had finished its work, a third of a cold run. Exit handlers still run (the artifact
    writer's flush, logging, coverage); only the interpreter's teardown is skipped. Tests call
    ``app``, never this (it would end the test process).
    """
    status = 0
    if isinstance(code, int):
        status = code
    elif code is not None:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
