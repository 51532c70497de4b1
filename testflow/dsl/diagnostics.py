"""Diagnostics: problems of a flow file, each pinned to ``file:line:col`` with a source snippet.

The loader collects every problem it can find (not only the first) as :class:`Diagnostic`
objects and raises them together in a :class:`FlowValidationError`. Editors and CI read the
dict form (``testflow validate --format json``); people read :meth:`Diagnostic.format`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]

# YAML (and so our snippets) treats these as line breaks; str.splitlines() knows more (\x0c...),
# which would shift line numbers against the parser's marks.
LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
JSON_LINE_BREAK = re.compile(r"\r\n|[\r\n]")

_RED = "\x1b[31m"
_YELLOW = "\x1b[33m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_RESET = "\x1b[0m"


@dataclass(frozen=True)
class Diagnostic:
    """One problem of a file, at a 1-based line and column."""

    file: str
    line: int
    col: int
    path: str
    """Where in the document: ``steps[0].request.url`` (dotted keys, ``[i]`` indexes)."""
    message: str
    severity: Severity = "error"
    hint: str | None = None
    """A suggestion such as ``did you mean 'request'?``."""
    snippet: str = ""
    """The source line with a caret under the column (empty when the source is unknown)."""

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def headline(self) -> str:
        """The first line: ``file:line:col: path: message (hint)``."""
        where = f"{self.file}:{self.line}:{self.col}: "
        what = f"{self.path}: " if self.path else ""
        level = "warning: " if self.severity == "warning" else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{what}{level}{self.message}{hint}"

    def format(self, color: bool = False) -> str:
        """The headline and the snippet; ANSI colours only when asked (callers check TTY/NO_COLOR)."""
        head = self.headline()
        snippet = self.snippet
        if color:
            tint = _RED if self.is_error else _YELLOW
            location, _, rest = head.partition(": ")
            head = f"{_BOLD}{location}:{_RESET} {tint}{rest}{_RESET}"
            if snippet:
                lines = snippet.split("\n")
                lines[-1] = f"{tint}{lines[-1]}{_RESET}"
                snippet = "\n".join(
                    f"{_DIM}{ln}{_RESET}" if i < len(lines) - 1 else ln
                    for i, ln in enumerate(lines)
                )
        return f"{head}\n{snippet}" if snippet else head

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diagnostic:
        return cls(**data)


class FlowValidationError(Exception):
    """A file has problems; ``diagnostics`` lists all of them (errors and warnings)."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics: list[Diagnostic] = sort_diagnostics(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        shown = errors or self.diagnostics
        summary = shown[0].headline() if shown else "invalid flow"
        more = len(errors) - 1
        super().__init__(
            summary + (f" (and {more} more error{'s' if more > 1 else ''})" if more > 0 else "")
        )

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def format(self, color: bool = False) -> str:
        return "\n".join(d.format(color) for d in self.diagnostics)


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by file and position, exact duplicates removed."""
    seen: set[tuple[str, int, int, str, str]] = set()
    out: list[Diagnostic] = []
    for diag in sorted(
        diagnostics, key=lambda d: (d.file, d.line, d.col, d.severity != "error", d.path)
    ):
        key = (diag.file, diag.line, diag.col, diag.path, diag.message)
        if key not in seen:
            seen.add(key)
            out.append(diag)
    return out


def split_lines(text: str, *, json_syntax: bool = False) -> list[str]:
    """Lines the way the parser counts them (JSON breaks lines only at CR/LF)."""
    return (JSON_LINE_BREAK if json_syntax else LINE_BREAK).split(text)


def make_snippet(lines: Sequence[str], line: int, col: int) -> str:
    """``  12 |   reqeust:`` and a caret under ``col`` (tabs kept so the caret lines up)."""
    if not 1 <= line <= len(lines):
        return ""
    source = lines[line - 1]
    if len(source) > 200:  # minified JSON: show a window around the column
        start = max(0, col - 80)
        source = ("..." if start else "") + source[start : start + 160]
        col = col - start + (3 if start else 0)
    gutter = str(line)
    pad = "".join("\t" if ch == "\t" else " " for ch in source[: max(col - 1, 0)])
    return f"  {gutter} | {source.rstrip()}\n  {' ' * len(gutter)} | {pad}^"


def did_you_mean(word: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The closest candidate (case-insensitive first), or None."""
    options = sorted({c for c in candidates if c != word})
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    matches = difflib.get_close_matches(word, options, n=1, cutoff=cutoff)
    if not matches:
        matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
        matches = [lowered[m] for m in matches]
    return matches[0] if matches else None


def hint_for(word: str, candidates: Iterable[str]) -> str | None:
    """``did you mean 'x'?`` or None."""
    match = did_you_mean(word, candidates)
    return f"did you mean {match!r}?" if match else None
