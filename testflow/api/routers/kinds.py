"""The step-kind registry (the UI's palette and forms) and the flow JSON Schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from testflow.api.deps import AppState, Principal, app_state, require
from testflow.api.schemas import StepKindOut
from testflow.dsl.registry import StepRegistry
from testflow.dsl.schema import flow_json_schema

router = APIRouter(tags=["step-kinds"])
# Building the schema takes ~0.3 s; it only changes when the registry object is replaced.
_SCHEMAS: dict[int, tuple[StepRegistry, dict[str, Any]]] = {}


@router.get("/step-kinds", operation_id="listStepKinds", response_model=list[StepKindOut])
async def list_step_kinds(
    state: AppState = Depends(app_state), _: Principal = Depends(require("viewer"))
) -> list[dict[str, Any]]:
    return [
        {
            "name": kind.name,
            "description": kind.description,
            "category": kind.category,
            "icon": kind.icon,
            "mode": kind.mode,
            "schema": kind.config_schema(),
            "example": kind.example,
            "source": kind.source,
            "result_fields": list(kind.result_fields),
        }
        for kind in state.registry
    ]


@router.get("/schema/flow", operation_id="getFlowSchema")
async def get_flow_schema(
    state: AppState = Depends(app_state), _: Principal = Depends(require("viewer"))
) -> dict[str, Any]:
    """The flow JSON Schema with the plugin actions of this server included."""
    cached = _SCHEMAS.get(id(state.registry))
    if cached is None or cached[0] is not state.registry:
        cached = (state.registry, flow_json_schema(state.registry))
        _SCHEMAS.clear()  # one registry at a time: a plugin change replaces it
        _SCHEMAS[id(state.registry)] = cached
    return cached[1]
