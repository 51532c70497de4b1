"""The SDKs: the Python SDK's dispatch in-process, and the TypeScript / Go SDKs' own test
suites run with their real toolchains (node's test runner, go test)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from pydantic import BaseModel

from testflow.plugins.sdk import AUTH_ACTION, Context, Plugin, PluginError

from .conftest import REPO


class Order(BaseModel):
    sku: str
    qty: int = 1


def make_plugin() -> Plugin:
    plugin = Plugin(id="shop", name="Shop", version="2.0.0")

    @plugin.action("order", model=Order, description="Place an order")
    def order(config: Order, ctx: Context) -> dict[str, object]:
        ctx.log(f"ordering {config.qty} x {config.sku}")
        return {"sku": config.sku, "qty": config.qty, "step": ctx.step_id}

    @plugin.action(
        "other.fetch", schema={"type": "object", "properties": {"id": {"type": "string"}}}
    )
    async def fetch(config: dict[str, object], ctx: Context) -> dict[str, object]:
        return {"id": config["id"]}

    @plugin.action("refuse")
    def refuse(config: dict[str, object], ctx: Context) -> None:
        raise PluginError("OUT_OF_STOCK", "no stock", {"sku": "x"})

    @plugin.action("bug")
    def bug(config: dict[str, object], ctx: Context) -> None:
        raise KeyError("missing")

    @plugin.auth
    def login(config: dict[str, object], ctx: Context) -> dict[str, object]:
        return {"headers": {"X-Token": "t"}}

    return plugin


def test_python_sdk_info_names_actions_and_hides_reserved_ones() -> None:
    info = make_plugin().info()
    assert [a["id"] for a in info["actions"]] == [
        "shop.order",
        "other.fetch",
        "shop.refuse",
        "shop.bug",
    ]
    order = info["actions"][0]
    assert order["description"] == "Place an order"
    assert order["schema"]["required"] == ["sku"]
    assert order["schema"]["properties"]["qty"]["type"] == "integer"


def test_python_sdk_dispatch() -> None:
    plugin = make_plugin()
    status, ok = plugin.execute(
        {"action": "shop.order", "config": {"sku": "A"}, "context": {"step_id": "s1"}}
    )
    assert status == 200 and ok["success"] is True
    assert ok["output"] == {"sku": "A", "qty": 1, "step": "s1"}
    assert ok["logs"][0]["message"] == "ordering 1 x A"
    assert plugin.execute({"action": "other.fetch", "config": {"id": "7"}})[1]["output"] == {
        "id": "7"
    }
    _, invalid = plugin.execute({"action": "shop.order", "config": {"qty": "many"}})
    assert invalid["error"]["code"] == "INVALID_CONFIG"
    assert {e["path"] for e in invalid["error"]["details"]["errors"]} == {"sku", "qty"}
    _, refused = plugin.execute({"action": "shop.refuse"})
    assert refused["error"] == {
        "code": "OUT_OF_STOCK",
        "message": "no stock",
        "details": {"sku": "x"},
    }
    _, bug = plugin.execute({"action": "shop.bug"})
    assert bug["error"]["code"] == "INTERNAL_ERROR" and "KeyError" in bug["error"]["message"]
    status, unknown = plugin.execute({"action": "shop.nope"})
    assert status == 400 and unknown["error"]["code"] == "UNKNOWN_ACTION"
    assert plugin.execute({"action": AUTH_ACTION, "config": {}})[1]["output"] == {
        "headers": {"X-Token": "t"}
    }


def test_python_sdk_refuses_duplicate_actions() -> None:
    plugin = make_plugin()
    with pytest.raises(ValueError, match="registered twice"):
        plugin.action("order")(lambda c, ctx: None)


@pytest.mark.slow
def test_typescript_sdk_suite() -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    sdk = REPO / "sdk" / "typescript"
    if not (sdk / "node_modules").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=sdk,
            check=True,
            capture_output=True,
            timeout=600,
        )
    proc = subprocess.run(["npm", "test"], cwd=sdk, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "# fail 0" in proc.stdout


@pytest.mark.slow
def test_go_sdk_suite() -> None:
    if shutil.which("go") is None:
        pytest.skip("Go is not installed (apt-get install golang-go)")
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod"}
    proc = subprocess.run(
        ["go", "test", "./..."],
        cwd=REPO / "sdk" / "go",
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ok")
