"""The ``http`` step kind: REST and GraphQL over httpx."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from testflow.dsl.models import FrozenModel, RetrySpec
from testflow.dsl.registry import StepKind

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class OAuth2ClientCredentials(FrozenModel):
    token_url: str
    client_id: str
    client_secret: str
    scope: str | None = None
    audience: str | None = None
    client_auth: Literal["basic", "body"] = Field(
        "basic",
        description="How the client authenticates to the token endpoint: an HTTP Basic "
        "header (RFC 6749's default) or client_id/client_secret in the form body.",
    )


class ApiKeyAuth(FrozenModel):
    name: str = Field(description="Header or query parameter name, e.g. X-API-Key.")
    value: str
    location: Literal["header", "query"] = Field("header", alias="in")


class HttpAuth(FrozenModel):
    """One of basic, bearer, api_key, oauth2 (client credentials) or an auth plugin."""

    basic: tuple[str, str] | dict[str, str] | None = Field(
        None, description="[user, password] or {username, password}."
    )
    bearer: str | None = None
    api_key: ApiKeyAuth | None = None
    oauth2: OAuth2ClientCredentials | None = None
    plugin: str | None = Field(None, description="Id of an auth plugin that produces headers.")
    config: dict[str, Any] = Field(default_factory=dict, description="Options of the auth plugin.")

    @model_validator(mode="after")
    def _exactly_one(self) -> HttpAuth:
        chosen = [n for n in ("basic", "bearer", "api_key", "oauth2", "plugin") if getattr(self, n)]
        if len(chosen) != 1:
            raise ValueError("give exactly one of basic, bearer, api_key, oauth2 or plugin")
        return self


class TlsOptions(FrozenModel):
    verify: bool = True
    ca_bundle: str | None = Field(None, description="Path of a CA bundle (PEM).")
    cert: str | None = Field(None, description="Client certificate (PEM) for mTLS.")
    key: str | None = Field(None, description="Client private key (PEM) for mTLS.")


class MultipartFile(FrozenModel):
    path: str | None = None
    content: str | None = None
    filename: str | None = None
    content_type: str | None = None


class GraphQLRequest(FrozenModel):
    query: str
    variables: dict[str, Any] = Field(default_factory=dict)
    operationName: str | None = None


class HttpRequest(FrozenModel):
    method: HttpMethod = "GET"
    url: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict, description="Query parameters.")
    headers: dict[str, str] = Field(default_factory=dict)
    json_: Any = Field(None, alias="json", description="A JSON body.")
    body: Any = Field(None, description="A body: JSON when an object/list, raw text otherwise.")
    form: dict[str, Any] | None = Field(None, description="An urlencoded form body.")
    multipart: dict[str, str | MultipartFile] | None = None
    graphql: GraphQLRequest | None = None
    auth: HttpAuth | None = None
    tls: TlsOptions | None = None
    follow_redirects: bool = True
    cookies: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_body(self) -> HttpRequest:
        bodies = [n for n in ("json_", "body", "form", "multipart", "graphql") if getattr(self, n) is not None]
        if len(bodies) > 1:
            names = ", ".join(b.rstrip("_") for b in bodies)
            raise ValueError(f"give at most one body ({names} given)")
        return self


class HttpStepConfig(FrozenModel):
    request: HttpRequest


HTTP_KINDS = [
    StepKind(
        name="http",
        description="Call an HTTP API (REST, GraphQL); assert on status, headers and body.",
        input_model=HttpStepConfig,
        executor="testflow.activities.http:execute",
        mode="quick",
        default_timeout=timedelta(seconds=30),
        default_retry=RetrySpec(attempts=1),
        primary="the response body (parsed JSON when JSON)",
        result_fields=("status", "headers", "body", "duration_ms"),
        category="http",
        icon="globe",
        example={
            "id": "createOrder",
            "type": "http",
            "request": {"method": "POST", "url": "{{ baseUrl }}/orders", "json": {"product": "book"}},
            "extract": {"orderId": "$.id"},
            "assert": {"status": 201},
        },
    )
]
