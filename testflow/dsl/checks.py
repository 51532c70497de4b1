"""Checks of a flow document beyond its shape, done on the raw data so every problem is found.

The pydantic models only know the common step fields; here each action step is checked
against its kind (unknown types, kind-specific keys, assertions, JSONPaths in ``extract``),
every template string is compiled, and the flow as a whole is cross-checked: duplicate step
ids, ``depends_on`` naming unknown steps, dependency cycles, variables that nothing defines,
and extracted names that shadow context keys (a warning). Working on the raw data (not on a
validated :class:`~testflow.dsl.models.Flow`) means a typo in one step does not hide the
problems of the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from testflow.dsl import templating
from testflow.dsl.diagnostics import hint_for
from testflow.dsl.positions import join_path
from testflow.dsl.stepchecks import check_step
from testflow.dsl.steptree import (
    RUNTIME_NAMES,
    RawStep,
    is_template,
    iter_strings,
    step_tree,
    walk,
)
from testflow.dsl.validation import Problem

__all__ = [
    "check_step",
    "context_template_problems",
    "cross_check",
    "step_tree",
    "template_problems",
    "walk",
]

# --- templates ---------------------------------------------------------------------------


def _source_of(text: str, is_when: bool) -> str | None:
    """The template text to compile: ``when`` may be a bare expression; other plain strings are none."""
    if is_template(text):
        return text
    return "{{ " + text + " }}" if is_when else None


def _syntax_error(source: str) -> str | None:
    error = templating.syntax_error(source)
    return str(error).removeprefix("syntax error: ") if error else None


def template_problems(data: dict[str, Any]) -> list[Problem]:
    """Syntax errors of every template string in the document (and of steps' bare ``when``)."""
    whens = {join_path(s.path, "when") for steps in step_tree(data).values() for s in walk(steps)}
    problems = []
    for path, text in iter_strings(data, ""):
        source = _source_of(text, path in whens)
        error = _syntax_error(source) if source is not None else None
        if error:
            problems.append(Problem(path, "value", f"template syntax error: {error}"))
    return problems


def _names_in(step: RawStep) -> list[tuple[str, str]]:
    """(path, variable) for each variable the step's own templates read."""
    out = []
    when = join_path(step.path, "when")
    for path, text in iter_strings(step.data, step.path, skip_steps=True):
        source = _source_of(text, path == when)
        if source is None or templating.syntax_error(source):
            continue
        for name in sorted(templating.referenced_names(source)):
            out.append((path, name))
    return out


def _defined_by_self(step: RawStep) -> set[str]:
    """Variables one step defines: its extract and outputs keys, a transform's ``set`` keys."""
    names: set[str] = set()
    data = step.data
    for key in ("extract", "outputs"):
        if isinstance(data.get(key), dict):
            names.update(str(k) for k in data[key])
    if data.get("type") == "transform" and isinstance(data.get("set"), dict):
        names.update(str(k) for k in data["set"])
    return names


def _defined_by(step: RawStep) -> set[str]:
    """Variables defined once a step (and everything nested in it) has run."""
    names = _defined_by_self(step)
    for children in step.children:
        for child in walk(children):
            names |= _defined_by_self(child)
    return names


def _loop_names(step: RawStep) -> set[str]:
    """``as`` names of the enclosing (and own) for_each loops."""
    names: set[str] = set()
    node: RawStep | None = step
    while node is not None:
        if node.data.get("for_each") is not None:
            alias = node.data.get("as", "item")
            names.add(alias if isinstance(alias, str) else "item")
        node = node.parent
    return names


# --- cross-checks ------------------------------------------------------------------------


def cross_check(data: dict[str, Any], known_names: Iterable[str] = ()) -> list[Problem]:
    """Duplicate ids, dependencies, cycles, undefined variables and shadowing warnings."""
    tree = step_tree(data)
    everything = [s for steps in tree.values() for s in walk(steps)]
    problems = _duplicate_ids(everything)
    all_ids = {s.data["id"] for s in everything if isinstance(s.data.get("id"), str)}
    lists = list(tree.values()) + [c for s in everything for c in s.children]
    for steps in lists:
        problems += _dependency_problems(steps, all_ids)
    problems += _UndefinedNames(data, tree, everything, known_names).run()
    problems += _shadowing(data, everything)
    return problems


def _duplicate_ids(steps: list[RawStep]) -> list[Problem]:
    first: dict[str, str] = {}
    problems = []
    for step in steps:
        step_id = step.data.get("id")
        if not isinstance(step_id, str):
            continue
        if step_id in first:
            problems.append(
                Problem(
                    join_path(step.path, "id"),
                    "value",
                    f"duplicate step id {step_id!r} (first used by {first[step_id]})",
                )
            )
        else:
            first[step_id] = step.path
    return problems


def _dependency_problems(steps: list[RawStep], all_ids: set[str]) -> list[Problem]:
    ids = {s.data["id"]: s for s in steps if isinstance(s.data.get("id"), str)}
    graph: dict[str, list[str]] = {}
    problems = []
    for step in steps:
        deps = step.data.get("depends_on")
        own = step.data.get("id")
        if not isinstance(deps, list) or not isinstance(own, str):
            continue
        graph[own] = []
        for j, dep in enumerate(deps):
            path = join_path(join_path(step.path, "depends_on"), j)
            if not isinstance(dep, str):
                continue
            if dep == own:
                problems.append(Problem(path, "value", f"step {own!r} depends on itself"))
            elif dep in ids:
                graph[own].append(dep)
            elif dep in all_ids:
                problems.append(
                    Problem(
                        path,
                        "value",
                        f"depends_on {dep!r} names a step outside this list; "
                        "only steps of the same list can be waited for",
                    )
                )
            else:
                problems.append(
                    Problem(
                        path,
                        "value",
                        f"depends_on names an unknown step {dep!r}",
                        hint_for(dep, ids),
                    )
                )
    for cycle in _cycles(graph, [s for s in ids]):
        start = ids[cycle[0]]
        problems.append(
            Problem(
                join_path(start.path, "depends_on"),
                "value",
                "dependency cycle: " + " -> ".join([*cycle, cycle[0]]),
            )
        )
    return problems


def _cycles(graph: dict[str, list[str]], order: list[str]) -> list[list[str]]:
    """Distinct cycles, each rotated to start at its first node in file order."""
    rank = {name: i for i, name in enumerate(order)}
    found: dict[frozenset[str], list[str]] = {}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                pivot = min(range(len(cycle)), key=lambda i: rank.get(cycle[i], 0))
                cycle = cycle[pivot:] + cycle[:pivot]
                found.setdefault(frozenset(cycle), cycle)
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in order:
        if name not in state:
            visit(name)
    return sorted(found.values(), key=lambda c: rank.get(c[0], 0))


class _UndefinedNames:
    """Variables read by templates that no context key, earlier step, loop or runtime defines."""

    def __init__(
        self,
        data: dict[str, Any],
        tree: dict[str, list[RawStep]],
        everything: list[RawStep],
        known_names: Iterable[str],
    ) -> None:
        context = data.get("context")
        self.context = set(context) if isinstance(context, dict) else set()
        builtins = set(templating.BUILTIN_NAMES)
        self.base = self.context | builtins | RUNTIME_NAMES | set(known_names)
        self.tree = tree
        self.definers: dict[str, str] = {}
        for step in everything:
            for name in _defined_by_self(step):
                self.definers.setdefault(name, str(step.data.get("id", step.path)))
        self.problems: list[Problem] = []

    def run(self) -> list[Problem]:
        defined: set[str] = set()
        for name in ("setup", "steps", "teardown"):
            defined = self.steps(self.tree.get(name, []), defined)
        everything = set(self.definers)
        for name in ("hooks.before_step", "hooks.after_step"):
            self.steps(self.tree.get(name, []), everything)
        return self.problems

    def steps(self, steps: list[RawStep], defined: set[str]) -> set[str]:
        defined = set(defined)
        dag = any(s.data.get("depends_on") for s in steps)
        if dag:
            for step in steps:
                defined |= _defined_by(step)
        for step in steps:
            self.check(step, defined | _defined_by_self(step))
            if step.data.get("type") == "parallel":
                for branch in step.children:
                    self.steps(branch, defined)
            else:
                inner = set(defined)
                for children in step.children:
                    inner = self.steps(children, inner)
            defined |= _defined_by(step)
        return defined

    def check(self, step: RawStep, visible: set[str]) -> None:
        loops = _loop_names(step)
        for path, name in _names_in(step):
            if name in visible or name in self.base or name in loops:
                continue
            if name in self.definers:
                message = (
                    f"variable {name!r} is used before step {self.definers[name]!r} defines it"
                )
                self.problems.append(Problem(path, "value", message))
            else:
                hint = hint_for(name, visible | self.context | loops)
                self.problems.append(Problem(path, "value", f"undefined variable {name!r}", hint))


def _shadowing(data: dict[str, Any], steps: list[RawStep]) -> list[Problem]:
    context = data.get("context")
    keys = set(context) if isinstance(context, dict) else set()
    problems = []
    for step in steps:
        extract = step.data.get("extract")
        if not isinstance(extract, dict):
            continue
        for name in extract:
            path = join_path(join_path(step.path, "extract"), str(name))
            if name in keys:
                problems.append(
                    Problem(
                        path,
                        "key",
                        f"extracted name {name!r} shadows the context variable {name!r}",
                        severity="warning",
                    )
                )
            elif name in RUNTIME_NAMES:
                problems.append(
                    Problem(
                        path,
                        "key",
                        f"extracted name {name!r} shadows a name the runtime provides",
                        severity="warning",
                    )
                )
    return problems


def context_template_problems(
    data: dict[str, Any], known_names: Iterable[str] = ()
) -> list[Problem]:
    """Undefined names in the templates of ``context`` (they may read env, secrets, each other)."""
    context = data.get("context")
    if not isinstance(context, dict):
        return []
    base = set(context) | set(templating.BUILTIN_NAMES) | RUNTIME_NAMES | set(known_names)
    problems = []
    for path, text in iter_strings(context, "context"):
        if not is_template(text) or templating.syntax_error(text):
            continue
        for name in sorted(templating.referenced_names(text)):
            if name not in base:
                problems.append(
                    Problem(path, "value", f"undefined variable {name!r}", hint_for(name, context))
                )
    return problems
