"""Plugin actions as step kinds: ``plugin_registry()`` = built-ins + discovered actions.

Each action listed by a plugin's ``GET /info`` becomes a :class:`StepKind` named after the
action (``my-plugin.hello``, ``scraper.extract``) whose JSON Schema is the action's schema
and whose executor is :func:`testflow.plugins.executor.execute`. A plugin whose /info lists no
action offers one action named after its id (the seed: "id ... used as the action name").

Knowing the actions needs /info, which needs the process; the answer is cached in the state
file (see :mod:`testflow.plugins.state`) so validating a flow does not spawn every plugin each
time. Only enabled plugins of type ``action`` contribute kinds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from testflow.dsl.models import RetrySpec
from testflow.dsl.registry import StepKind, StepRegistry, default_registry
from testflow.plugins.client import PluginInfo
from testflow.plugins.discovery import DiscoveredPlugin
from testflow.plugins.errors import PluginError
from testflow.plugins.host import PluginHost, get_host

PLUGIN_EXECUTOR = "testflow.plugins.executor:execute"
T = TypeVar("T")


def plugin_source(plugin_id: str) -> str:
    return f"plugin:{plugin_id}"


def kinds_for(plugin: DiscoveredPlugin, info: PluginInfo) -> list[StepKind]:
    """The step kinds of one action plugin, from its /info answer."""
    manifest = plugin.manifest
    timeout = manifest.default_timeout() or 30.0
    actions = info.actions
    if not actions:
        return [
            StepKind(
                name=manifest.id,
                description=manifest.description or info.description or manifest.name,
                input_schema={"type": "object"},
                executor=PLUGIN_EXECUTOR,
                mode="quick",
                default_timeout=timedelta(seconds=timeout),
                default_retry=RetrySpec(attempts=1),
                primary="the plugin's output",
                result_fields=("output", "metrics", "duration_ms"),
                category="plugin",
                icon="plug",
                source=plugin_source(manifest.id),
            )
        ]
    return [
        StepKind(
            name=action.id,
            description=action.description or action.name or f"{action.id} ({manifest.name})",
            input_schema=action.schema_,
            executor=PLUGIN_EXECUTOR,
            mode="quick",
            default_timeout=timedelta(seconds=timeout),
            default_retry=RetrySpec(attempts=1),
            primary="the plugin's output",
            result_fields=("output", "metrics", "duration_ms"),
            category="plugin",
            icon="plug",
            source=plugin_source(manifest.id),
        )
        for action in actions
    ]


@dataclass
class PluginKinds:
    """The kinds found, and the problems met on the way (shown, never fatal)."""

    kinds: list[StepKind] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)
    """action name -> plugin id."""


async def collect_plugin_kinds(host: PluginHost, *, refresh: bool = False) -> PluginKinds:
    """Kinds of every enabled action plugin (starting those whose /info is not cached)."""
    out = PluginKinds(problems=list(host.rescan().problems))
    state = host.state()
    for plugin_id, plugin in sorted(host.discovery.plugins.items()):
        if plugin.manifest.type != "action" or not state.is_enabled(plugin_id):
            continue
        try:
            info = await host.info(plugin_id, refresh=refresh)
        except PluginError as exc:
            out.problems.append(f"plugin {plugin_id!r}: {exc.message}")
            continue
        for kind in kinds_for(plugin, info):
            owner = out.owners.get(kind.name)
            if owner is not None:
                out.problems.append(
                    f"action {kind.name!r} of plugin {plugin_id!r} is already offered by {owner!r}; ignored"
                )
                continue
            out.kinds.append(kind)
            out.owners[kind.name] = plugin_id
    return out


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also when an event loop already runs in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def merge(base: StepRegistry, found: PluginKinds) -> StepRegistry:
    """A copy of ``base`` with the plugin kinds added (clashes with built-ins become problems)."""
    registry = base.copy()
    for kind in found.kinds:
        try:
            registry.add(kind)
        except ValueError as exc:
            found.problems.append(f"{exc}; the plugin action is ignored")
            found.owners.pop(kind.name, None)
    return registry


async def aplugin_registry(
    plugins_dir: str | os.PathLike[str] | None = None, *, refresh: bool = False
) -> tuple[StepRegistry, PluginKinds]:
    found = await collect_plugin_kinds(get_host(plugins_dir), refresh=refresh)
    return merge(default_registry(), found), found


def plugin_registry(
    plugins_dir: str | os.PathLike[str] | None = None, *, refresh: bool = False
) -> StepRegistry:
    """Built-in kinds plus the actions of the enabled plugins in ``plugins_dir``."""
    registry, _ = run_sync(aplugin_registry(plugins_dir, refresh=refresh))
    return registry


async def resolve_action(action: str, plugins_dir: str | os.PathLike[str] | None = None) -> str:
    """The id of the plugin that offers ``action`` (cached on the host; refreshed on a miss)."""
    host = get_host(plugins_dir)
    owners = host.action_owners
    if action not in owners:
        found = await collect_plugin_kinds(host)
        owners = host.action_owners = found.owners
    if action not in owners:
        import difflib

        close = difflib.get_close_matches(action, sorted(owners), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise PluginError(
            f"no enabled plugin offers the action {action!r}{hint}; known plugin actions: "
            f"{', '.join(sorted(owners)) or 'none'}"
        )
    return owners[action]
