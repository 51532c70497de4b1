"""Which flows a ``testflow run PATH...`` means: files, suites and directories.

A directory contributes every flow file under it; a suite file contributes its entries (and
the variables it gives them: the suite's ``vars``, then the entry's); an explicitly named
environment file is an error (it goes to ``--env``). Flows that another collected flow calls as
a sub-flow (``type: call``) are run through their caller only. All problems of all files are
reported together.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from testflow.dsl.diagnostics import Diagnostic, FlowValidationError
from testflow.dsl.loader import (
    LoadedFlow,
    _is_testflow_data,
    _scan,
    detect_kind,
    load_flow,
    load_suite,
)
from testflow.dsl.models import CallStep, Suite, all_steps
from testflow.dsl.registry import StepRegistry


def _kind_of(path: Path) -> str | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return "flow"  # let the loader report the problem with its position
    if not _is_testflow_data(data):
        return None
    return detect_kind(data)


@dataclass
class Collection:
    """The flows to run, and the variables suite files give some of them (by resolved path)."""

    flows: list[LoadedFlow]
    suite_vars: dict[Path, dict[str, Any]] = field(default_factory=dict)

    def variables(self, loaded: LoadedFlow) -> dict[str, Any]:
        return dict(self.suite_vars.get(Path(loaded.path).resolve(), {}))


def suite_files(paths: Sequence[str | Path]) -> list[tuple[Path, Suite]]:
    """The valid suite files named among ``paths`` (an invalid one is reported by
    :func:`collect`), in the order given."""
    out: list[tuple[Path, Suite]] = []
    for given in paths:
        root = Path(given)
        if root.is_file() and _kind_of(root) == "suite":
            try:
                out.append((root, load_suite(root)))
            except FlowValidationError:
                continue
    return out


def _expand(
    paths: Sequence[str | Path], problems: list[Diagnostic], suite_vars: dict[Path, dict[str, Any]]
) -> list[Path]:
    files: list[Path] = []
    for given in paths:
        root = Path(given)
        if root.is_dir():
            files.extend(f for f in _scan(root) if _kind_of(f) == "flow")
        elif root.is_file():
            kind = _kind_of(root) or "flow"
            if kind == "environment":
                problems.append(
                    Diagnostic(
                        str(root), 1, 1, "", "this is an environment file: pass it with --env"
                    )
                )
            elif kind == "suite":
                try:
                    suite = load_suite(root)
                except FlowValidationError as exc:
                    problems.extend(exc.diagnostics)
                    continue
                for entry in suite.flows:
                    pattern = str(root.parent / entry.path)
                    matched = sorted(glob.glob(pattern, recursive=True)) or [pattern]
                    given_vars = {**suite.vars, **entry.vars}
                    for match in map(Path, matched):
                        _give_vars(suite_vars, match, given_vars, root, problems)
                    files.extend(map(Path, matched))
            else:
                files.append(root)
        else:
            problems.append(Diagnostic(str(given), 1, 1, "", "no such file or directory"))
    unique: dict[Path, None] = {}
    for file in files:
        unique.setdefault(file.resolve(), None)
    return list(unique)


def _give_vars(
    suite_vars: dict[Path, dict[str, Any]],
    flow: Path,
    given: dict[str, Any],
    suite: Path,
    problems: list[Diagnostic],
) -> None:
    """One flow listed by two suites (or twice by one) runs once: with different variables it
    would be unclear which run is meant, so that is an error."""
    key = flow.resolve()
    before = suite_vars.setdefault(key, given)
    if before != given:
        problems.append(
            Diagnostic(
                str(suite),
                1,
                1,
                "",
                f"flow {_relative(flow)} is listed more than once with different vars; "
                "it runs once, so list it once",
            )
        )


def _called_files(loaded: Iterable[LoadedFlow]) -> set[Path]:
    out: set[Path] = set()
    for item in loaded:
        base = Path(item.path).parent
        for step in all_steps(item.flow):
            if isinstance(step, CallStep):
                out.add((base / step.flow).resolve())
    return out


def collect_flows(
    paths: Sequence[str | Path],
    *,
    registry: StepRegistry | None = None,
    known_names: Iterable[str] = (),
) -> list[LoadedFlow]:
    """Load every flow the paths designate; raise FlowValidationError with all problems."""
    return collect(paths, registry=registry, known_names=known_names).flows


def collect(
    paths: Sequence[str | Path],
    *,
    registry: StepRegistry | None = None,
    known_names: Iterable[str] = (),
) -> Collection:
    """:func:`collect_flows` with the variables suite files give their flows (those names
    count as defined when the flows are checked)."""
    problems: list[Diagnostic] = []
    loaded: list[LoadedFlow] = []
    suite_vars: dict[Path, dict[str, Any]] = {}
    files = _expand(paths, problems, suite_vars)
    names = set(known_names).union(*(v.keys() for v in suite_vars.values()))
    for file in files:
        try:
            loaded.append(load_flow(_relative(file), registry=registry, known_names=names))
        except FlowValidationError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise FlowValidationError(problems)
    called = _called_files(loaded)
    explicit = {Path(p).resolve() for p in paths if Path(p).is_file()}
    flows = [
        f
        for f in loaded
        if Path(f.path).resolve() not in called or Path(f.path).resolve() in explicit
    ]
    return Collection(flows, {k: v for k, v in suite_vars.items() if v})


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
