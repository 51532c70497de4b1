"""Durations in flows: ``30s``, ``2m``, ``1h30m``, ``250ms`` or a number of seconds."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
MAX_DURATION_SECONDS = 100 * 365 * 86400
DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d))+$"


def _seconds(total: float) -> timedelta:
    # timedelta raises OverflowError (not ValueError) past ~2.7 million years or on inf/nan;
    # pydantic only turns ValueError into a validation error, so convert it here.
    if not math.isfinite(total) or total > MAX_DURATION_SECONDS:
        raise ValueError(f"a duration must be at most {MAX_DURATION_SECONDS // 86400} days")
    return timedelta(seconds=total)


def parse_duration(value: Any) -> timedelta:
    """Parse ``30s``/``2m``/``1h30m``/``250ms``/seconds into a timedelta; raise ValueError otherwise."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 2m or 500ms, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _seconds(float(value))
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if text and re.fullmatch(r"\d+(\.\d+)?", text):
            return _seconds(float(text))
        pos, total = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if text and pos == len(text):
            return _seconds(total)
    raise ValueError(f"expected a duration like 30s, 2m or 500ms, got {value!r}")


def format_duration(value: timedelta) -> str:
    """Render a timedelta back into the shortest DSL form (``90s`` -> ``1m30s``)."""
    ms = round(value.total_seconds() * 1000)
    if ms % 1000:
        return f"{ms}ms"
    seconds = ms // 1000
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "number", "minimum": 0},
            ],
            "description": "A duration: 250ms, 30s, 2m, 1h30m, or a number of seconds.",
        }
    ),
]
"""A pydantic field type for durations; serialises to the DSL form in JSON mode."""
