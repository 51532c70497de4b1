"""Ctrl-C for ``testflow run``, local or ``--server``: the first press cancels the runs (their
teardown runs, they are followed to their end and reported), a second quits at once."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

from rich.console import Console

from testflow.commands import EXIT_INFRA_ERROR


def install_interrupt(
    cancel_runs: Callable[[], None], console: Console, where: str
) -> Callable[[], None]:
    """On the first Ctrl-C call ``cancel_runs``; on the second exit at once (code 3), the runs
    going on ``where`` ("in Temporal", "on the server"). Returns what removes the handler.

    Where the loop has no signal handlers (Windows) nothing is installed: asyncio cancels the
    main task on Ctrl-C, and the callers cancel their runs on the way out."""
    loop = asyncio.get_running_loop()
    pressed = 0

    def handler() -> None:
        nonlocal pressed
        pressed += 1
        if pressed > 1:
            console.print(f"[red]forced stop: the runs go on {where}[/red]")
            os._exit(EXIT_INFRA_ERROR)
        console.print(
            "[yellow]cancelling the runs (teardown will run); Ctrl-C again to force[/yellow]"
        )
        cancel_runs()

    try:
        loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError):
        return lambda: None

    def remove() -> None:
        loop.remove_signal_handler(signal.SIGINT)

    return remove
