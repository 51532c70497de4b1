"""Domain errors -> HTTP, in one place.

Every error answer has the shape of docs/api-contract.md:
``{"detail": {"message": str, "errors": [{path, line, col, message, hint, severity}]}}``.
DSL problems are 422 with the JSON path and line/column of each problem; request-shape
problems are 422 with the path of the offending field (no line/column: they are not in a
file). Nothing expected ends as a 500: an unexpected exception is logged with its traceback
and answered as 500 with no internal detail.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from testflow.dsl.diagnostics import Diagnostic, FlowValidationError
from testflow.plugins.errors import PluginError, PluginNotFound
from testflow.runtime.devserver import TemporalUnavailable

log = logging.getLogger("testflow.api")


class ApiProblem(Exception):
    """An error the API answers with a status and a message for the user."""

    status = 400

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class NotFound(ApiProblem):
    status = 404


class Conflict(ApiProblem):
    status = 409


class Unauthorized(ApiProblem):
    status = 401


class Forbidden(ApiProblem):
    status = 403


class Invalid(ApiProblem):
    status = 422


class Unavailable(ApiProblem):
    status = 503


class NotImplementedYet(ApiProblem):
    status = 501


def field_problem(path: str, message: str) -> dict[str, Any]:
    """A problem with a request field (no source position), shaped like a diagnostic."""
    return {
        "path": path,
        "line": None,
        "col": None,
        "message": message,
        "hint": None,
        "severity": "error",
    }


def diagnostic_dict(diagnostic: Diagnostic) -> dict[str, Any]:
    return {
        "file": diagnostic.file,
        "path": diagnostic.path,
        "line": diagnostic.line,
        "col": diagnostic.col,
        "message": diagnostic.message,
        "hint": diagnostic.hint,
        "severity": diagnostic.severity,
    }


def body(message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"detail": {"message": message, "errors": errors or []}}


def _answer(
    status: int, message: str, errors: list[dict[str, Any]] | None = None, **kw: Any
) -> JSONResponse:
    return JSONResponse(body(message, errors), status_code=status, **kw)


def _loc_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "steps", 0, "url")`` -> ``steps[0].url`` (the JSON path of a field)."""
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _problem(_: Request, exc: ApiProblem) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        return _answer(exc.status, exc.message, exc.errors, headers=headers)

    @app.exception_handler(FlowValidationError)
    async def _dsl(_: Request, exc: FlowValidationError) -> JSONResponse:
        errors = [diagnostic_dict(d) for d in exc.diagnostics]
        return _answer(422, f"the flow has {len(exc.errors)} problem(s): {exc}", errors)

    @app.exception_handler(RequestValidationError)
    async def _request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "path": _loc_path(tuple(err.get("loc", ()))),
                "line": None,
                "col": None,
                "message": str(err.get("msg", "invalid")),
                "hint": None,
                "severity": "error",
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"path": "", "message": "invalid request"}
        message = f"invalid request: {first['path'] or 'body'}: {first['message']}"
        return _answer(422, message, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return _answer(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        return _answer(409, "this conflicts with what is stored (a duplicate name or id?)")

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # e.g. PostgreSQL refuses NUL characters in text, or a number out of range.
        reason = str(exc.orig).splitlines()[0] if exc.orig else "invalid value"
        return _answer(422, f"the database refused a value: {reason}")

    @app.exception_handler(PluginError)
    async def _plugin(_: Request, exc: PluginError) -> JSONResponse:
        return _answer(404 if isinstance(exc, PluginNotFound) else 400, str(exc))

    @app.exception_handler(TemporalUnavailable)
    async def _temporal_down(_: Request, exc: TemporalUnavailable) -> JSONResponse:
        return _answer(503, f"Temporal is not available: {exc}")

    @app.exception_handler(RPCError)
    async def _rpc(_: Request, exc: RPCError) -> JSONResponse:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return _answer(404, f"not found in Temporal: {exc.message}")
        if exc.status == RPCStatusCode.ALREADY_EXISTS:
            return _answer(409, f"already exists in Temporal: {exc.message}")
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            return _answer(422, f"Temporal refused the request: {exc.message}")
        log.warning("Temporal error: %s", exc)
        return _answer(503, f"Temporal error ({exc.status.name}): {exc.message}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _answer(500, "internal error (the server log has the details)")
