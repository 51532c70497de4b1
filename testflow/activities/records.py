"""The activity that moves a long run's step records to the artifact store.

The interpreter keeps a page of records at a time (``RunOptions.records_page``), hands each
full page to this activity, and its result lists the pages (``RunResult.steps_stored``);
:func:`testflow.runtime.run_results.with_stored_steps` puts them back for reports and the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import activity

from testflow.dsl.results import ArtifactRef
from testflow.runtime.artifacts import ArtifactStore, flush_writes
from testflow.workflows.records import STORE_RECORDS
from testflow.workflows.types import RecordsPage


def page_name(index: int) -> str:
    return f"steps-{index:05d}.json"


def store_records_activity(store: ArtifactStore) -> Callable[..., Any]:
    @activity.defn(name=STORE_RECORDS)
    async def store_records(page: RecordsPage) -> ArtifactRef:
        # Masked by the workflow already (as in the result). Same page, same file: a retry
        # after a lost completion writes it again.
        records = [r.model_dump(mode="json", exclude_defaults=True) for r in page.records]
        ref = await store.aput_json(page.run_id, page_name(page.index), records)
        # The run's result refers to it next: it must be readable before that.
        await asyncio.to_thread(flush_writes)
        return ref

    return store_records
