"""Load flows, suites and environment files with ``file:line:col`` diagnostics for every problem.

Steps: parse YAML/JSON keeping the position of every key and value
(:mod:`testflow.dsl.positions`); inline ``schema: file.json`` assertions (the workflow cannot
read files); validate the shape with the pydantic models and map each error back to its
position (:mod:`testflow.dsl.validation`); check each step against its kind and cross-check the
flow (:mod:`testflow.dsl.checks`); load the flows of ``call`` steps (recursively, refusing
cycles). All problems are collected and raised together in one
:class:`~testflow.dsl.diagnostics.FlowValidationError`; warnings of a valid flow travel on
:attr:`LoadedFlow.warnings`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from testflow.dsl import checks
from testflow.dsl.diagnostics import (
    Diagnostic,
    FlowValidationError,
    sort_diagnostics,
)
from testflow.dsl.files import (
    environment_names,
    find_environment,
    load_environment,
    load_model,
    load_suite,
)
from testflow.dsl.models import Environment, Flow, Suite
from testflow.dsl.paths import escape_message, escapes
from testflow.dsl.positions import SourceError, dump_yaml, join_path, parse_source
from testflow.dsl.registry import StepRegistry, default_registry
from testflow.dsl.source import (
    FileKind,
    Source,
    detect_kind,
    display_path,
    mapping_root,
    read_text,
)
from testflow.dsl.validation import Problem, pydantic_problems

__all__ = [
    "Diagnostic",
    "FileKind",
    "FlowValidationError",
    "LoadedFlow",
    "detect_kind",
    "dump_flow",
    "environment_names",
    "find_environment",
    "load_environment",
    "load_flow",
    "load_suite",
    "parse_flow",
    "validate_files",
    "validate_paths",
]


@dataclass(frozen=True)
class LoadedFlow:
    """A validated flow with where everything was written."""

    flow: Flow
    path: str
    text: str
    positions: Mapping[str, tuple[int, int]]
    """Path (as in :attr:`Diagnostic.path`) -> (line, col) of the value, for every node."""
    warnings: list[Diagnostic]
    key_positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Path -> (line, col) of the key, for every mapping entry."""

    def position(self, path: str) -> tuple[int, int] | None:
        return self.positions.get(path)


def parse_flow(
    text: str,
    filename: str = "<flow>",
    *,
    registry: StepRegistry | None = None,
    base_dir: str | None = None,
    known_names: Iterable[str] = (),
    root_dir: str | None = None,
) -> LoadedFlow:
    """Parse and validate a flow; raise FlowValidationError with every problem found.

    ``known_names`` are variables supplied from outside the file (environment variables,
    ``--var``): templates may read them without a ``context`` entry. With ``root_dir``, the
    files the flow references (``call:`` flows, ``schema:`` files) must be inside it: a path
    leading out of it is a "path escapes the flow library" problem and is never read (the
    API confines stored flows to its library this way; see :mod:`testflow.dsl.paths`).
    """
    root = Path(root_dir) if root_dir is not None else None
    return _FlowLoader(registry or default_registry(), root).parse(
        text, filename, base_dir=base_dir, known_names=set(known_names), stack=()
    )


def load_flow(
    path: str | Path, *, registry: StepRegistry | None = None, known_names: Iterable[str] = ()
) -> LoadedFlow:
    """Load a flow file (YAML or JSON, by extension)."""
    text = read_text(path)
    return parse_flow(
        text, str(path), registry=registry, base_dir=str(Path(path).parent), known_names=known_names
    )


class _FlowLoader:
    def __init__(self, registry: StepRegistry, root: Path | None = None) -> None:
        self.registry = registry
        self.root = root

    def parse(
        self,
        text: str,
        filename: str,
        *,
        base_dir: str | None,
        known_names: set[str],
        stack: tuple[str, ...],
    ) -> LoadedFlow:
        source = Source(text, filename)
        base = Path(base_dir) if base_dir else Path(filename).parent
        data = mapping_root(source, "flow") if source.parse() else None
        flow: Flow | None = None
        if data is not None:
            try:
                data = self._check(source, data, base, known_names)
                if not source.errors:
                    data = self._resolve_calls(source, data, base, (*stack, _identity(filename)))
                if not source.errors:
                    flow = Flow.model_validate(data)
            except RecursionError:
                source.add_at(1, 1, "", "the flow is nested too deeply")
        if flow is None or source.errors:
            raise FlowValidationError(source.diagnostics)
        return LoadedFlow(
            flow=flow,
            path=filename,
            text=source.text,
            positions=dict(source.doc.values),
            warnings=list(source.diagnostics),
            key_positions=dict(source.doc.keys),
        )

    def _check(
        self, source: Source, data: dict[str, Any], base: Path, known: set[str]
    ) -> dict[str, Any]:
        """Every check that does not need the sub-flows; returns data with schemas inlined."""
        data = _inline_schemas(source, data, base, self.root)
        try:
            Flow.model_validate(data)
        except ValidationError as exc:
            for problem in pydantic_problems(exc, data, root=Flow):
                source.add(problem)
        tree = checks.step_tree(data)
        for step in (s for steps in tree.values() for s in checks.walk(steps)):
            if step.data.get("type") == "call" and "resolved" in step.data:
                source.add(
                    Problem(
                        join_path(step.path, "resolved"),
                        "key",
                        "unknown key 'resolved' (the loader fills it in)",
                    )
                )
            for problem in checks.check_step(step, self.registry):
                source.add(problem)
        for problem in checks.template_problems(data):
            source.add(problem)
        for problem in checks.cross_check(data, known) + checks.context_template_problems(
            data, known
        ):
            source.add(problem)
        return data

    def _resolve_calls(
        self, source: Source, data: dict[str, Any], base: Path, stack: tuple[str, ...]
    ) -> dict[str, Any]:
        """Load the flow of every ``call`` step and put it under ``resolved``."""
        tree = checks.step_tree(data)
        for step in (s for steps in tree.values() for s in checks.walk(steps)):
            target = step.data.get("flow")
            if step.data.get("type") != "call" or not isinstance(target, str):
                continue
            path = join_path(step.path, "flow")
            if escapes(base, target, self.root):
                source.add(Problem(path, "value", escape_message(target)))
                continue
            full = (base / target).resolve()
            if str(full) in stack:
                chain = " -> ".join(Path(p).name for p in (*stack, str(full)))
                source.add(Problem(path, "value", f"call cycle: {chain}"))
                continue
            if not full.is_file():
                source.add(
                    Problem(
                        path,
                        "value",
                        f"the called flow {target!r} does not exist (paths are relative to this file)",
                    )
                )
                continue
            inputs = step.data.get("inputs")
            known = set(inputs) if isinstance(inputs, dict) else set()
            try:
                text = read_text(full)
                sub = self.parse(
                    text,
                    display_path(full),
                    base_dir=str(full.parent),
                    known_names=known,
                    stack=stack,
                )
            except FlowValidationError as exc:
                source.diagnostics.extend(exc.diagnostics)
                source.add(Problem(path, "value", f"the called flow {target!r} is invalid"))
                continue
            source.diagnostics.extend(sub.warnings)
            step.data["resolved"] = sub.flow
        return data


def _identity(filename: str) -> str:
    return str(Path(filename).resolve()) if not filename.startswith("<") else filename


def _inline_schemas(
    source: Source, data: dict[str, Any], base: Path, root: Path | None
) -> dict[str, Any]:
    """Replace ``schema: file.json`` in assertions by the file's content (read relative to the flow)."""
    tree = checks.step_tree(data)
    for step in (s for steps in tree.values() for s in checks.walk(steps)):
        spec = step.data.get("assert")
        if not isinstance(spec, dict):
            continue
        apath = join_path(step.path, "assert")
        for key, value in list(spec.items()):
            if key == "schema":
                spec[key] = _schema(source, base, root, value, join_path(apath, key))
            elif isinstance(value, dict) and "schema" in value:
                vpath = join_path(join_path(apath, key), "schema")
                value["schema"] = _schema(source, base, root, value["schema"], vpath)
    return data


def _schema(source: Source, base: Path, root: Path | None, value: Any, path: str) -> Any:
    """A ``schema`` value: a file's content for ``*.json``; any other path that leads out of
    ``root`` is refused, whatever its extension (``/etc/passwd`` too)."""
    if not isinstance(value, str) or "{{" in value:
        return value
    if escapes(base, value, root):
        source.add(Problem(path, "value", escape_message(value)))
        return value
    return _read_schema(source, base, value, path, value) if _is_schema_file(value) else value


def _is_schema_file(value: Any) -> bool:
    return isinstance(value, str) and value.lower().endswith(".json") and "{{" not in value


def _read_schema(source: Source, base: Path, name: str, path: str, fallback: Any) -> Any:
    file = base / name
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        source.add(
            Problem(path, "value", f"cannot read the schema file {name!r}: {exc.strerror or exc}")
        )
    except (ValueError, UnicodeDecodeError) as exc:
        source.add(Problem(path, "value", f"the schema file {name!r} is not valid JSON: {exc}"))
    return fallback


def flow_to_data(flow: Flow) -> dict[str, Any]:
    """The flow as JSON-like data in the file form (aliases, durations as ``30s``, no defaults)."""
    data: dict[str, Any] = _drop_resolved(
        flow.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    )
    return data


def _drop_resolved(node: Any) -> Any:
    """``resolved`` (the loaded sub-flow of a call step) travels to the workflow, not to files."""
    if isinstance(node, dict):
        return {
            k: _drop_resolved(v)
            for k, v in node.items()
            if not (k == "resolved" and node.get("type") == "call")
        }
    if isinstance(node, list):
        return [_drop_resolved(item) for item in node]
    return node


def dump_flow(flow: Flow, fmt: Literal["yaml", "json"] = "yaml") -> str:
    """Text that :func:`parse_flow` loads back to an equal flow (used by editors and importers)."""
    data = flow_to_data(flow)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return dump_yaml(data)


def validate_paths(
    paths: Sequence[str | Path], registry: StepRegistry | None = None
) -> list[Diagnostic]:
    """Diagnostics of every flow, suite and environment file under ``paths``."""
    return validate_files(paths, registry)[0]


_SKIP_DIRS = {"node_modules", "__pycache__", "venv", "dist", "build"}
_MARKERS = ("steps", "setup", "teardown", "suite")


def validate_files(
    paths: Sequence[str | Path], registry: StepRegistry | None = None
) -> tuple[list[Diagnostic], list[str]]:
    """(diagnostics, files checked). Files named explicitly are always checked; in directories,
    only YAML/JSON files that look like testflow files (other YAML such as CI or Helm files and
    JSON Schemas are skipped)."""
    registry = registry or default_registry()
    diagnostics: list[Diagnostic] = []
    checked: list[str] = []
    env_names: dict[Path, set[str]] = {}
    for given in paths:
        root = Path(given)
        if root.is_dir():
            files = [(f, False) for f in _scan(root)]
        elif root.is_file():
            files = [(root, True)]
        else:
            diagnostics.append(Diagnostic(str(given), 1, 1, "", "no such file or directory"))
            continue
        for file, explicit in files:
            found = _validate_file(file, explicit, registry, env_names)
            if found is not None:
                checked.append(str(file))
                diagnostics.extend(found)
    return sort_diagnostics(diagnostics), checked


def _scan(root: Path) -> list[Path]:
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(files):
            if name.lower().endswith((".yaml", ".yml", ".json")):
                out.append(Path(folder) / name)
    return out


def _validate_file(
    file: Path, explicit: bool, registry: StepRegistry, env_names: dict[Path, set[str]]
) -> list[Diagnostic] | None:
    """Diagnostics of one file, or None when a scanned file is not a testflow file."""
    try:
        text = read_text(file)
    except FlowValidationError as exc:
        return exc.diagnostics if explicit or file.suffix.lower() != ".json" else None
    try:
        data = parse_source(
            text.removeprefix("\ufeff"), json_syntax=file.suffix.lower() == ".json"
        ).data
    except SourceError:
        data = None
        if not explicit and not _looks_like_testflow(text):
            return None
    if not explicit and data is not None and not _is_testflow_data(data):
        return None
    kind = detect_kind(data)
    try:
        if kind == "flow":
            if file.parent not in env_names:  # once per folder and validate run
                env_names[file.parent] = environment_names([file.parent])
            known = env_names[file.parent]
            loaded = parse_flow(
                text, str(file), registry=registry, base_dir=str(file.parent), known_names=known
            )
            return loaded.warnings
        load_model(file, Suite if kind == "suite" else Environment, kind, text)
        return []
    except FlowValidationError as exc:
        return exc.diagnostics


def _is_testflow_data(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    if any(k in data for k in _MARKERS):
        return True
    return "name" in data and any(k in data for k in ("variables", "secrets", "connections"))


def _looks_like_testflow(text: str) -> bool:
    """A file that does not parse: is it meant to be one of ours?"""
    return "flow.schema.json" in text or any(
        line.startswith(("steps:", "suite:", '"steps"', '  "steps"')) for line in text.splitlines()
    )
