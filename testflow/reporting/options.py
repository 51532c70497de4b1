"""Options shared by every reporter, and the helpers they all need (masking, step details).

Reporters receive a report whose values were already masked by the runner; they mask again
with :attr:`ReportOptions.secrets` because a report is the one place where a leak would be
published (CI artefacts, PR comments), so a second line of defence is cheap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from testflow.dsl.results import ArtifactRef, AttemptRecord, StepRecord

MASK = "***"
MIN_SECRET_LENGTH = 3
"""Shorter values are not masked: masking "a" or "1" would shred every report."""

DetailLoader = Callable[[ArtifactRef], dict[str, Any] | None]
JunitGranularity = Literal["step", "flow"]
JunitProfile = Literal["default", "annotations"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def load_detail_file(ref: ArtifactRef) -> dict[str, Any] | None:
    """Read a step detail stored at a ``file://`` URI (or a plain path); None if unavailable."""
    parsed = urlparse(ref.uri)
    if parsed.scheme not in ("file", ""):
        return None
    path = Path(unquote(parsed.path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class ReportOptions:
    """How reports are rendered; every field has a sensible default."""

    junit_granularity: JunitGranularity = "step"
    junit_profile: JunitProfile = "default"
    flow_files: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Source positions: run_id -> {step key or step id: line in the flow file}."""
    detail_loader: DetailLoader = load_detail_file
    secrets: tuple[str, ...] = ()
    title: str = "testflow report"
    history: bool = True
    """Keep a summary of each report in the history directory and show trends from it."""
    history_dir: Path | None = None
    """Where the ``*.json`` summaries live; default ``<report dir>/history``."""
    system_out_limit: int = 64 * 1024
    """Characters of ``system-out`` per JUnit test case before it is cut."""

    def __post_init__(self) -> None:
        if self.junit_granularity not in ("step", "flow"):
            raise ValueError(
                f"junit granularity must be 'step' or 'flow', not {self.junit_granularity!r}"
            )
        if self.junit_profile not in ("default", "annotations"):
            raise ValueError(
                f"junit profile must be 'default' or 'annotations', not {self.junit_profile!r}"
            )

    @property
    def masker(self) -> Masker:
        return Masker(self.secrets)

    def line_of(self, run_id: str, step_key: str, step_id: str) -> int | None:
        positions = self.flow_files.get(run_id, {})
        return positions.get(step_key) or positions.get(step_id)

    def load_detail(self, ref: ArtifactRef | None) -> dict[str, Any] | None:
        """The step's detail, masked; None when there is none or it cannot be read."""
        if ref is None:
            return None
        try:
            data = self.detail_loader(ref)
        except Exception:  # a broken artefact must not break the report
            return None
        return self.masker.data(data) if data is not None else None


class Masker:
    """Replaces secret values in text and nested data (keys included)."""

    def __init__(self, secrets: tuple[str, ...] | list[str]) -> None:
        values = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another one is masked whole.
        self._secrets = sorted(values, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def data(self, value: Any) -> Any:
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes and other control characters (bell, backspace...).

    Logs of CLI tools under test are full of them, and they are noise or invalid in every
    report format; tab, newline and carriage return are kept.
    """
    return _CONTROL.sub("", _ANSI.sub("", text))


def slug(text: str) -> str:
    """A file- and id-safe version of a name."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")
    return out or "unnamed"


_ID_VALUE = re.compile(r"""\s*["']?([A-Za-z_][A-Za-z0-9_\-]*)""")


def step_lines(text: str, positions: Mapping[str, tuple[int, int]]) -> dict[str, int]:
    """Step id -> line of its ``id:`` in a flow file, for :attr:`ReportOptions.flow_files`.

    ``text`` and ``positions`` are :attr:`testflow.dsl.loader.LoadedFlow.text` and
    ``.positions`` (``steps[1].id`` -> (line, col) of the value, 1-based); the id is read
    from the source at that position, so YAML and JSON flows work alike.
    """
    lines = text.splitlines()
    out: dict[str, int] = {}
    for path, (line, col) in positions.items():
        if not (path == "id" or path.endswith(".id")) or not 0 < line <= len(lines):
            continue
        match = _ID_VALUE.match(lines[line - 1], max(col - 1, 0))
        if match and path != "id":
            out.setdefault(match.group(1), line)
    return out


def earlier_attempts(step: StepRecord) -> list[AttemptRecord]:
    """The failed tries before the final one.

    A runner may also record the final attempt's error in ``attempt_errors``; that one is the
    step's own ``error``, so it is not a retry and must not make a step look flaky.
    """
    final = max(step.attempts, 1)
    return [a for a in step.attempt_errors if a.attempt < final or step.status == "passed"]


def was_retried(step: StepRecord) -> bool:
    """Passed only after failed tries (the "flaky" signal)."""
    return step.status == "passed" and bool(earlier_attempts(step))
