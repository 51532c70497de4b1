"""HTTP calls to one plugin process, and the shapes of the protocol's answers.

The protocol is TestMesh's: ``GET /health`` -> ``{"status": "healthy", ...}``, ``GET /info``
-> ``{id, name, version, actions: [{id, name, description, schema}]}``, ``POST /execute``
``{action, config, context}`` -> ``{success, output, error, logs, metrics}``, ``POST
/shutdown``. Answers are validated here so that a plugin that answers nonsense fails with a
message saying what is wrong, not with a ``KeyError`` three layers up.

Requests go through :class:`testflow.plugins.transport.LoopbackHttp` (kept connections, one
write per request): the per-call overhead budget is 2 ms.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from testflow.plugins.errors import PluginProtocolError
from testflow.plugins.manifest import ID_PATTERN
from testflow.plugins.transport import LoopbackHttp


class ActionInfo(BaseModel):
    """One action a plugin offers (from ``GET /info``)."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=ID_PATTERN)
    name: str = ""
    description: str = ""
    schema_: dict[str, Any] = Field(default_factory=lambda: {"type": "object"}, alias="schema")

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        import jsonschema

        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return value


class PluginInfo(BaseModel):
    """The answer of ``GET /info``."""

    model_config = ConfigDict(extra="allow")

    id: str = ""
    name: str = ""
    version: str = ""
    description: str = ""
    actions: list[ActionInfo] = Field(default_factory=list)


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = "PLUGIN_ERROR"
    message: str = "the plugin reported a failure without a message"
    details: dict[str, Any] = Field(default_factory=dict)


class ExecuteResponse(BaseModel):
    """The answer of ``POST /execute``."""

    model_config = ConfigDict(extra="allow")

    success: bool
    output: Any = None
    error: ErrorBody | None = None
    logs: list[dict[str, Any]] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)

    @field_validator("error", mode="before")
    @classmethod
    def _error_string(cls, value: Any) -> Any:
        # Some plugins answer ``"error": "text"``; accept it rather than hide the message.
        return {"message": value} if isinstance(value, str) else value

    @field_validator("logs", mode="before")
    @classmethod
    def _log_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"message": v} if isinstance(v, str) else v for v in value]
        return value or []


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
    )


def parse_info(data: Any, plugin_id: str) -> PluginInfo:
    """Validate a ``GET /info`` answer; duplicate action ids are an error too."""
    try:
        info = PluginInfo.model_validate(data)
    except ValidationError as exc:
        raise PluginProtocolError(
            f"plugin {plugin_id!r}: GET /info answered an invalid document: {_describe(exc)}"
        ) from None
    seen: set[str] = set()
    for action in info.actions:
        if action.id in seen:
            raise PluginProtocolError(
                f"plugin {plugin_id!r}: GET /info lists action {action.id!r} twice"
            )
        seen.add(action.id)
    return info


def parse_execute(data: Any, plugin_id: str) -> ExecuteResponse:
    try:
        return ExecuteResponse.model_validate(data)
    except ValidationError as exc:
        raise PluginProtocolError(
            f"plugin {plugin_id!r}: POST /execute answered an invalid document: {_describe(exc)}"
        ) from None


class PluginClient:
    """Talks HTTP to one plugin process on 127.0.0.1."""

    def __init__(self, plugin_id: str, port: int) -> None:
        self.plugin_id = plugin_id
        self.port = port
        self._http = LoopbackHttp(port)

    async def _json(
        self, method: str, path: str, timeout_s: float, body: Any = None
    ) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        status, data = await self._http.request(method, path, payload, timeout_s)
        try:
            return status, json.loads(data)
        except ValueError:
            snippet = data[:200].decode("utf-8", "replace")
            raise PluginProtocolError(
                f"plugin {self.plugin_id!r}: {method} {path} answered HTTP {status} "
                f"with a body that is not JSON: {snippet!r}"
            ) from None

    async def health(self, timeout_s: float = 1.0) -> bool:
        """True when the plugin says ``{"status": "healthy"}``."""
        status, data = await self._json("GET", "/health", timeout_s)
        return status == 200 and isinstance(data, dict) and data.get("status") == "healthy"

    async def info(self, timeout_s: float = 10.0) -> PluginInfo:
        status, data = await self._json("GET", "/info", timeout_s)
        if status != 200:
            raise PluginProtocolError(
                f"plugin {self.plugin_id!r}: GET /info answered HTTP {status}"
            )
        return parse_info(data, self.plugin_id)

    async def execute(
        self, action: str, config: Any, context: dict[str, Any], timeout_s: float
    ) -> ExecuteResponse:
        body = {"action": action, "config": config, "context": context}
        status, data = await self._json("POST", "/execute", timeout_s, body)
        if status >= 500 and not (isinstance(data, dict) and "success" in data):
            raise PluginProtocolError(
                f"plugin {self.plugin_id!r}: POST /execute answered HTTP {status}"
            )
        return parse_execute(data, self.plugin_id)

    async def shutdown(self, timeout_s: float = 2.0) -> None:
        await self._http.request("POST", "/shutdown", b"{}", timeout_s)

    def close(self) -> None:
        self._http.close()
