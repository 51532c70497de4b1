"""Environment and suite files, and finding an environment by name.

An environment file gives variables, secrets (where to read them) and named connections; a
suite lists flow files (or globs) to run together. Both get the same positioned diagnostics as
flows (:mod:`testflow.dsl.source`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from testflow.dsl.diagnostics import FlowValidationError
from testflow.dsl.models import Environment, Suite
from testflow.dsl.positions import join_path
from testflow.dsl.source import FileKind, Source, display_path, mapping_root, read_text
from testflow.dsl.validation import Problem, pydantic_problems

M = TypeVar("M", bound=BaseModel)


def load_model(path: str | Path, model: type[M], what: FileKind, text: str | None = None) -> M:
    filename = str(path)
    source = Source(text if text is not None else read_text(path), filename)
    data = mapping_root(source, what) if source.parse() else None
    result: M | None = None
    if data is not None:
        if what == "environment" and "name" not in data:
            data = {"name": Path(filename).stem, **data}  # an environment is named after its file
        try:
            result = model.model_validate(data)
        except ValidationError as exc:
            for problem in pydantic_problems(exc, data, root=model):
                source.add(problem)
        if what == "suite" and result is not None:
            _check_suite(source, data, Path(filename).parent)
    if result is None or source.errors:
        raise FlowValidationError(source.diagnostics)
    return result


def _check_suite(source: Source, data: dict[str, Any], base: Path) -> None:
    environment = data.get("environment")
    if isinstance(environment, str) and "{{" not in environment:
        try:
            find_environment(environment, [base])
        except FileNotFoundError as exc:
            source.add(Problem("environment", "value", str(exc)))
    flows = data.get("flows")
    for i, entry in enumerate(flows if isinstance(flows, list) else []):
        pattern = (
            entry
            if isinstance(entry, str)
            else entry.get("path")
            if isinstance(entry, dict)
            else None
        )
        if not isinstance(pattern, str):
            continue
        path = (
            join_path("flows", i)
            if isinstance(entry, str)
            else join_path(join_path("flows", i), "path")
        )
        found = any(base.glob(pattern)) if _is_glob(pattern) else (base / pattern).is_file()
        if not found:
            source.add(
                Problem(
                    path,
                    "value",
                    f"no flow file matches {pattern!r} (relative to {display_path(base)})",
                )
            )


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def load_environment(path: str | Path) -> Environment:
    """Load an environment file (variables, secrets, connections); same diagnostics as flows."""
    return load_model(path, Environment, "environment")


def load_suite(path: str | Path) -> Suite:
    """Load a suite file and check that each listed flow exists."""
    return load_model(path, Suite, "suite")


def find_environment(name_or_path: str, search_dirs: Sequence[str | Path] = ()) -> Path:
    """``staging`` -> the nearest ``environments/staging.yaml`` (or ``envs/``, .yml, .json).

    Looks in each search directory and its parents up to the project root (a directory with
    ``.git`` or ``pyproject.toml``), then in the current directory.
    """
    direct = Path(name_or_path)
    if direct.suffix and direct.is_file():
        return direct
    tried: list[str] = []
    for start in [*map(Path, search_dirs), Path.cwd()]:
        for folder in _upwards(start.resolve()):
            for sub in ("environments", "envs", "."):
                for ext in (".yaml", ".yml", ".json"):
                    candidate = folder / sub / f"{name_or_path}{ext}"
                    tried.append(str(candidate))
                    if candidate.is_file():
                        return candidate
    raise FileNotFoundError(
        f"environment {name_or_path!r} not found; looked for environments/{name_or_path}.yaml "
        f"or envs/{name_or_path}.yaml near the flow and in the current directory ({len(tried)} places)"
    )


def _upwards(start: Path) -> list[Path]:
    out = []
    for folder in [start, *start.parents]:
        out.append(folder)
        if (folder / ".git").exists() or (folder / "pyproject.toml").exists():
            break
    return out


def environment_names(search_dirs: Sequence[str | Path]) -> set[str]:
    """Variable names of every environment file near ``search_dirs`` (for undefined-name checks)."""
    names: set[str] = set()
    seen: set[Path] = set()
    for start in search_dirs:
        for folder in _upwards(Path(start).resolve()):
            for sub in ("environments", "envs"):
                for file in sorted((folder / sub).glob("*.y*ml")) + sorted(
                    (folder / sub).glob("*.json")
                ):
                    if file in seen:
                        continue
                    seen.add(file)
                    try:
                        env = load_environment(file)
                    except FlowValidationError:
                        continue
                    names |= set(env.variables) | set(env.secrets)
    return names
