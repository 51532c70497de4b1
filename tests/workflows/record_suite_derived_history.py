"""Record the committed history of a suite that derives its children's run ids from its own
workflow id (a scheduled suite run): ``python -m tests.workflows.record_suite_derived_history``.

The flows of record_suite_history.py, one at a time, the children's run ids left empty.
Recorded with the test-only payload key.
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
from tests.workflows.record_suite_history import FLOWS
from tests.workflows.replay_cases import TEST_KEYS

OUT = Path(__file__).resolve().parent / "histories" / "suite_derived_ids.json"
SUITE_ID = "replay-suite-derived"


async def main() -> None:
    home = Path(tempfile.mkdtemp())
    settings = Settings(
        home=home, artifacts_dir=home / "a", encryption_keys=TEST_KEYS, task_queue="replay"
    )
    env = await start_dev_server(data_converter=data_converter(settings))
    try:
        async with Engine(settings, client=env.client) as engine:
            children = [
                SuiteChild(run_id="", input=engine.prepare(Flow.model_validate(data), environ={}))
                for data in FLOWS
            ]
            suite = SuiteInput(
                name="replay suite", children=children, concurrency=1, derive_child_ids=True
            )
            handle = await engine.start_suite(suite, suite_run_id=SUITE_ID)
            result = await handle.result()
            assert [c.run_id for c in result.children] == [f"{SUITE_ID}.0", f"{SUITE_ID}.1"]
            OUT.write_text((await handle.fetch_history()).to_json())
            print("recorded", OUT.name, result.status, [c.status for c in result.children])
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
