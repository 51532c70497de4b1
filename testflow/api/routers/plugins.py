"""External plugins through testflow.plugins.PluginManager (admins change, viewers read)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from testflow.api.deps import AppState, Principal, app_state, require
from testflow.api.schemas import PluginInstall
from testflow.plugins.kinds import aplugin_registry
from testflow.plugins.manager import PluginManager

router = APIRouter(prefix="/plugins", tags=["plugins"])


def manager(state: AppState) -> PluginManager:
    return PluginManager(state.settings.plugins_dir)


async def refresh_registry(state: AppState) -> None:
    """Plugin actions are step kinds: rebuild the registry after any change."""
    registry, _found = await aplugin_registry(state.settings.plugins_dir)
    state.registry = registry
    if state.engine is not None:
        state.engine.registry = registry


@router.get("", operation_id="listPlugins")
async def list_plugins(
    state: AppState = Depends(app_state), _: Principal = Depends(require("viewer"))
) -> dict[str, Any]:
    """``{plugins: [...], problems: [...]}``."""
    return await manager(state).list()


@router.get("/{plugin_id}", operation_id="getPlugin")
async def get_plugin(
    plugin_id: str, state: AppState = Depends(app_state), _: Principal = Depends(require("viewer"))
) -> dict[str, Any]:
    return await manager(state).info(plugin_id)


@router.post("/install", operation_id="installPlugin", status_code=201)
async def install_plugin(
    body: PluginInstall,
    state: AppState = Depends(app_state),
    _: Principal = Depends(require("admin")),
) -> dict[str, Any]:
    """Install from a directory or archive on the server (no URL: nothing is downloaded)."""
    out = await manager(state).install(body.source, force=body.force)
    await refresh_registry(state)
    return out


@router.post("/discover", operation_id="discoverPlugins")
async def discover_plugins(
    state: AppState = Depends(app_state), _: Principal = Depends(require("admin"))
) -> dict[str, Any]:
    out = await manager(state).discover()
    await refresh_registry(state)
    return out


@router.post("/{plugin_id}/enable", operation_id="enablePlugin")
async def enable_plugin(
    plugin_id: str, state: AppState = Depends(app_state), _: Principal = Depends(require("admin"))
) -> dict[str, Any]:
    out = await manager(state).enable(plugin_id)
    await refresh_registry(state)
    return out


@router.post("/{plugin_id}/disable", operation_id="disablePlugin")
async def disable_plugin(
    plugin_id: str, state: AppState = Depends(app_state), _: Principal = Depends(require("admin"))
) -> dict[str, Any]:
    out = await manager(state).disable(plugin_id)
    await refresh_registry(state)
    return out


@router.delete("/{plugin_id}", operation_id="uninstallPlugin", status_code=204)
async def uninstall_plugin(
    plugin_id: str, state: AppState = Depends(app_state), _: Principal = Depends(require("admin"))
) -> Response:
    await manager(state).uninstall(plugin_id)
    await refresh_registry(state)
    return Response(status_code=204)
