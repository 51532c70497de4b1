"""docker-compose.yml against the Compose specification (no container engine runs here).

Two independent validators: the Compose Specification's JSON schema as vendored by
check-jsonschema (``--builtin-schema vendor.compose-spec``, run as its CLI) and the
compose_spec Rust crate's parser (PyPI compose-spec), which also checks image references,
ports and durations. Variables are interpolated first, the way `docker compose` does.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.envnames import assert_known_settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"


def compose_schema() -> dict[str, Any]:
    check_jsonschema = pytest.importorskip(
        "check_jsonschema", reason="pip install check-jsonschema"
    )
    path = (
        Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    )
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


_VAR = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose interpolation: ``${V}``, ``${V:-default}``, ``${V-default}``, ``${V:?err}``, ``$$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("plain")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        if op == ":-":
            return value or arg
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?"):
            if not value:
                raise ValueError(f"required variable {name} is missing: {arg}")
            return value
        return value or ""

    return _VAR.sub(replace, text)


def load(env: dict[str, str] | None = None) -> dict[str, Any]:
    return yaml.safe_load(interpolate(COMPOSE.read_text(), env or {}))


@pytest.mark.parametrize(
    "env", [{}, {"POSTGRES_PORT": "25432", "TESTFLOW_IMAGE": "registry.example/testflow:0.1.0"}]
)
def test_compose_file_matches_the_compose_spec_schema(env: dict[str, str], tmp_path: Path) -> None:
    cli = shutil.which("check-jsonschema")
    if cli is None:
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema)")
    interpolated = tmp_path / "docker-compose.yml"
    interpolated.write_text(interpolate(COMPOSE.read_text(), env))
    proc = subprocess.run(
        [cli, "--builtin-schema", "vendor.compose-spec", str(interpolated)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_validation_is_not_vacuous() -> None:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    doc = load()
    assert not list(validator.iter_errors(doc))
    doc["services"]["worker"]["stop_grace_periodd"] = "45s"
    assert list(validator.iter_errors(doc))


def test_compose_file_parses_with_the_compose_spec_crate() -> None:
    compose_spec = pytest.importorskip("compose_spec", reason="pip install compose-spec")
    # The crate does not resolve YAML merge keys (<<): give it the merged document.
    parsed = compose_spec.PyCompose.from_json(json.dumps(load()))
    assert set(parsed.service_names()) >= {
        "postgresql",
        "temporal",
        "temporal-ui",
        "redis",
        "kafka",
        "api",
        "worker",
        "demo",
    }
    with pytest.raises(ValueError, match="image"):
        bad = load()
        bad["services"]["api"]["image"] = "testflow:${TAG}"
        compose_spec.PyCompose.from_json(json.dumps(bad))


def test_the_platform_is_complete_and_persistent() -> None:
    doc = load()
    services = doc["services"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["worker"]["command"] == ["worker", "--temporal", "temporal:7233"]
    assert services["api"]["command"] == ["serve", "--no-worker"]
    assert services["demo"]["entrypoint"] == ["python", "-m", "testflow.demo"]
    assert "--port" in services["demo"]["command"] and "8080" in services["demo"]["command"]
    # Graceful drain: longer than the worker's 10 s graceful shutdown.
    assert int(services["worker"]["stop_grace_period"].rstrip("s")) > 10
    # Everything stateful keeps its data in a named volume.
    volumes = set(doc["volumes"])
    for name, path in [
        ("postgresql", "/var/lib/postgresql/data"),
        ("redis", "/data"),
        ("kafka", "/var/lib/kafka/data"),
        ("api", "/data"),
    ]:
        mounts = services[name].get("volumes", [])
        assert any(m.split(":")[0] in volumes and m.split(":")[1] == path for m in mounts), name
    # Published ports are loopback-only and documented in docs/deploy.md.
    doc_text = (REPO / "docs" / "deploy.md").read_text()
    for name, svc in services.items():
        for port in svc.get("ports", []):
            host_ip, host_port, _ = port.split(":")
            assert host_ip == "127.0.0.1", (name, port)
            assert f"| {host_port} |" in doc_text, (
                f"port {host_port} of {name} is not in docs/deploy.md"
            )
    assert_known_settings(services["worker"]["environment"], where="docker-compose.yml")
