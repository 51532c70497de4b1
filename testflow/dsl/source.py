"""One file being loaded: its text, positions, and the diagnostics found so far.

Shared by the flow loader (:mod:`testflow.dsl.loader`) and the environment and suite loaders
(:mod:`testflow.dsl.files`): it turns the problems found at document paths into
:class:`~testflow.dsl.diagnostics.Diagnostic` objects at ``line:col`` with a snippet.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from testflow.dsl.diagnostics import Diagnostic, FlowValidationError, make_snippet, split_lines
from testflow.dsl.positions import Position, SourceDoc, SourceError, parse_source
from testflow.dsl.validation import Problem

FileKind = Literal["flow", "suite", "environment"]


class Source:
    """One file being loaded: its text, positions and the diagnostics found so far."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text.removeprefix("\ufeff")
        self.filename = filename
        self.json_syntax = filename.lower().endswith(".json")
        self.lines = split_lines(self.text, json_syntax=self.json_syntax)
        self.doc = SourceDoc(data=None)
        self.diagnostics: list[Diagnostic] = []

    def parse(self) -> bool:
        try:
            self.doc = parse_source(self.text, json_syntax=self.json_syntax)
        except SourceError as exc:
            self.add_at(exc.line, exc.col, "", exc.message)
            return False
        for path, (line, col), message in self.doc.problems:
            self.add_at(line, col, path, message)
        return True

    def add_at(
        self,
        line: int,
        col: int,
        path: str,
        message: str,
        hint: str | None = None,
        severity: Literal["error", "warning"] = "error",
    ) -> None:
        self.diagnostics.append(
            Diagnostic(
                self.filename,
                line,
                col,
                path,
                message,
                severity,
                hint,
                make_snippet(self.lines, line, col),
            )
        )

    def locate(self, path: str, anchor: str) -> Position:
        values, keys = self.doc.values, self.doc.keys
        if anchor == "key" and path in keys:
            return keys[path]
        if anchor == "parent" or path not in values:
            parent = parent_path(path)
            while parent and parent not in values:
                parent = parent_path(parent)
            return keys.get(parent) or values.get(parent) or (1, 1)
        return values[path]

    def add(self, problem: Problem) -> None:
        line, col = self.locate(problem.path, problem.anchor)
        self.add_at(line, col, problem.path, problem.message, problem.hint, problem.severity)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


def parent_path(path: str) -> str:
    if path.endswith("]"):
        depth, i = 0, len(path) - 1
        in_string = False
        while i >= 0:
            char = path[i]
            if char == '"' and (i == 0 or path[i - 1] != "\\"):
                in_string = not in_string
            elif not in_string and char == "]":
                depth += 1
            elif not in_string and char == "[":
                depth -= 1
                if depth == 0:
                    return path[:i]
            i -= 1
        return ""
    head, _, _ = path.rpartition(".")
    return head


def mapping_root(source: Source, what: str) -> dict[str, Any] | None:
    data = source.doc.data
    if isinstance(data, dict):
        return data
    if data is None:
        source.add_at(
            1,
            1,
            "",
            f"the file is empty; a {what} is a mapping of keys such as {_EXAMPLE_KEYS[what]}",
        )
    else:
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        source.add_at(
            *source.doc.values.get("", (1, 1)),
            "",
            f"a {what} file must be a mapping (key: value), not {kind}",
        )
    return None


_EXAMPLE_KEYS = {
    "flow": "name and steps",
    "suite": "suite and flows",
    "environment": "name and variables",
}


def detect_kind(data: Any) -> FileKind:
    """What a parsed file is, by its shape."""
    if isinstance(data, dict):
        if "suite" in data:
            return "suite"
        if "steps" not in data and any(k in data for k in ("variables", "secrets", "connections")):
            return "environment"
    return "flow"


def read_text(path: str | Path) -> str:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise FlowValidationError(
            [Diagnostic(str(path), 1, 1, "", f"cannot read the file: {exc.strerror or exc}")]
        ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw[: exc.start].decode("utf-8", errors="replace")
        lines = split_lines(text)
        raise FlowValidationError(
            [
                Diagnostic(
                    str(path), len(lines), len(lines[-1]) + 1, "", "the file is not valid UTF-8"
                )
            ]
        ) from None


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)
