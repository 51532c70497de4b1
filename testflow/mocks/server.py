"""A partner mock: routes, request matching, templated answers, scenarios and a journal.

:class:`Mock` is the state of one mock (framework-free: it takes a :class:`CallRequest` and
gives an answer); :func:`mock_app` serves one or more mocks over ASGI with the admin endpoints
``GET <mock>/__admin/requests`` (the journal), ``POST <mock>/__admin/reset`` and
``GET <mock>/__admin/health``.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from testflow.dsl import assertions as assertion_engine
from testflow.dsl.kinds.mock import MockResponse, MockRoute, RequestMatch
from testflow.dsl.templating import Renderer, TemplateError, TemplateRuntime

ADMIN = "/__admin"
INITIAL_STATE = "Started"
JOURNAL_LIMIT = 10_000
BODY_LIMIT = 64 * 1024  # bodies kept in the journal per call


@dataclass
class CallRequest:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def view(self, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "params": dict(params or {}),
        }


_REQUEST_TIME = re.compile(r"\$\{\s*(.+?)\s*\}")


def request_time(value: Any) -> Any:
    """``${ request.body.id }`` -> ``{{ request.body.id }}``.

    Routes written inline in a flow are rendered by the run first (``{{ orderId }}`` takes the
    context's value); what depends on the request uses ``${ ... }``, which the run leaves
    alone. Mocks files are not rendered by the run, so ``{{ }}`` works there too.
    """
    if isinstance(value, str):
        return _REQUEST_TIME.sub(r"{{ \1 }}", value) if "${" in value else value
    if isinstance(value, dict):
        return {k: request_time(v) for k, v in value.items()}
    if isinstance(value, list):
        return [request_time(v) for v in value]
    return value


_PARAM = re.compile(r"\\\{([A-Za-z_][A-Za-z0-9_]*)\\\}")


def _path_pattern(path: str) -> re.Pattern[str]:
    """``/orders/{id}`` -> a regex with a named group per ``{param}``."""
    return re.compile("^" + _PARAM.sub(r"(?P<\1>[^/]+)", re.escape(path)) + "$")


def match_request(spec: RequestMatch, call: CallRequest) -> dict[str, str] | None:
    """The path parameters when ``call`` matches ``spec``, else None."""
    if spec.method != "*" and spec.method != call.method.upper():
        return None
    params: dict[str, str] = {}
    if spec.path is not None:
        found = _path_pattern(spec.path).match(call.path)
        if found is None:
            return None
        params = found.groupdict()
    if spec.path_regex is not None:
        found = re.fullmatch(spec.path_regex, call.path)
        if found is None:
            return None
        params.update({k: v for k, v in found.groupdict().items() if v is not None})
    if any(call.query.get(k) != str(v) for k, v in spec.query.items()):
        return None
    lowered = {k.lower(): v for k, v in call.headers.items()}
    if any(lowered.get(k.lower()) != str(v) for k, v in spec.headers.items()):
        return None
    if spec.body:
        fields = {"method": call.method, "path": call.path, "query": call.query, "headers": lowered}
        outcomes = assertion_engine.evaluate(spec.body, document=call.body, fields=fields)
        if not all(o.passed for o in outcomes):
            return None
    return params


class Mock:
    """One mock's routes and run-time state (sequence positions, scenario states, journal)."""

    def __init__(self, name: str, routes: list[MockRoute], *, unmatched_status: int = 404) -> None:
        self.name = name
        # Stable sort: priority first, then declaration order.
        self.routes = sorted(enumerate(routes), key=lambda item: -item[1].priority)
        self.unmatched_status = unmatched_status
        self.renderer = Renderer(
            TemplateRuntime(
                rng=random.Random(), clock=lambda: datetime.now(UTC), uuid4=uuid.uuid4, env={}
            )
        )
        self.reset()

    def reset(self) -> None:
        self.hits: dict[int, int] = {}
        self.states: dict[str, str] = {}
        self.journal: list[dict[str, Any]] = []

    def _route_for(self, call: CallRequest) -> tuple[int, MockRoute, dict[str, str]] | None:
        for index, route in self.routes:
            if route.scenario is not None:
                current = self.states.get(route.scenario, INITIAL_STATE)
                if route.state is not None and route.state != current:
                    continue
            params = match_request(route.request, call)
            if params is not None:
                return index, route, params
        return None

    def answer(self, call: CallRequest) -> tuple[MockResponse, str | None, dict[str, Any]]:
        """(the response to give, the route id, the template scope) and journal the call."""
        found = self._route_for(call)
        if found is None:
            response = MockResponse(
                status=self.unmatched_status,
                body={"error": "no mock route matches", "mock": self.name},
            )
            self._journal(call, None, response.status)
            return response, None, {}
        index, route, params = found
        position = self.hits.get(index, 0)
        self.hits[index] = position + 1
        if route.responses:
            chosen = route.responses[min(position, len(route.responses) - 1)]
            response = MockResponse(status=chosen) if isinstance(chosen, int) else chosen
        else:
            response = route.response or MockResponse()
        if route.scenario is not None and route.next_state is not None:
            self.states[route.scenario] = route.next_state
        route_id = route.id or f"routes[{index}]"
        self._journal(call, route_id, response.status)
        scope = {"request": call.view(params), "state": dict(self.states), "call": position + 1}
        return response, route_id, scope

    def render(self, response: MockResponse, scope: dict[str, Any]) -> tuple[Any, dict[str, str]]:
        body = (
            self.renderer.render(request_time(response.body), scope)
            if response.body is not None
            else None
        )
        headers = {
            k: str(self.renderer.render(request_time(v), scope))
            for k, v in response.headers.items()
        }
        return body, headers

    def _journal(self, call: CallRequest, route: str | None, status: int) -> None:
        body = call.body
        if isinstance(body, str) and len(body) > BODY_LIMIT:
            body = body[:BODY_LIMIT] + "...[cut]"
        self.journal.append(
            {
                **call.view(),
                "body": body,
                "route": route,
                "status": status,
                "at": datetime.now(UTC).isoformat(),
            }
        )
        del self.journal[:-JOURNAL_LIMIT]


async def read_call(request: Request, path: str) -> CallRequest:
    raw = await request.body()
    body: Any = None
    if raw:
        text = raw.decode("utf-8", errors="replace")
        try:
            body = json.loads(text)
        except ValueError:
            body = text
    return CallRequest(
        method=request.method,
        path=path or "/",
        query=dict(request.query_params),
        headers=dict(request.headers),
        body=body,
    )


async def serve_call(mock: Mock, request: Request, path: str) -> Response:
    """Answer one call (or an admin request) to ``mock``; ``path`` is relative to the mock."""
    if path.startswith(ADMIN):
        return admin(mock, request.method, path[len(ADMIN) :])
    call = await read_call(request, path)
    response, _route, scope = mock.answer(call)
    try:
        body, headers = mock.render(response, scope)
    except TemplateError as exc:
        return JSONResponse(
            {"error": f"mock {mock.name}: response template failed: {exc}"}, status_code=500
        )
    if response.delay:
        await asyncio.sleep(response.delay.total_seconds())
    if body is None or isinstance(body, str):
        return Response(body or b"", status_code=response.status, headers=headers)
    return JSONResponse(body, status_code=response.status, headers=headers)


def admin(mock: Mock, method: str, path: str) -> Response:
    if path == "/requests" and method == "GET":
        return JSONResponse({"mock": mock.name, "requests": mock.journal})
    if path == "/reset" and method == "POST":
        mock.reset()
        return JSONResponse({"reset": True})
    if path == "/health":
        return JSONResponse({"mock": mock.name, "routes": len(mock.routes)})
    return JSONResponse({"error": f"unknown admin endpoint {path}"}, status_code=404)


class MockApp:
    """ASGI app: one mock at ``/`` or several under a prefix chosen by ``lookup``."""

    def __init__(self, lookup: Callable[[str], tuple[Mock, str] | None]) -> None:
        self.lookup = lookup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        found = self.lookup(request.url.path)
        if found is None:
            response: Response = JSONResponse(
                {"error": "no mock is served at this path"}, status_code=404
            )
        else:
            mock, rest = found
            response = await serve_call(mock, request, rest)
        await response(scope, receive, send)


def single_mock_app(mock: Mock) -> MockApp:
    return MockApp(lambda path: (mock, path))
