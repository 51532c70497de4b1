"""Record the committed replay histories: ``python -m tests.workflows.record_histories [NAME...]``
(no name: every case)."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from testflow.dsl.models import Flow
from testflow.runtime.devserver import start_dev_server
from testflow.runtime.engine import Engine, data_converter
from testflow.runtime.settings import Settings
from testflow.workflows.types import RunOptions, WebhookDelivery
from tests.workflows.replay_cases import CASES, OPTIONS, SUB_FLOW, TEST_KEYS

HERE = Path(__file__).resolve().parent / "histories"


def build(name: str) -> Flow:
    flow = Flow.model_validate({"name": name, **CASES[name]})
    steps = []
    for step in flow.steps:
        if step.type == "call":
            step = step.model_copy(update={"resolved": Flow.model_validate(SUB_FLOW)})
        steps.append(step)
    return flow.model_copy(update={"steps": steps})


async def main(names: list[str]) -> None:
    home = Path(tempfile.mkdtemp())
    settings = Settings(home=home, artifacts_dir=home / "a", encryption_keys=TEST_KEYS, task_queue="replay")
    env = await start_dev_server(data_converter=data_converter(settings))
    try:
        async with Engine(settings, client=env.client) as engine:
            for name in names or CASES:
                options = RunOptions(**OPTIONS.get(name, {}))
                handle = await engine.start(
                    build(name), environ={"REPLAY_TOKEN": "t0ken-value"}, run_id=f"replay-{name}", options=options
                )
                if name == "webhook":
                    await asyncio.sleep(1)
                    await handle.signal("webhook", WebhookDelivery(name="cb", body={"ok": True}, received_at=datetime.now(UTC)))
                await engine.follow(handle.id)
                history = await handle.fetch_history()
                (HERE / f"{name}.json").write_text(history.to_json())
                print("recorded", name)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
