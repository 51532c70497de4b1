"""Parsed flows by text: re-runs, schedules and load tests skip re-parsing the same flow."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from testflow.dsl.loader import LoadedFlow, parse_flow
from testflow.dsl.registry import StepRegistry


def default_filename(text: str) -> str:
    """JSON when it looks like JSON, else YAML (the parser reads both by the name)."""
    return "flow.json" if text.lstrip().startswith(("{", "[")) else "flow.yaml"


class FlowCache:
    """Parsed flows by (text, filename, known names): re-runs and load tests skip re-parsing."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], LoadedFlow] = OrderedDict()

    def parse(
        self, registry: StepRegistry, base_dir: Path, text: str, filename: str, known: Iterable[str]
    ) -> LoadedFlow:
        key = (text, filename, frozenset(known), id(registry))
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
            return hit
        loaded = parse_flow(
            text,
            filename,
            registry=registry,
            base_dir=str(base_dir),
            known_names=known,
            # Flows on the server may reference files in its library only, never elsewhere.
            root_dir=str(base_dir),
        )
        self._items[key] = loaded
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return loaded
