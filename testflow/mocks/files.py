"""Mocks files: testflow's own format (YAML/JSON) and WireMock JSON mappings.

Errors are reported like flow errors, ``file:line:col: path: message`` with a snippet
(:class:`~testflow.dsl.diagnostics.FlowValidationError`), including bad body matchers, which
are checked with the assertion checker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from testflow.dsl import assertions as assertion_engine
from testflow.dsl.diagnostics import FlowValidationError
from testflow.dsl.kinds.mock import MockFile, MockRoute
from testflow.dsl.positions import format_loc, join_path
from testflow.dsl.source import Source, mapping_root, read_text
from testflow.dsl.validation import Problem, pydantic_problems

MATCH_FIELDS = ("method", "path", "query", "headers")


def load_mock_file(path: str | Path, text: str | None = None) -> MockFile:
    """A mocks file, or WireMock mappings (``{"mappings": [...]}`` or one mapping)."""
    filename = str(path)
    source = Source(text if text is not None else read_text(path), filename)
    data = mapping_root(source, "mocks") if source.parse() else None
    result: MockFile | None = None
    if data is not None:
        if is_wiremock(data):
            try:
                data = from_wiremock(data)
            except ValueError as exc:
                source.add(Problem("", "value", f"WireMock mapping: {exc}"))
                raise FlowValidationError(source.diagnostics) from None
            # Positions no longer line up with converted keys: anchor problems at the mapping.
            source.doc.values.clear()
        try:
            result = MockFile.model_validate(data)
        except ValidationError as exc:
            for problem in pydantic_problems(exc, data, root=MockFile):
                source.add(problem)
        routes = data.get("routes")
        for i, route in enumerate(routes if isinstance(routes, list) else []):
            body = (
                route.get("request", {}).get("body")
                if isinstance(route, dict) and isinstance(route.get("request"), dict)
                else None
            )
            if isinstance(body, dict):
                base = join_path(join_path(join_path("routes", i), "request"), "body")
                for loc, message in assertion_engine.check_spec(body, MATCH_FIELDS):
                    source.add(Problem(format_loc(loc, base), "key", message))
    if result is None or source.errors:
        raise FlowValidationError(source.diagnostics)
    return result


def check_routes(routes: list[MockRoute]) -> list[str]:
    """Problems in routes given inline in a step (already validated by the model)."""
    problems = []
    for i, route in enumerate(routes):
        base = f"routes[{i}].request.body"
        for loc, message in assertion_engine.check_spec(route.request.body, MATCH_FIELDS):
            problems.append(f"{format_loc(loc, base)}: {message}")
    return problems


# -- WireMock -------------------------------------------------------------------------------
def is_wiremock(data: dict[str, Any]) -> bool:
    return "mappings" in data or ("request" in data and "response" in data and "routes" not in data)


def from_wiremock(data: dict[str, Any]) -> dict[str, Any]:
    """WireMock stub mappings -> a mocks file (the commonly used subset; others are refused)."""
    mappings = data.get("mappings", [data])
    if not isinstance(mappings, list):
        raise ValueError("'mappings' must be a list")
    return {"routes": [_mapping(m, i) for i, m in enumerate(mappings)]}


def _equal(value: Any, where: str) -> str:
    if isinstance(value, dict) and "equalTo" in value:
        return str(value["equalTo"])
    if isinstance(value, str):
        return value
    raise ValueError(f"{where}: only equalTo is supported, got {value!r}")


def _mapping(m: dict[str, Any], index: int) -> dict[str, Any]:
    where = f"mappings[{index}]"
    req, res = m.get("request") or {}, m.get("response") or {}
    match: dict[str, Any] = {"method": req.get("method", "ANY").replace("ANY", "*")}
    if "url" in req or "urlPath" in req:
        url = str(req.get("url") or req.get("urlPath"))
        path, _, query = url.partition("?")
        match["path"] = path
        for pair in filter(None, query.split("&")):
            key, _, value = pair.partition("=")
            match.setdefault("query", {})[key] = value
    elif "urlPattern" in req or "urlPathPattern" in req:
        match["path_regex"] = req.get("urlPattern") or req.get("urlPathPattern")
    for key, value in (req.get("queryParameters") or {}).items():
        match.setdefault("query", {})[key] = _equal(value, f"{where}.request.queryParameters.{key}")
    for key, value in (req.get("headers") or {}).items():
        match.setdefault("headers", {})[key] = _equal(value, f"{where}.request.headers.{key}")
    body: dict[str, Any] = {}
    for pattern in req.get("bodyPatterns") or []:
        if "equalToJson" in pattern:
            body["$"] = pattern["equalToJson"]
        elif "matchesJsonPath" in pattern and isinstance(pattern["matchesJsonPath"], str):
            body[pattern["matchesJsonPath"]] = {"exists": True}
        else:
            raise ValueError(f"{where}.request.bodyPatterns: unsupported pattern {sorted(pattern)}")
    if body:
        match["body"] = body
    response: dict[str, Any] = {
        "status": res.get("status", 200),
        "headers": res.get("headers") or {},
    }
    if "jsonBody" in res:
        response["body"] = res["jsonBody"]
    elif "body" in res:
        response["body"] = res["body"]
    if "fixedDelayMilliseconds" in res:
        response["delay"] = f"{int(res['fixedDelayMilliseconds'])}ms"
    route: dict[str, Any] = {
        "request": match,
        "response": response,
        "priority": -int(m.get("priority", 5)),
    }
    if m.get("name") or m.get("id"):
        route["id"] = str(m.get("name") or m.get("id"))
    if "scenarioName" in m:
        route["scenario"] = m["scenarioName"]
        route["state"] = m.get("requiredScenarioState")
        route["next_state"] = m.get("newScenarioState")
    return route
