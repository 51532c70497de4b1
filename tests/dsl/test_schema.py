"""The flow JSON Schema: committed file up to date, valid, and agreeing with the loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from testflow.cli import app
from testflow.dsl.diagnostics import FlowValidationError
from testflow.dsl.loader import load_flow, parse_flow
from testflow.dsl.registry import StepRegistry, default_registry
from testflow.dsl.schema import flow_json_schema, render_schema, step_kinds_markdown

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "schemas" / "flow.schema.json"
CORE_NAMES = {"http", "log", "transform", "delay", "assert", "parallel", "group", "call", "poll"}
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return flow_json_schema()


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_up_to_date(schema: dict[str, Any]) -> None:
    assert COMMITTED.is_file(), "schemas/flow.schema.json is missing: run `testflow schema`"
    assert COMMITTED.read_text(encoding="utf-8") == render_schema(schema), (
        "schemas/flow.schema.json is stale (the models or the step registry changed): "
        "run `testflow schema` from the repository root and commit the result"
    )


def test_committed_step_kinds_reference_is_up_to_date() -> None:
    docs = ROOT / "docs" / "step-kinds.md"
    assert docs.is_file() and docs.read_text(encoding="utf-8") == step_kinds_markdown(), (
        "docs/step-kinds.md is stale (the step registry changed): run `testflow schema` "
        "from the repository root and commit the result"
    )


def test_schema_is_valid_and_deterministic(schema: dict[str, Any]) -> None:
    # The meta-schema check of the full schema takes ~10 s (hundreds of definitions); the
    # structure is the same for any registry, so check one with the core and http kinds.
    small = StepRegistry(k for k in default_registry() if k.name in CORE_NAMES)
    jsonschema.Draft202012Validator.check_schema(flow_json_schema(small))
    assert render_schema(flow_json_schema()) == render_schema(schema)


def test_every_registered_kind_has_a_step_definition(schema: dict[str, Any]) -> None:
    refs = {m["$ref"].removeprefix("#/$defs/") for m in schema["$defs"]["Step"]["oneOf"]}
    for kind in default_registry():
        control = {
            "parallel": "ParallelStep",
            "group": "GroupStep",
            "call": "CallStep",
            "poll": "PollStep",
        }
        assert control.get(kind.name, f"step.{kind.name}") in refs


def _errors(validator: jsonschema.Draft202012Validator, doc: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_examples_validate_against_the_schema(
    example: Path, validator: jsonschema.Draft202012Validator
) -> None:
    load_flow(example)  # the loader accepts it...
    doc = yaml.safe_load(example.read_text(encoding="utf-8"))
    assert _errors(validator, doc) == []  # ...and so does the schema editors use
    assert example.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=../schemas/flow.schema.json"
    )


FLOW = {
    "name": "schema check",
    "context": {"follow": True, "base": "http://localhost"},
    "defaults": {"timeout": "30s", "retry": {"attempts": 2}},
    "steps": [
        {
            "id": "get",
            "type": "http",
            "request": {"url": "{{ base }}/x", "method": "GET", "follow_redirects": "{{ follow }}"},
            "extract": {"id": "$.id"},
            "assert": {"status": 200},
        },
        {"id": "note", "type": "log", "message": "{{ id }}", "level": "info"},
        {
            "id": "block",
            "type": "group",
            "steps": [{"id": "wait", "type": "delay", "duration": "1s"}],
        },
        {
            "id": "fan",
            "type": "parallel",
            "branches": [[{"id": "l", "type": "log", "message": "l"}]],
        },
    ],
}


def test_schema_and_loader_agree_on_valid_and_broken_flows(
    validator: jsonschema.Draft202012Validator,
) -> None:
    parse_flow(yaml.safe_dump(FLOW))
    assert _errors(validator, FLOW) == []
    broken: list[tuple[str, Any]] = [
        ("steps.0.reqeust", {"reqeust": FLOW["steps"][0]["request"]}),
        ("steps.1.level", {"level": "loud"}),
        ("steps.0.timeout", {"timeout": "5 minutes"}),
        ("steps.2.stepz", {"stepz": []}),
    ]
    for label, change in broken:
        index = int(label.split(".")[1])
        doc = {**FLOW, "steps": list(FLOW["steps"])}
        step = dict(doc["steps"][index])
        if "reqeust" in change:
            step.pop("request")
        if "stepz" in change:
            step.pop("steps")
        step.update(change)
        doc["steps"][index] = step
        assert _errors(validator, doc), f"the schema accepts {label}"
        with pytest.raises(FlowValidationError):
            parse_flow(yaml.safe_dump(doc))


runner = CliRunner()


def test_schema_command_writes_and_checks(tmp_path: Path) -> None:
    target = tmp_path / "flow.schema.json"
    docs = tmp_path / "step-kinds.md"
    paths = ["--output", str(target), "--docs", str(docs)]
    result = runner.invoke(app, ["schema", *paths, "--check"])
    assert result.exit_code == 2 and "run `testflow schema`" in result.output
    assert not target.exists() and not docs.exists()
    result = runner.invoke(app, ["schema", *paths])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == render_schema(flow_json_schema())
    result = runner.invoke(app, ["schema", *paths, "--check"])
    assert result.exit_code == 0 and "up to date" in result.output
    text = docs.read_text(encoding="utf-8")
    for kind in default_registry():
        assert f"`{kind.name}`" in text
    assert text == step_kinds_markdown()
    target.write_text("{}", encoding="utf-8")
    result = runner.invoke(app, ["schema", "--output", str(target), "--no-docs", "--check"])
    assert result.exit_code == 2 and "stale" in result.output
