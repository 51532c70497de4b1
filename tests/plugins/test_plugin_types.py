"""auth, importer, exporter and reporter plugins through their real example processes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from testflow.activities.base import StepFailure
from testflow.dsl.loader import load_flow
from testflow.plugins import auth
from testflow.plugins.errors import PluginError, PluginProtocolError
from testflow.plugins.exporter import export_with_plugin
from testflow.plugins.host import PluginHost
from testflow.plugins.importer import ImportedFlowInvalid, import_with_plugin
from testflow.plugins.reporter import ReporterFailed, run_reporter_plugins
from testflow.plugins.typed import write_files

from .conftest import make_ctx

CSV = "id,method,url,status\nping,get,http://127.0.0.1:9/ping,200\ncreate,post,http://127.0.0.1:9/orders,201\n"


@pytest.fixture(autouse=True)
def _fresh_auth_cache() -> None:
    auth.clear_cache()


async def test_auth_plugin_produces_verifiable_headers(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("demo-sso")
    ctx = make_ctx("http")
    config = {"client_id": "acme", "client_secret": "s3cret-value", "ttl": 60}
    headers = await auth.auth_headers(
        "demo-sso", config, ctx, request={"method": "GET", "url": "http://x"}
    )
    assert headers["X-Client-Id"] == "acme"
    token = headers["Authorization"].removeprefix("Bearer ")
    payload, sig = token.split(".")
    assert hmac.compare_digest(
        sig, hmac.new(b"s3cret-value", payload.encode(), hashlib.sha256).hexdigest()
    )
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == "acme"
    assert headers["Authorization"] in ctx.secret_values  # masked in reports
    assert any("signed a token for acme" in line.message for line in ctx.logs)


async def test_auth_answers_with_expiry_are_cached(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("demo-sso")
    config = {"client_id": "acme", "client_secret": "s3cret-value", "ttl": 60}
    first = await auth.auth_headers("demo-sso", config, make_ctx("http"))
    await host.shutdown_all()  # a cache hit needs no process
    second = await auth.auth_headers("demo-sso", config, make_ctx("http"))
    assert first == second and host.running() == {}
    other = await auth.auth_headers("demo-sso", {**config, "client_id": "globex"}, make_ctx("http"))
    assert other["X-Client-Id"] == "globex"


async def test_auth_failure_and_wrong_plugin_type(
    add_plugin: Callable[[str], Path], host: PluginHost
) -> None:
    add_plugin("demo-sso")
    add_plugin("my-plugin")
    with pytest.raises(
        StepFailure, match="MISSING_CREDENTIALS: config needs client_id and client_secret"
    ):
        await auth.auth_headers("demo-sso", {"client_id": "x"}, make_ctx("http"))
    with pytest.raises(StepFailure, match="plugin 'my-plugin' is of type 'action', not 'auth'"):
        await auth.auth_headers("my-plugin", {}, make_ctx("http"))
    with pytest.raises(StepFailure, match=r"no plugin 'demo-ss0'.*did you mean 'demo-sso'"):
        await auth.auth_headers("demo-ss0", {}, make_ctx("http"))


async def test_importer_writes_valid_flows(
    add_plugin: Callable[[str], Path], host: PluginHost, tmp_path: Path
) -> None:
    add_plugin("csv-importer")
    source = tmp_path / "checks.csv"
    source.write_text(CSV)
    (path,) = await import_with_plugin(
        "csv-importer", source, tmp_path / "out", options={"name": "Partner checks"}
    )
    assert path == (tmp_path / "out" / "checks.yaml").resolve()
    flow = load_flow(path).flow
    assert flow.name == "Partner checks"
    assert [(s.id, s.config["request"]["method"]) for s in flow.steps] == [
        ("ping", "GET"),
        ("create", "POST"),
    ]
    with pytest.raises(FileExistsError):
        await import_with_plugin("csv-importer", source, tmp_path / "out")


async def test_importer_errors(
    add_plugin: Callable[[str], Path], host: PluginHost, tmp_path: Path
) -> None:
    add_plugin("csv-importer")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,url\nx,http://y\n")
    with pytest.raises(PluginError, match="BAD_CSV: missing column"):
        await import_with_plugin("csv-importer", bad, tmp_path / "out")
    invalid = tmp_path / "invalid.csv"
    invalid.write_text("id,method,url,status\nnot valid id!,get,http://y,200\n")
    with pytest.raises(ImportedFlowInvalid, match="the importer produced an invalid flow"):
        await import_with_plugin("csv-importer", invalid, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written


async def test_exporter_round_trip(
    add_plugin: Callable[[str], Path], host: PluginHost, tmp_path: Path
) -> None:
    add_plugin("curl-exporter")
    flow = tmp_path / "orders.yaml"
    flow.write_text(
        "name: Orders\nsteps:\n"
        "  - id: create\n    type: http\n    request:\n      method: POST\n"
        "      url: http://127.0.0.1:9/orders\n      json: {sku: A-1}\n"
        "  - id: note\n    type: log\n    message: done\n"
    )
    (script,) = await export_with_plugin("curl-exporter", flow, tmp_path / "out")
    text = script.read_text()
    assert script.name == "orders.sh"
    assert (
        "curl -sS -X POST http://127.0.0.1:9/orders -H 'Content-Type: application/json' --data '{\"sku\": \"A-1\"}'"
        in text
    )


async def test_reporter_writes_its_format(
    add_plugin: Callable[[str], Path], host: PluginHost, tmp_path: Path
) -> None:
    add_plugin("tap-reporter")
    result = {
        "run_id": "run-x-1",
        "flow": "x",
        "status": "failed",
        "steps": [
            {"key": "steps.a", "step_id": "a", "status": "passed"},
            {
                "key": "steps.b",
                "step_id": "b",
                "status": "error",
                "error": {"type": "Timeout", "message": "slow"},
            },
        ],
    }
    (path,) = await run_reporter_plugins(result, tmp_path / "results", ["tap-reporter"])
    assert path.read_text().splitlines()[:4] == [
        "TAP version 13",
        "1..2",
        "ok 1 - steps.a",
        "not ok 2 - steps.b",
    ]


async def test_a_failing_reporter_does_not_stop_the_others(
    add_plugin: Callable[[str], Path], host: PluginHost, tmp_path: Path
) -> None:
    add_plugin("tap-reporter")
    add_plugin("my-plugin")
    with pytest.raises(ReporterFailed) as err:
        await run_reporter_plugins(
            {"run_id": "r", "steps": []}, tmp_path, ["my-plugin", "tap-reporter"]
        )
    assert err.value.failures == [
        "reporter 'my-plugin': plugin 'my-plugin' is of type 'action', not 'reporter'"
    ]
    assert [p.name for p in err.value.written] == ["results.tap"]


def test_plugin_files_cannot_escape_the_output_directory(tmp_path: Path) -> None:
    for name in ("../evil.txt", "/etc/evil", "a/../../evil"):
        with pytest.raises(PluginProtocolError, match="outside the output directory"):
            write_files([{"name": name, "content": "x"}], tmp_path, "p")
    (ok,) = write_files(
        [{"name": "sub/r.bin", "content_base64": base64.b64encode(b"\x00\x01").decode()}],
        tmp_path,
        "p",
    )
    assert ok.read_bytes() == b"\x00\x01"
