"""The floor for bench/steps.py: a bare loop of local activities calling httpx, no testflow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

_client: Any = None


@activity.defn(name="bench.bare_get")
async def bare_get(url: str) -> int:
    global _client
    if _client is None:
        import httpx  # loaded in the activity only: workflow code stays free of I/O clients

        _client = httpx.AsyncClient()
    response = await _client.get(url)
    return response.status_code


@workflow.defn(name="BareLoop")
class BareLoop:
    @workflow.run
    async def run(self, args: tuple[str, int]) -> int:
        url, n = args
        for _ in range(n):
            await workflow.execute_local_activity(
                bare_get, url, start_to_close_timeout=timedelta(seconds=10)
            )
        return n
