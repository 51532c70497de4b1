"""Checks of one step against its kind: type, kind-specific keys, extract and assert."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from testflow.dsl import assertions, jsonpath
from testflow.dsl.diagnostics import hint_for
from testflow.dsl.models import CONTROL_KINDS
from testflow.dsl.positions import format_loc, join_path
from testflow.dsl.registry import StepRegistry
from testflow.dsl.steptree import COMMON_KEYS, RawStep
from testflow.dsl.validation import Problem, drop_explained_missing, pydantic_problems


def check_step(step: RawStep, registry: StepRegistry) -> list[Problem]:
    """Kind, kind-specific keys, extract and assert of one step."""
    data = step.data
    kind_name = data.get("type")
    problems: list[Problem] = []
    if not isinstance(kind_name, str):
        return problems
    kind = registry.get(kind_name)
    if kind is None and kind_name not in CONTROL_KINDS:
        hint = registry.suggest(kind_name)
        problems.append(
            Problem(
                join_path(step.path, "type"),
                "value",
                f"unknown step type {kind_name!r}",
                f"did you mean {hint!r}?"
                if hint
                else "see `testflow schema --docs` for the step types",
            )
        )
    elif kind is not None and kind_name not in CONTROL_KINDS:
        if kind.input_model is None and kind.input_schema:
            problems.extend(_schema_problems(step, kind.input_schema))
        else:
            problems.extend(_config_problems(step, kind.input_model, kind.config_problems))
    extract = data.get("extract")
    if isinstance(extract, dict):
        problems.extend(_extract_problems(step.path, extract))
    spec = data.get("assert")
    if isinstance(spec, dict):
        fields = kind.result_fields if kind is not None else ()
        base = join_path(step.path, "assert")
        for loc, message in assertions.check_spec(spec, fields):
            problems.append(_assert_problem(base, tuple(loc), str(message)))
    return problems


_HINT = re.compile(r"\s*\((did you mean '[^']*'\?)\)")


def _assert_problem(base: str, loc: tuple[str | int, ...], message: str) -> Problem:
    """A check_spec finding; a problem naming the key points at the key, hints move to ``hint``."""
    hint = None
    match = _HINT.search(message)
    if match:
        hint = match.group(1)
        message = message[: match.start()] + message[match.end() :]
    about_key = bool(loc) and isinstance(loc[-1], str) and repr(loc[-1]) in message
    return Problem(format_loc(loc, base), "key" if about_key else "value", message, hint)


def _config_problems(step: RawStep, model: Any, fallback: Any) -> list[Problem]:
    config = {k: v for k, v in step.data.items() if k not in COMMON_KEYS}
    if model is None:  # a plugin kind described by a JSON Schema only
        return [
            Problem(format_loc(tuple(loc), step.path), "value", str(msg))
            for loc, msg, _ in fallback(config)
        ]
    try:
        model.model_validate(config)
    except ValidationError as exc:
        problems = pydantic_problems(
            exc, config, base=step.path, root=model, extra_candidates=COMMON_KEYS
        )
        # A template may stand for any type: only its rendered value can be type-checked.
        return [p for p in problems if not _is_template_type_error(p, step, exc)]
    return []


def _schema_problems(step: RawStep, schema: dict[str, Any]) -> list[Problem]:
    """Problems of a plugin kind's keys against its JSON Schema, with "did you mean" for typos."""
    import jsonschema  # only plugin kinds (no pydantic model) need it

    config = {k: v for k, v in step.data.items() if k not in COMMON_KEYS}
    problems = []
    for err in jsonschema.Draft202012Validator(schema).iter_errors(config):
        path = format_loc(tuple(err.absolute_path), step.path)
        if isinstance(err.instance, str) and "{{" in err.instance:
            continue  # only the rendered value can be type-checked
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = set(err.schema.get("properties", {}) if isinstance(err.schema, dict) else ())
            if not err.absolute_path:
                known |= COMMON_KEYS
            for key in sorted(set(err.instance) - known):
                problems.append(
                    Problem(
                        join_path(path, key), "key", f"unknown key {key!r}", hint_for(key, known)
                    )
                )
            continue
        if err.validator == "required" and isinstance(err.instance, dict):
            missing = [k for k in err.validator_value if k not in err.instance]
            for key in missing:
                problems.append(
                    Problem(join_path(path, key), "parent", f"missing required key {key!r}")
                )
            continue
        problems.append(Problem(path, "value", err.message))
    return drop_explained_missing(problems)


def _is_template_type_error(problem: Problem, step: RawStep, exc: ValidationError) -> bool:
    if problem.anchor != "value":
        return False
    for err in exc.errors():
        value = err.get("input")
        if (
            isinstance(value, str)
            and "{{" in value
            and format_loc(tuple(err["loc"]), step.path).startswith(problem.path)
        ):
            return True
    return False


def _extract_problems(step_path: str, extract: dict[str, Any]) -> list[Problem]:
    problems = []
    base = join_path(step_path, "extract")
    for name, expr in extract.items():
        if isinstance(expr, str) and expr.startswith("$"):
            try:
                jsonpath.compile_path(expr)
            except jsonpath.JSONPathError as exc:
                message = (
                    str(exc)
                    if str(exc).startswith("invalid JSONPath")
                    else f"invalid JSONPath: {exc}"
                )
                problems.append(Problem(join_path(base, name), "value", message))
    return problems
