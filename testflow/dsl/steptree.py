"""The steps of a raw flow document as a tree, with their document paths.

Checks run on the data as written (not on validated models) so that one broken step does not
hide the problems of the others; this module finds the steps in it: the top-level lists
(``setup``, ``steps``, ``teardown``, hooks) and the children of control steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from testflow.dsl.models import ActionStep
from testflow.dsl.positions import join_path
from testflow.dsl.validation import field_names

COMMON_KEYS = frozenset(field_names(ActionStep))
RUNTIME_NAMES = frozenset(
    {"steps", "run", "webhooks", "env", "item", "loop", "result", "secret", "flow", "error", "vars"}
)
"""Names the interpreter provides at run time, besides the templating built-ins."""


@dataclass
class RawStep:
    """A step as written, with its document path and the list it sits in."""

    path: str
    data: dict[str, Any]
    list_path: str
    parent: RawStep | None = None
    children: list[list[RawStep]] = field(default_factory=list)


def step_tree(data: dict[str, Any]) -> dict[str, list[RawStep]]:
    """The top-level step lists (``setup``, ``hooks.before_step``, ``steps``...) as trees."""
    out: dict[str, list[RawStep]] = {}
    for name in ("setup", "steps", "teardown"):
        out[name] = _steps_of(data.get(name), name, None)
    hooks = data.get("hooks")
    if isinstance(hooks, dict):
        for name in ("before_step", "after_step"):
            out[f"hooks.{name}"] = _steps_of(hooks.get(name), f"hooks.{name}", None)
    return out


def _steps_of(value: Any, path: str, parent: RawStep | None) -> list[RawStep]:
    if not isinstance(value, list):
        return []
    out = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            step = RawStep(join_path(path, i), item, path, parent)
            step.children = _children(step)
            out.append(step)
    return out


def _children(step: RawStep) -> list[list[RawStep]]:
    kind, data = step.data.get("type"), step.data
    if kind == "group":
        return [_steps_of(data.get("steps"), join_path(step.path, "steps"), step)]
    if kind == "poll" and isinstance(data.get("step"), dict):
        inner = RawStep(
            join_path(step.path, "step"), data["step"], join_path(step.path, "step"), step
        )
        inner.children = _children(inner)
        return [[inner]]
    if kind == "parallel" and isinstance(data.get("branches"), list):
        lists = []
        for i, branch in enumerate(data["branches"]):
            base = join_path(join_path(step.path, "branches"), i)
            if isinstance(branch, list):
                lists.append(_steps_of(branch, base, step))
            elif isinstance(branch, dict):
                lists.append(_steps_of(branch.get("steps"), join_path(base, "steps"), step))
        return lists
    return []


def walk(steps: Iterable[RawStep]) -> Iterator[RawStep]:
    for step in steps:
        yield step
        for children in step.children:
            yield from walk(children)


def iter_strings(value: Any, path: str, *, skip_steps: bool = False) -> Iterator[tuple[str, str]]:
    """Every string value under ``value`` with its path (nested steps skipped if asked)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from iter_strings(item, join_path(path, i), skip_steps=skip_steps)
    elif isinstance(value, dict):
        kind = value.get("type") if skip_steps else None
        for key, item in value.items():
            if skip_steps and _holds_steps(kind, key):
                continue
            yield from iter_strings(item, join_path(path, key))


def _holds_steps(kind: Any, key: str) -> bool:
    # ``type`` may be any YAML value here (a list, a mapping): the schema reports it later.
    if not isinstance(kind, str):
        return False
    return (kind, key) in {("group", "steps"), ("parallel", "branches"), ("poll", "step")}


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text
