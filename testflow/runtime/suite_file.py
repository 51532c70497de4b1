"""What the suite files given to ``testflow run`` set for the whole run.

A suite file's ``concurrency``, ``fail_fast`` and ``environment`` apply to the one suite run
``testflow run`` starts; the command line wins when the option is given. Only fields a file
writes count: two suite files that write different values for one of them are an error unless
the command line chooses. Its ``tags`` label the suite run (as a stored suite's in ``testflow
serve``); the tags of all suite files given are kept. Its ``vars`` go to its own flows only
(testflow/dsl/collect.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testflow.dsl.files import find_environment
from testflow.dsl.models import Suite

DEFAULT_CONCURRENCY = 4


class SuiteConflict(ValueError):
    """Suite files disagree on a run-wide setting the command line does not give."""


@dataclass(frozen=True)
class RunSettings:
    """The run-wide settings of one ``testflow run``, command line and suite files merged."""

    concurrency: int = DEFAULT_CONCURRENCY
    fail_fast: bool = False
    environment: str | None = None
    """As given on the command line, or the path of the file a suite's environment names."""
    tags: list[str] = field(default_factory=list)


def merge(
    suites: list[tuple[Path, Suite]],
    *,
    concurrency: int | None,
    fail_fast: bool | None,
    environment: str | None,
) -> RunSettings:
    """The command line's values where given (not None), else those the suite files write."""
    tags: dict[str, None] = {}
    for _, suite in suites:
        tags.update(dict.fromkeys(suite.tags))
    return RunSettings(
        concurrency=concurrency
        if concurrency is not None
        else _one(suites, "concurrency", "-c", DEFAULT_CONCURRENCY),
        fail_fast=fail_fast
        if fail_fast is not None
        else _one(suites, "fail_fast", "--fail-fast/--no-fail-fast", False),
        environment=environment if environment is not None else _environment(suites),
        tags=list(tags),
    )


def _one(suites: list[tuple[Path, Suite]], name: str, option: str, default: Any) -> Any:
    written = {path: getattr(s, name) for path, s in suites if name in s.model_fields_set}
    values = set(written.values())
    if len(values) > 1:
        raise SuiteConflict(_conflict(name, written, option))
    return values.pop() if values else default


def _environment(suites: list[tuple[Path, Suite]]) -> str | None:
    """The environment file the suite files name, found from each suite file's folder (two
    suites that name ``staging`` in different folders may mean different files)."""
    written: dict[Path, str] = {}
    for path, suite in suites:
        if suite.environment is None:
            continue
        if "{{" in suite.environment:
            raise SuiteConflict(
                f"{path}: environment {suite.environment!r} is a template, which testflow run "
                "does not render: pass --env"
            )
        try:
            written[path] = str(find_environment(suite.environment, [path.parent]).resolve())
        except FileNotFoundError as exc:
            raise SuiteConflict(f"{path}: {exc}") from None
    files = set(written.values())
    if len(files) > 1:
        raise SuiteConflict(_conflict("environment", written, "--env"))
    return files.pop() if files else None


def _conflict(name: str, written: dict[Path, Any], option: str) -> str:
    each = ", ".join(f"{path}: {value!r}" for path, value in written.items())
    return f"the suite files set different {name} ({each}): choose one with {option}"
