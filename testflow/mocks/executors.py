"""Executors of ``mock`` (serve a partner mock from this worker) and ``mock.verify``."""

from __future__ import annotations

from typing import Any

import httpx

from testflow.activities.base import Output, StepContext, StepFailure
from testflow.dsl.diagnostics import FlowValidationError
from testflow.dsl.kinds.mock import MockConfig, MockVerifyConfig, RequestMatch
from testflow.mocks.files import check_routes, load_mock_file
from testflow.mocks.hub import hub
from testflow.mocks.server import CallRequest, Mock, match_request


async def serve(config: MockConfig, ctx: StepContext) -> Output:
    routes = list(config.routes)
    if config.file:
        try:
            routes.extend(load_mock_file(ctx.resolve_file(config.file, "mock file")).routes)
        except FlowValidationError as exc:
            raise StepFailure(
                f"mock {config.name}: {exc.format()}", type="InvalidConfig", retryable=False
            ) from exc
    problems = check_routes(list(config.routes))
    if problems:
        raise StepFailure(
            f"mock {config.name}: " + "; ".join(problems), type="InvalidConfig", retryable=False
        )
    mock = Mock(config.name, routes, unmatched_status=config.unmatched_status)
    try:
        url = await hub().add(ctx.run_id, mock, port=config.port, ttl_s=config.ttl.total_seconds())
    except OSError as exc:
        raise StepFailure(str(exc), type="InfraError") from exc
    existing = ctx.variables.get("mocks")
    mocks = dict(existing) if isinstance(existing, dict) else {}
    mocks[config.name] = {"url": url}
    document = {"name": config.name, "url": url, "routes": len(routes)}
    return Output(
        document=document,
        fields={"url": url, "routes": len(routes)},
        summary=f"mock {config.name} at {url} ({len(routes)} route(s))",
        response=document,
        variables={"mocks": mocks},
    )


async def verify(config: MockVerifyConfig, ctx: StepContext) -> Output:
    url = config.url or _url_from_context(ctx, config.name)
    try:
        async with httpx.AsyncClient(timeout=max(1.0, ctx.remaining())) as http:
            reply = await http.get(f"{url.rstrip('/')}/__admin/requests")
    except httpx.HTTPError as exc:
        raise StepFailure(
            f"mock {config.name} at {url} is not reachable ({type(exc).__name__}); did the worker "
            "that served it restart?",
            type="InfraError",
        ) from exc
    if reply.status_code != 200:
        raise StepFailure(
            f"mock {config.name} at {url} is not served any more (HTTP {reply.status_code})",
            type="InfraError",
        )
    journal: list[dict[str, Any]] = reply.json().get("requests", [])
    spec = RequestMatch.model_validate(config.model_dump(include=set(RequestMatch.model_fields)))
    matched = [c for c in journal if match_request(spec, _call(c)) is not None]
    if config.times is not None and len(matched) != config.times:
        seen = ", ".join(f"{c['method']} {c['path']}" for c in journal[-5:]) or "none"
        raise StepFailure(
            f"mock {config.name}: expected {config.times} matching call(s), got {len(matched)} "
            f"({len(journal)} call(s) in all; last: {seen})",
            type="AssertionFailed",
            retryable=False,
        )
    return Output(
        document=matched,
        fields={"count": len(matched), "calls": matched, "total": len(journal)},
        summary=f"mock {config.name}: {len(matched)} matching call(s) of {len(journal)}",
        response={"matched": matched[:20], "total": len(journal)},
    )


def _url_from_context(ctx: StepContext, name: str) -> str:
    mocks = ctx.variables.get("mocks")
    entry = mocks.get(name) if isinstance(mocks, dict) else None
    if not isinstance(entry, dict) or not entry.get("url"):
        raise StepFailure(
            f"no mock named {name!r} was started in this run (run a `mock` step first, or give `url`)",
            type="InvalidConfig",
            retryable=False,
        )
    return str(entry["url"])


def _call(entry: dict[str, Any]) -> CallRequest:
    return CallRequest(
        method=str(entry.get("method", "")),
        path=str(entry.get("path", "")),
        query=dict(entry.get("query") or {}),
        headers=dict(entry.get("headers") or {}),
        body=entry.get("body"),
    )
