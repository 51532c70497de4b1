"""Which flows a ``testflow run PATH...`` means: files, suites and directories.

A directory contributes every flow file under it; a suite file contributes its entries; an
explicitly named environment file is an error (it goes to ``--env``). Flows that another
collected flow calls as a sub-flow (``type: call``) are run through their caller only.
All problems of all files are reported together.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from pathlib import Path

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
from testflow.dsl.models import CallStep, all_steps
from testflow.dsl.registry import StepRegistry


def _kind_of(path: Path) -> str | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return "flow"  # let the loader report the problem with its position
    if not _is_testflow_data(data):
        return None
    return detect_kind(data)


def _expand(paths: Sequence[str | Path], problems: list[Diagnostic]) -> list[Path]:
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
                    files.extend(Path(m) for m in matched)
            else:
                files.append(root)
        else:
            problems.append(Diagnostic(str(given), 1, 1, "", "no such file or directory"))
    unique: dict[Path, None] = {}
    for file in files:
        unique.setdefault(file.resolve(), None)
    return list(unique)


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
    problems: list[Diagnostic] = []
    loaded: list[LoadedFlow] = []
    names = set(known_names)
    for file in _expand(paths, problems):
        try:
            loaded.append(load_flow(_relative(file), registry=registry, known_names=names))
        except FlowValidationError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise FlowValidationError(problems)
    called = _called_files(loaded)
    explicit = {Path(p).resolve() for p in paths if Path(p).is_file()}
    return [
        f
        for f in loaded
        if Path(f.path).resolve() not in called or Path(f.path).resolve() in explicit
    ]


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
