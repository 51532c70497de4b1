"""Actions, handlers and dispatch of the Python plugin SDK (the HTTP server is in server.py)."""

from __future__ import annotations

import asyncio
import inspect
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

AUTH_ACTION = "authenticate"
IMPORT_ACTION = "import"
EXPORT_ACTION = "export"
REPORT_ACTION = "report"
_RESERVED = {AUTH_ACTION, IMPORT_ACTION, EXPORT_ACTION, REPORT_ACTION}

Handler = Callable[[Any, "Context"], Any]


class PluginError(Exception):
    """Raise from a handler to answer ``success: false`` with this code and message."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass
class Context:
    """The ``context`` of an ``/execute`` request, and the handler's log."""

    execution_id: str = ""
    flow_id: str = ""
    step_id: str = ""
    variables: dict[str, Any] = field(default_factory=dict)
    step_outputs: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    logs: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_request(cls, data: Any) -> Context:
        data = data if isinstance(data, dict) else {}
        return cls(
            execution_id=str(data.get("execution_id", "")),
            flow_id=str(data.get("flow_id", "")),
            step_id=str(data.get("step_id", "")),
            variables=dict(data.get("variables") or {}),
            step_outputs=dict(data.get("step_outputs") or {}),
            raw=data,
        )

    def log(self, message: str, level: str = "info") -> None:
        """Add a log line to the answer (shown in the step's report)."""
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.logs.append({"level": level, "message": message, "timestamp": stamp})


@dataclass
class Action:
    id: str
    handler: Handler
    name: str = ""
    description: str = ""
    model: Any = None
    schema: dict[str, Any] | None = None

    def info(self) -> dict[str, Any]:
        schema = self.schema
        if schema is None and self.model is not None:
            schema = self.model.model_json_schema()
        return {
            "id": self.id,
            "name": self.name or self.id,
            "description": self.description,
            "schema": schema or {"type": "object"},
        }


class Plugin:
    """A plugin: its identity, its handlers, and :meth:`serve`."""

    def __init__(self, id: str, name: str, version: str = "1.0.0", description: str = "") -> None:
        self.id = id
        self.name = name
        self.version = version
        self.description = description
        self.actions: dict[str, Action] = {}
        self.started = time.time()

    # -- registration --------------------------------------------------------------------

    def action(
        self,
        name: str,
        *,
        model: Any = None,
        schema: dict[str, Any] | None = None,
        description: str = "",
        title: str = "",
    ) -> Callable[[Handler], Handler]:
        """Register a step action; ``model`` (a pydantic model) validates the config and gives
        the JSON Schema; ``schema`` gives a schema by hand instead."""
        action_id = name if "." in name or name in _RESERVED else f"{self.id}.{name}"

        def register(fn: Handler) -> Handler:
            if action_id in self.actions:
                raise ValueError(f"action {action_id!r} is registered twice")
            doc = (fn.__doc__ or "").strip().splitlines()
            self.actions[action_id] = Action(
                id=action_id,
                handler=fn,
                name=title or action_id,
                description=description or (doc[0] if doc else ""),
                model=model,
                schema=schema,
            )
            return fn

        return register

    def _reserved(self, action: str, fn: Handler, model: Any = None) -> Handler:
        return self.action(action, model=model)(fn)

    def auth(self, fn: Handler) -> Handler:
        """Handler of an auth plugin: return ``{"headers": {...}}`` (and ``expires_in``)."""
        return self._reserved(AUTH_ACTION, fn)

    def importer(self, fn: Handler) -> Handler:
        """Handler of an importer: ``config = {filename, content, options}`` ->
        ``{"flows": [{"filename", "flow"}]}``."""
        return self._reserved(IMPORT_ACTION, fn)

    def exporter(self, fn: Handler) -> Handler:
        """Handler of an exporter: ``config = {flow, filename, options}`` ->
        ``{"files": [{"name", "content"}]}``."""
        return self._reserved(EXPORT_ACTION, fn)

    def reporter(self, fn: Handler) -> Handler:
        """Handler of a reporter: ``config = {result, options}`` ->
        ``{"files": [{"name", "content"}]}``."""
        return self._reserved(REPORT_ACTION, fn)

    # -- protocol ------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {
            "status": "healthy",
            "version": self.version,
            "uptime_seconds": int(time.time() - self.started),
        }

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "actions": [a.info() for a in self.actions.values() if a.id not in _RESERVED],
        }

    def execute(self, body: Any) -> tuple[int, dict[str, Any]]:
        """Dispatch one ``/execute`` body; returns (HTTP status, answer)."""
        if not isinstance(body, dict):
            return 400, _failure("BAD_REQUEST", "the body must be a JSON object")
        name = body.get("action")
        action = self.actions.get(name) if isinstance(name, str) else None
        if action is None:
            known = ", ".join(sorted(self.actions)) or "none"
            return 400, _failure("UNKNOWN_ACTION", f"Unknown action: {name} (this plugin has: {known})")
        ctx = Context.from_request(body.get("context"))
        config = body.get("config") or {}
        started = time.perf_counter()
        try:
            if action.model is not None:
                from pydantic import ValidationError

                try:
                    config = action.model.model_validate(config)
                except ValidationError as exc:
                    errors = [
                        {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                        for e in exc.errors()
                    ]
                    raise PluginError(
                        "INVALID_CONFIG", f"invalid config for {action.id}", {"errors": errors}
                    ) from None
            result = action.handler(config, ctx)
            if inspect.isawaitable(result):
                result = asyncio.run(_await(result))
        except PluginError as exc:
            return 200, _failure(exc.code, exc.message, exc.details, ctx.logs)
        except Exception as exc:  # a bug in the handler: say so, keep serving
            ctx.log("".join(traceback.format_exception_only(exc)).strip(), "error")
            return 200, _failure("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}", logs=ctx.logs)
        duration = round((time.perf_counter() - started) * 1000, 3)
        return 200, {
            "success": True,
            "output": {} if result is None else result,
            "logs": ctx.logs,
            "metrics": {"duration_ms": duration},
        }

    def serve(self, port: int | None = None) -> None:
        """Serve the protocol on 127.0.0.1:``PLUGIN_PORT`` until ``POST /shutdown``."""
        from testflow.plugins.sdk.server import serve

        serve(self, port)


async def _await(value: Any) -> Any:
    return await value


def _failure(
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    logs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "success": False,
        "output": {},
        "error": {"code": code, "message": message, "details": details or {}},
        "logs": logs or [],
    }
