"""Liveness, readiness and Prometheus metrics (no token needed: probes and scrapers)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import testflow
from testflow.api.deps import AppState, app_state

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="health")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok", "version": testflow.__version__}


@router.get("/readyz", operation_id="ready", responses={503: {"description": "Not ready."}})
async def readyz(state: AppState = Depends(app_state)) -> JSONResponse:
    """The database and Temporal answer (503 with the failing part otherwise)."""
    checks: dict[str, Any] = {}
    try:
        await asyncio.wait_for(state.db.ping(), timeout=5)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        client = state.client
        await asyncio.wait_for(client.service_client.check_health(), timeout=5)
        checks["temporal"] = "ok"
    except Exception as exc:
        checks["temporal"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", operation_id="metrics", response_class=Response)
async def metrics(state: AppState = Depends(app_state)) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
