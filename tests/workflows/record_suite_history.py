"""Record the committed suite history: ``python -m tests.workflows.record_suite_history``.

Two flows of transform/log steps, one at a time, the second one failing: the suite starts
both children in turn, waits for each and fails. Recorded with the test-only payload key.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from testflow.dsl.models import Flow
from testflow.runtime.devserver import start_dev_server
from testflow.runtime.engine import Engine, data_converter
from testflow.runtime.settings import Settings
from testflow.workflows.suite import SuiteChild, SuiteInput
from tests.workflows.replay_cases import TEST_KEYS

OUT = Path(__file__).resolve().parent / "histories" / "suite_basic.json"
FLOWS = [
    {"name": "first", "steps": [{"id": "calc", "type": "transform", "set": {"x": 1}}]},
    {
        "name": "second",
        "steps": [{"id": "bad", "type": "assert", "value": 1, "assert": {"$": 2}}],
        "teardown": [{"id": "bye", "type": "log", "message": "teardown"}],
    },
]


async def main() -> None:
    home = Path(tempfile.mkdtemp())
    settings = Settings(home=home, artifacts_dir=home / "a", encryption_keys=TEST_KEYS, task_queue="replay")
    env = await start_dev_server(data_converter=data_converter(settings))
    try:
        async with Engine(settings, client=env.client) as engine:
            children = []
            for i, data in enumerate(FLOWS):
                prepared = engine.prepare(Flow.model_validate(data), environ={}, run_id=f"replay-suite-{i}")
                children.append(SuiteChild(run_id=prepared.run_id, input=prepared))
            suite = SuiteInput(name="replay suite", children=children, concurrency=1)
            handle = await engine.start_suite(suite, suite_run_id="replay-suite")
            await handle.result()
            OUT.write_text((await handle.fetch_history()).to_json())
            print("recorded", OUT.name)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
