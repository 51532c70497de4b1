"""The action executor against real plugin processes: context, results, failures, crashes,
hangs, restarts, bad /info, start failures, graceful and forced shutdown."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from testflow.activities.base import StepFailure
from testflow.plugins.executor import execute
from testflow.plugins.host import PluginHost
from testflow.plugins.kinds import aplugin_registry, plugin_registry

from .conftest import make_ctx


async def test_seed_python_plugin_runs_unchanged(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("my-plugin")
    out = await execute({"name": "TestMesh"}, make_ctx("my-plugin.hello"))
    assert out.document["greeting"] == "Hello, TestMesh!"
    assert out.fields["output"] == out.document
    assert [line.message for line in out.logs] == ["[my-plugin] Greeted TestMesh"]
    assert out.request == {"action": "my-plugin.hello", "config": {"name": "TestMesh"}}


async def test_seed_node_plugin_runs_unchanged(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("my-js-plugin")
    out = await execute({"input": {"a": [1, 2]}}, make_ctx("my-js-plugin.transform"))
    assert out.document["result"] == {"a": [1, 2]}
    assert out.fields["metrics"] == {"duration_ms": 1}


async def test_context_is_filled_from_the_step_context(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("flaky")
    out = await execute({"value": 42}, make_ctx("flaky.echo"))
    assert out.document["config"] == {"value": 42}
    assert out.document["context"] == {
        "execution_id": "run-plugins-1",
        "flow_id": "plugin flow",
        "step_id": "step1",
        "variables": {"base": "http://x", "hello": "Bonjour"},
        "step_outputs": {"login": {"token": "t"}},
        "attempt": 1,
    }
    assert out.logs[0].level == "debug"


async def test_process_is_started_lazily_and_reused(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("flaky")
    registry, _ = await aplugin_registry()  # discovery starts it once for /info
    assert "flaky.pid" in registry
    await host.shutdown_all()
    assert host.running() == {}
    registry, _ = await aplugin_registry()  # cached /info: no process needed
    assert host.running() == {}
    first = await execute({}, make_ctx("flaky.pid"))
    second = await execute({}, make_ctx("flaky.pid"))
    assert first.document["pid"] == second.document["pid"]
    assert host._procs["flaky"].starts == 1


async def test_plugin_failure_maps_to_step_failure_with_logs(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("flaky")
    ctx = make_ctx("flaky.fail")
    with pytest.raises(StepFailure) as err:
        await execute({}, ctx)
    assert err.value.type == "StepFailed"
    assert err.value.message == "flaky.fail: BROKEN: failed on purpose"
    assert err.value.details == {"plugin": "flaky", "code": "BROKEN", "details": {"hint": "none"}}
    assert [(line.level, line.message) for line in ctx.logs] == [
        ("warning", "[flaky] about to fail")
    ]


async def test_crash_mid_execute_fails_the_step_and_the_next_call_restarts(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("flaky")
    before = (await execute({}, make_ctx("flaky.pid"))).document["pid"]
    with pytest.raises(StepFailure) as err:
        await execute({}, make_ctx("flaky.crash"))
    assert err.value.type == "PluginCrashed"
    assert "PLUGIN_CRASHED" in err.value.message and "exited with code 3" in err.value.message
    assert "simulated segfault" in err.value.message
    after = (await execute({}, make_ctx("flaky.pid"))).document["pid"]
    assert after != before
    assert host._procs["flaky"].starts == 1  # a new process object for the restart


async def test_hang_past_the_step_timeout_fails_and_the_plugin_is_replaced(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("flaky")
    hung = (await execute({}, make_ctx("flaky.pid"))).document["pid"]
    with pytest.raises(StepFailure) as err:
        await execute({}, make_ctx("flaky.hang", timeout_s=1.0))
    assert err.value.type == "Timeout"
    assert "did not answer 'flaky.hang'" in err.value.message
    with pytest.raises(ProcessLookupError):
        os.kill(hung, 0)
    out = await execute({"value": 1}, make_ctx("flaky.echo"))
    assert out.document["pid"] != hung


async def test_bad_info_answer_is_a_problem_not_a_kind(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("bad-info")
    add_plugin("my-plugin")
    registry, found = await aplugin_registry()
    assert "my-plugin.hello" in registry
    assert not [k for k in registry if k.source == "plugin:bad-info"]
    (problem,) = found.problems
    assert "plugin 'bad-info': GET /info answered an invalid document" in problem
    assert "actions.0.id: Field required" in problem
    assert "not a valid JSON Schema" in problem


async def test_plugin_that_exits_at_start_reports_its_output(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("dies-at-start")
    _, found = await aplugin_registry()
    (problem,) = found.problems
    assert "exited with code 7 before it was healthy" in problem
    assert "missing dependency: libfoo" in problem


async def test_unknown_action_gets_did_you_mean(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("my-plugin")
    with pytest.raises(
        StepFailure,
        match=r"no enabled plugin offers the action 'my-plugin\.helo' \(did you mean 'my-plugin\.hello'\?\)",
    ):
        await execute({}, make_ctx("my-plugin.helo"))
    registry = plugin_registry()
    assert registry.suggest("my-plugin.helo") == "my-plugin.hello"


async def test_graceful_shutdown_then_sigkill(
    add_plugin: Callable[[str], Path], plugins_dir: Path
) -> None:
    add_plugin("stubborn")
    add_plugin("my-plugin")
    host = PluginHost(plugins_dir, shutdown_grace=0.5)
    stubborn = await host.process("stubborn")
    seed = await host.process("my-plugin")
    await host.shutdown_all()
    assert stubborn.exit_code() == -9  # ignored /shutdown: killed after the grace period
    assert seed.exit_code() == 0  # the seed plugin exits by itself on /shutdown


async def test_plugin_action_schemas_validate_configs(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("my-plugin")
    kind = (await aplugin_registry())[0].get("my-plugin.hello")
    assert kind is not None and kind.source == "plugin:my-plugin"
    assert kind.executor == "testflow.plugins.executor:execute"
    assert kind.config_problems({}) == [((), "'name' is a required property", {})]
    assert kind.config_problems({"name": "{{ who }}"}) == []


async def test_concurrent_calls_share_one_process(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("flaky")
    outs = await asyncio.gather(*(execute({"value": i}, make_ctx("flaky.echo")) for i in range(8)))
    assert {o.document["config"]["value"] for o in outs} == set(range(8))
    assert len({o.document["pid"] for o in outs}) == 1
