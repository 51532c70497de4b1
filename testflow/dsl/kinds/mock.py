"""The ``mock`` and ``mock.verify`` step kinds: partner mocks served for the duration of a run.

A ``mock`` step (usually in ``setup``) declares a partner API: routes that match requests by
method, path (``/orders/{id}``), query, headers and JSON body (the assertion matchers), and
answer with templated responses (``{{ request.body.id }}``, ``{{ request.params.id }}``),
status sequences, delays and stateful scenarios. Routes can come from a separate mocks file
or WireMock JSON mappings (``file:``). The mock's URL is ``{{ mocks.<name>.url }}``.
``mock.verify`` checks the mock's journal: how many calls matched, with which bodies.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from testflow.dsl.durations import Duration
from testflow.dsl.models import STEP_ID_PATTERN, FrozenModel
from testflow.dsl.registry import StepKind

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*")


class RequestMatch(FrozenModel):
    """Which requests a route (or a verification) is about; every given part must match."""

    method: str = Field("*", description="HTTP method, or * for any.")
    path: str | None = Field(
        None, description="Exact path; `{name}` segments match anything and land in request.params."
    )
    path_regex: str | None = Field(
        None, description="A regular expression the whole path must match."
    )
    query: dict[str, str] = Field(
        default_factory=dict, description="Query parameters that must be equal."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Headers that must be equal (names are case-insensitive)."
    )
    body: dict[str, Any] = Field(
        default_factory=dict,
        description="Matchers on the JSON body, as in assert: `$.amount: {gt: 10}`, `$.id: A1`.",
    )

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        upper = value.upper()
        if upper not in METHODS:
            raise ValueError(f"unknown HTTP method {value!r}; use one of {', '.join(METHODS)}")
        return upper

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"a path starts with '/', got {value!r}")
        return value

    @field_validator("path_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from exc
        return value


class MockResponse(FrozenModel):
    status: int = Field(200, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(
        None, description="JSON (object/list) or text; templates see `request` and `state`."
    )
    delay: Duration | None = Field(None, description="Wait this long before answering.")


class MockRoute(FrozenModel):
    id: str | None = Field(None, description="Name of the route in the journal.")
    request: RequestMatch = Field(default_factory=lambda: RequestMatch.model_validate({}))
    response: MockResponse | None = None
    responses: list[MockResponse | int] = Field(
        default_factory=list, description="Answers in order (e.g. [503, 200]); the last repeats."
    )
    scenario: str | None = Field(None, description="Stateful scenario this route belongs to.")
    state: str | None = Field(None, description="The scenario state required (initial: Started).")
    next_state: str | None = Field(
        None, description="The scenario state after this route answered."
    )
    priority: int = Field(0, description="Higher wins when several routes match; then file order.")

    @model_validator(mode="after")
    def _answers(self) -> MockRoute:
        if self.response is not None and self.responses:
            raise ValueError("give 'response' or 'responses', not both")
        if (self.state or self.next_state) and not self.scenario:
            raise ValueError("'state' and 'next_state' need a 'scenario'")
        return self


class MockFile(FrozenModel):
    """A mocks file (``testflow mock serve mocks.yaml``, or ``file:`` of a mock step)."""

    name: str | None = None
    routes: list[MockRoute] = Field(default_factory=list)


class MockConfig(FrozenModel):
    name: str = Field(
        pattern=STEP_ID_PATTERN, description="The mock's name: {{ mocks.<name>.url }}."
    )
    routes: list[MockRoute] = Field(default_factory=list)
    file: str | None = Field(
        None, description="A mocks file (YAML/JSON) or WireMock mappings (JSON) read by the worker."
    )
    port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Serve on this port at / (default: the worker's shared mock server).",
    )
    ttl: Duration = Field(timedelta(hours=1), description="Stop serving after this long.")
    unmatched_status: int = Field(
        404, ge=100, le=599, description="Status for requests no route matches."
    )

    @model_validator(mode="after")
    def _some_routes(self) -> MockConfig:
        if not self.routes and not self.file:
            raise ValueError("a mock needs 'routes' or a 'file'")
        return self


class MockVerifyConfig(RequestMatch):
    name: str = Field(pattern=STEP_ID_PATTERN, description="The mock to check.")
    url: str | None = Field(
        None, description="Base URL of the mock (default: {{ mocks.<name>.url }})."
    )
    times: int | None = Field(
        None, ge=0, description="Fail unless exactly this many calls matched."
    )


MOCK_KINDS = [
    StepKind(
        name="mock",
        description="Serve a partner mock (routes, templated responses, scenarios) during the run.",
        input_model=MockConfig,
        executor="testflow.mocks.executors:serve",
        default_timeout=timedelta(seconds=30),
        primary="{name, url, routes}",
        result_fields=("url", "routes"),
        category="testing",
        icon="server",
        example={
            "id": "partner",
            "type": "mock",
            "name": "acme",
            "routes": [
                {
                    "request": {"method": "POST", "path": "/orders"},
                    "response": {
                        "status": 201,
                        "body": {"id": "{{ request.body.ref }}", "status": "NEW"},
                    },
                }
            ],
        },
    ),
    StepKind(
        name="mock.verify",
        description="Check a mock's journal: how many calls matched (method, path, body).",
        input_model=MockVerifyConfig,
        executor="testflow.mocks.executors:verify",
        default_timeout=timedelta(seconds=30),
        primary="the matching calls ([{method, path, query, headers, body, route, status}])",
        result_fields=("count", "calls", "total"),
        category="testing",
        icon="check",
        example={
            "id": "called",
            "type": "mock.verify",
            "name": "acme",
            "method": "POST",
            "path": "/orders",
            "times": 1,
        },
    ),
]
