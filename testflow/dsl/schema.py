"""The JSON Schema of flow files, built from the models and the step registry.

A step is ``oneOf`` one definition per kind: the control kinds (``parallel``, ``group``,
``call``, ``poll``) come from their models; every other kind is the common step fields plus
``type: {const: <kind>}`` plus the kind's own keys (from its input model or plugin schema),
with ``additionalProperties: false`` so editors flag typos and autocomplete per kind. The
output is deterministic (sorted definitions and kinds) because the file is committed and a
test compares it with a fresh build.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from testflow.dsl.models import CONTROL_KINDS, ActionStep, Environment, Flow, Suite
from testflow.dsl.registry import StepKind, StepRegistry, default_registry

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_PATH = "schemas/flow.schema.json"
DOCS_PATH = "docs/step-kinds.md"
_STEP_MODELS = {"ParallelStep", "GroupStep", "CallStep", "PollStep", "ActionStep"}
_CONTROL_DEFS = {
    "parallel": "ParallelStep",
    "group": "GroupStep",
    "call": "CallStep",
    "poll": "PollStep",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    """Rename ``#/$defs/X`` references (a kind's own definitions may clash with others)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                name = value.removeprefix("#/$defs/")
                out[key] = f"#/$defs/{renames.get(name, name)}"
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _replace_step_unions(node: Any) -> Any:
    """Pydantic writes the step union inline everywhere; point those places at ``Step``."""
    if isinstance(node, dict):
        members = node.get("oneOf") or node.get("anyOf")
        if (
            isinstance(members, list)
            and {m.get("$ref", "").removeprefix("#/$defs/") for m in members if isinstance(m, dict)}
            == _STEP_MODELS
        ):
            rest = {k: v for k, v in node.items() if k not in ("oneOf", "anyOf", "discriminator")}
            return {**rest, **_ref("Step")}
        return {k: _replace_step_unions(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_step_unions(item) for item in node]
    return node


def _merge_defs(defs: dict[str, Any], schema: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Move a kind schema's ``$defs`` into ``defs`` (renaming on clashes); return the schema."""
    own = schema.pop("$defs", {})
    renames: dict[str, str] = {}
    for name, definition in own.items():
        if name in defs and defs[name] != _rewrite_refs(definition, renames):
            renames[name] = f"{prefix}.{name}"
    for name, definition in own.items():
        defs[renames.get(name, name)] = _rewrite_refs(definition, renames)
    return dict(_rewrite_refs(schema, renames))


TEMPLATE_DEF = {
    "type": "string",
    "pattern": "\\{\\{|\\{%",
    "description": "A template ({{ expression }}): rendered at run time, it may stand for any type.",
}


def _templatable(node: Any) -> Any:
    """Let every kind-specific value also be a template string, as the loader does.

    Only the rendered value is type-checked (by the activity), so ``port: "{{ port }}"`` is
    valid; without this, editors would flag every templated number or boolean.
    """
    if not isinstance(node, dict):
        return node
    out = dict(node)
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: _template_or(_templatable(v)) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = _template_or(_templatable(out["items"]))
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _template_or(_templatable(out["additionalProperties"]))
    for key in ("anyOf", "oneOf"):
        if isinstance(out.get(key), list):
            out[key] = [_templatable(m) for m in out[key]]
    if isinstance(out.get("$defs"), dict):
        out["$defs"] = {k: _templatable(v) for k, v in out["$defs"].items()}
    return out


def _template_or(node: Any) -> Any:
    """``node`` or a template string."""
    if not isinstance(node, dict) or not node or _accepts_any_string(node):
        return node
    template = _ref("Template")
    if isinstance(node.get("anyOf"), list):
        return {**node, "anyOf": [*node["anyOf"], template]}
    meta = {k: node[k] for k in ("title", "description", "default") if k in node}
    rest = {k: v for k, v in node.items() if k not in meta}
    return {**meta, "anyOf": [rest, template]}


def _accepts_any_string(node: dict[str, Any]) -> bool:
    constraints = {"pattern", "enum", "const", "format", "minLength", "maxLength"}
    return node.get("type") == "string" and not constraints & set(node)


def _action_step_def(
    kind: StepKind, common: dict[str, Any], defs: dict[str, Any]
) -> dict[str, Any]:
    config = _merge_defs(defs, _templatable(copy.deepcopy(kind.config_schema())), kind.name)
    properties = {name: _ref(f"StepField.{name}") for name in common["properties"]}
    properties["type"] = {"const": kind.name, "description": kind.description}
    required = ["id", "type"]
    if config.get("type", "object") == "object" and isinstance(config.get("properties"), dict):
        for key, value in config["properties"].items():
            properties[key] = value
        required += [r for r in config.get("required", []) if r not in required]
        extra: Any = False
    else:
        extra = True  # a plugin schema we cannot merge: accept the keys, the loader checks them
    definition: dict[str, Any] = {
        "title": f"{kind.name} step",
        "description": kind.description + (f" `$` is {kind.primary}." if kind.primary else ""),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": extra,
    }
    if kind.example:
        definition["examples"] = [kind.example]
    return definition


def flow_json_schema(registry: StepRegistry | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a flow file for the kinds in ``registry``."""
    registry = registry or default_registry()
    base = _replace_step_unions(Flow.model_json_schema(mode="validation"))
    defs: dict[str, Any] = base.pop("$defs")
    root = defs.pop("Flow") if "$ref" in base else base  # $ref when Flow is recursive
    common = defs.pop("ActionStep")
    common["properties"].pop("type", None)
    for name, prop in common["properties"].items():  # shared by every kind: defined once
        defs[f"StepField.{name}"] = prop
    defs["CallStep"]["properties"].pop("resolved", None)  # filled by the loader, never written
    members = []
    for kind in registry:
        if kind.name in CONTROL_KINDS:
            name = _CONTROL_DEFS[kind.name]
            defs[name]["description"] = kind.description
            members.append((kind.name, _ref(name)))
            continue
        def_name = f"step.{kind.name}"
        defs[def_name] = _action_step_def(kind, common, defs)
        members.append((kind.name, _ref(def_name)))
    if "ParallelBranch" in defs:  # a branch may be written as a bare list of steps
        branch = defs["ParallelBranch"]
        defs["ParallelBranch"] = {
            "description": "A branch: {name, steps} or just a list of steps.",
            "anyOf": [branch, {"type": "array", "items": _ref("Step")}],
        }
    defs["Template"] = TEMPLATE_DEF
    defs["Step"] = {
        "description": "A step; `type` selects its kind and the keys it accepts.",
        "oneOf": [ref for _, ref in sorted(members)],
    }
    root = {k: v for k, v in root.items() if k not in ("title", "description")}
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "testflow flow",
        "description": "A testflow flow file (YAML or JSON). Generated by `testflow schema`; do not edit.",
        **root,
        "$defs": dict(sorted(defs.items())),
    }


def environment_json_schema() -> dict[str, Any]:
    return {"$schema": SCHEMA_DIALECT, **Environment.model_json_schema(mode="validation")}


def suite_json_schema() -> dict[str, Any]:
    return {"$schema": SCHEMA_DIALECT, **Suite.model_json_schema(mode="validation")}


def render_schema(schema: dict[str, Any]) -> str:
    """The committed text form: two-space indent, trailing newline, UTF-8 kept readable."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def step_kinds_markdown(registry: StepRegistry | None = None) -> str:
    """A Markdown reference of the step kinds (``testflow schema --docs``)."""
    registry = registry or default_registry()
    lines = [
        "# Step kinds",
        "",
        "Generated by `testflow schema` from the step registry; do not edit.",
        "",
        "| type | category | runs as | `$` in extract/assert | result fields | description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind in registry:
        fields = ", ".join(f"`{f}`" for f in kind.result_fields) or "-"
        cells = [f"`{kind.name}`", kind.category, kind.mode, kind.primary, fields, kind.description]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines.append("")
    for kind in registry:
        if kind.name in CONTROL_KINDS:
            continue
        lines += [f"## `{kind.name}`", "", kind.description, ""]
        config = kind.config_schema()
        props = config.get("properties", {}) if isinstance(config, dict) else {}
        required = set(config.get("required", [])) if isinstance(config, dict) else set()
        if props:
            lines += ["| key | required | description |", "| --- | --- | --- |"]
            for key, value in props.items():
                desc = _cell(str(value.get("description", ""))) if isinstance(value, dict) else ""
                lines.append(f"| `{key}` | {'yes' if key in required else 'no'} | {desc} |")
            lines.append("")
        if kind.example:
            import yaml  # pure: only renders the example

            example = yaml.safe_dump([kind.example], sort_keys=False, allow_unicode=True).rstrip()
            lines += ["```yaml", example, "```", ""]
    common = ", ".join(f"`{f.alias or n}`" for n, f in ActionStep.model_fields.items())
    lines += ["## Common step keys", "", f"Every step accepts: {common}.", ""]
    return "\n".join(lines)
