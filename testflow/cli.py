"""The ``testflow`` command line.

Each module of :mod:`testflow.commands` adds its commands with a ``register(app)`` function,
so a command lives next to the code it drives and this file stays a composition root.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

import testflow
from testflow import commands

app = typer.Typer(
    name="testflow",
    help="Durable end-to-end tests for B2B integrations, run as Temporal workflows.",
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


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
