"""The HTTP plumbing shared by the observability executors: one pooled httpx client per
worker, calls bounded by the step's time, errors mapped onto step failures."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from testflow.activities import pools
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl.kinds.observability import (
    HttpBackend,
    ResultCount,
)


async def _http(verify: bool) -> httpx.AsyncClient:
    async def make() -> httpx.AsyncClient:
        return httpx.AsyncClient(verify=verify, follow_redirects=True)

    async def close(client: httpx.AsyncClient) -> None:
        await client.aclose()

    client: httpx.AsyncClient = await pools.get_or_create(
        "http-observability", str(verify), make, close
    )
    return client


def _base_url(config: HttpBackend, ctx: StepContext) -> str:
    return ctx.resolve_dsn(config.url, config.connection).rstrip("/")


async def call_api(
    backend: str,
    config: HttpBackend,
    ctx: StepContext,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    ok_statuses: tuple[int, ...] = (),
) -> tuple[int, Any]:
    """One API call within the step's time: (status, parsed JSON body or None)."""
    base = _base_url(config, ctx)
    address = pools.host_port(base, 443 if base.startswith("https") else 80)
    sent = {"Accept": "application/json", **config.headers, **(headers or {})}
    if config.token:
        sent["Authorization"] = f"Bearer {config.token}"
    auth = (
        (config.username or "", config.password or "")
        if config.username or config.password
        else None
    )
    client = await _http(config.verify_tls)
    budget = ctx.remaining()
    try:
        async with asyncio.timeout(budget):
            resp = await client.request(
                method,
                base + path,
                params=params,
                json=json_body,
                headers=sent,
                auth=auth,
                timeout=budget,
            )
    except (TimeoutError, httpx.TimeoutException):
        raise StepFailure(
            f"{backend} at {address} did not answer within {budget:.1f}s", type="Timeout"
        ) from None
    except httpx.TransportError as exc:
        raise StepFailure(
            f"cannot connect to {backend} at {address}: {exc or type(exc).__name__}",
            type="InfraError",
            details={"address": address},
        ) from None
    try:
        body = resp.json() if resp.content else None
    except ValueError:
        body = None
    if resp.status_code >= 400 and resp.status_code not in ok_statuses:
        reason = _error_text(body) or resp.text[:500]
        raise StepFailure(
            f"{backend} answered {resp.status_code} to {method} {path}: {reason}",
            details={"status": resp.status_code},
            retryable=resp.status_code >= 500 or resp.status_code == 429,
        )
    return resp.status_code, body


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("error", "message", "errors"):
            if body.get(key):
                return str(body[key])
    return ""


def check_count(backend: str, query: str, count: int, limits: ResultCount, what: str) -> None:
    """The ``*.assert`` rule: between min_results and max_results results."""
    low, high = limits.min_results, limits.max_results
    if count < low or (high is not None and count > high):
        bound = f"at least {low}" if count < low else f"at most {high}"
        raise StepFailure(
            f"{backend} query returned {count} {what} (expected {bound}): {query}",
            type="AssertionFailed",
            retryable=False,
            details={"path": "count", "expected": bound, "actual": count},
        )


def make_output(
    document: Any, fields: dict[str, Any], summary: str, request: Any, started: float
) -> Output:
    fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    response = {k: v for k, v in fields.items() if k != "duration_ms"}
    return Output(
        document=document, fields=fields, summary=summary, request=request, response=response
    )
