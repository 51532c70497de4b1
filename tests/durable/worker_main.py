"""A testflow worker in its own process, for crash tests: ``python worker_main.py ADDRESS QUEUE``.

It builds the production worker (testflow.runtime.worker.build_worker) against a Temporal at
ADDRESS; the test SIGKILLs it mid-run and starts another. Settings (keys, home) come from the
TESTFLOW_* environment the test passes, so all processes share the payload key.
"""

from __future__ import annotations

import asyncio
import sys

from testflow.dsl.registry import default_registry
from testflow.runtime.devserver import connect
from testflow.runtime.engine import data_converter
from testflow.runtime.settings import Settings
from testflow.runtime.worker import build_worker


async def main(address: str, task_queue: str) -> None:
    settings = Settings(temporal_address=address, task_queue=task_queue)
    client = await connect(address, namespace="default", data_converter=data_converter(settings))
    worker = build_worker(client, settings, default_registry(), task_queue=task_queue)
    print("worker ready", flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
