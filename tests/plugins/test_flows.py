"""Plugin actions in real flows: the embedded Temporal dev server, a worker whose registry is
``plugin_registry()``, and each example plugin (seed Python, seed Node, Python SDK, TypeScript
SDK, Go SDK) used like a built-in step kind."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from testflow.dsl.loader import parse_flow
from testflow.dsl.results import RunResult
from testflow.plugins.kinds import aplugin_registry
from testflow.runtime.engine import Engine
from testflow.runtime.settings import Settings

pytestmark = [pytest.mark.workflow, pytest.mark.slow]


async def run_text(client: Client, settings: Settings, task_queue: str, text: str) -> RunResult:
    registry, found = await aplugin_registry()
    assert found.problems == []
    flow = parse_flow(text, "plugin-flow.yaml", registry=registry).flow
    engine = Engine(
        settings.model_copy(update={"task_queue": task_queue}), client=client, registry=registry
    )
    async with engine:
        handle = await engine.start(flow, environ={})
        return await engine.follow(handle.id)


def steps(result: RunResult) -> dict[str, Any]:
    return {s.step_id: s for s in result.steps}


async def test_seed_and_python_sdk_plugins_in_a_flow(
    add_plugin: Callable[[str], Path], temporal_client: Client, settings: Settings, task_queue: str
) -> None:
    add_plugin("my-plugin")
    add_plugin("my-js-plugin")
    add_plugin("text-tools")
    result = await run_text(
        temporal_client,
        settings,
        task_queue,
        """
name: plugins in a flow
context: {who: TestMesh}
steps:
  - id: greet
    type: my-plugin.hello
    name: "{{ who }}"
    extract: {message: $.greeting}
    assert: {$.greeting: "Hello, TestMesh!"}
  - id: shout
    type: text.upper
    text: "{{ message }}"
    extract: {loud: $.text}
    assert: {$.flow: plugins in a flow}
  - id: count
    type: text.words
    text: "{{ loud }} again"
    assert: {$.count: 3}
  - id: js
    type: my-js-plugin.transform
    input: {loud: "{{ loud }}"}
    assert: {$.result.loud: "HELLO, TESTMESH!"}
""",
    )
    by_id = steps(result)
    assert result.status == "passed", [(s.step_id, s.error) for s in result.steps]
    assert by_id["greet"].extracted == {"message": "Hello, TestMesh!"}
    assert by_id["shout"].extracted == {"loud": "HELLO, TESTMESH!"}
    assert any("[my-plugin] Greeted TestMesh" in line.message for line in by_id["greet"].logs)
    assert any("upper-casing" in line.message for line in by_id["shout"].logs)


async def test_typescript_and_go_sdk_plugins_in_a_flow(
    add_ts_greeter: Path,
    add_go_kv: Path,
    temporal_client: Client,
    settings: Settings,
    task_queue: str,
) -> None:
    result = await run_text(
        temporal_client,
        settings,
        task_queue,
        """
name: sdk plugins
context: {hello: Salut}
steps:
  - id: greet
    type: ts-greeter.greet
    name: Ada
    extract: {greeting: $.greeting}
    assert: {$.greeting: "Salut, Ada!"}
  - id: sum
    type: ts-greeter.sum
    numbers: [1, 2, 3.5]
    assert: {$.sum: 6.5}
  - id: put
    type: go-kv.put
    key: greeting
    value: "{{ greeting }}"
  - id: get
    type: go-kv.get
    key: greeting
    assert: {$.value: "Salut, Ada!"}
  - id: missing
    type: go-kv.get
    key: nothing
    continue_on_error: true
""",
    )
    by_id = steps(result)
    assert [by_id[k].status for k in ("greet", "sum", "put", "get")] == ["passed"] * 4
    assert by_id["missing"].status == "error"
    assert by_id["missing"].error is not None
    assert "NOT_FOUND: no value under nothing" in by_id["missing"].error.message


async def test_a_crash_and_a_hang_fail_their_steps_and_the_run_goes_on(
    add_plugin: Callable[[str], Path], temporal_client: Client, settings: Settings, task_queue: str
) -> None:
    add_plugin("flaky")
    result = await run_text(
        temporal_client,
        settings,
        task_queue,
        """
name: flaky plugin
steps:
  - id: before
    type: flaky.pid
    extract: {pid: $.pid}
  - id: crash
    type: flaky.crash
    continue_on_error: true
  - id: hang
    type: flaky.hang
    timeout: 2s
    continue_on_error: true
  - id: after
    type: flaky.echo
    value: "{{ pid }}"
    assert: {$.config.value: "{{ pid }}"}
""",
    )
    by_id = steps(result)
    assert by_id["crash"].status == "error"
    assert by_id["crash"].error.type == "PluginCrashed"
    assert by_id["hang"].status == "error"
    assert by_id["hang"].error.type == "Timeout"
    assert by_id["after"].status == "passed"
    assert by_id["after"].extracted == {}


class _EchoHeaders(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHeaders)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_auth_plugin_signs_http_steps(
    add_plugin: Callable[[str], Path],
    echo_server: str,
    temporal_client: Client,
    settings: Settings,
    task_queue: str,
) -> None:
    add_plugin("demo-sso")
    result = await run_text(
        temporal_client,
        settings,
        task_queue,
        f"""
name: auth plugin
steps:
  - id: call
    type: http
    request:
      url: {echo_server}/whoami
      auth: {{plugin: demo-sso, config: {{client_id: acme, client_secret: s3cret-value}}}}
    assert:
      status: 200
      $.headers.X-Client-Id: acme
""",
    )
    (step,) = result.steps
    assert step.status == "passed", step.error
