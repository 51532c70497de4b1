"""A small SSE reader for the tests (the event stream of docs/api-contract.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx


async def sse_events(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Yield ``{"id", "event", "data"}`` per server-sent event until the server ends the stream."""
    async with client.stream("GET", path, headers=headers, timeout=60) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if not line:
                if "data" in current:
                    current["data"] = json.loads(current["data"])
                    yield current
                current = {}
                continue
            if line.startswith(":"):
                continue  # a ping
            field, _, value = line.partition(":")
            current[field] = value[1:] if value.startswith(" ") else value


async def collect(client: httpx.AsyncClient, path: str, **kw: Any) -> list[dict[str, Any]]:
    return [e async for e in sse_events(client, path, **kw)]
