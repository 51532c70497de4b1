"""The step registry: the one list of step kinds.

Each kind declares its name, its input model (its JSON Schema comes from it), what ``$`` means
for extraction, its defaults (timeout, retry, quick or waiting) and the import path of its
executor. Kinds register through the entry-point group ``testflow.steps`` (the built-ins as
well), and external plugins add theirs at discovery. Validation, ``testflow schema``, the docs
and the UI palette all read this registry.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from testflow.dsl.models import RetrySpec

ENTRY_POINT_GROUP = "testflow.steps"
KindMode = Literal["quick", "wait", "workflow", "control"]
"""quick: local activity; wait: regular heartbeating activity; workflow: run by the
interpreter itself (delay, webhook.wait); control: structure (parallel, group, call, poll)."""


@dataclass(frozen=True)
class StepKind:
    """One step kind (``http``, ``postgresql.query``, ``my-plugin.hello``...)."""

    name: str
    description: str
    input_model: type[BaseModel] | None = None
    input_schema: dict[str, Any] | None = None
    """A JSON Schema for kinds without a pydantic model (external plugin actions)."""
    executor: str | None = None
    """``module:function`` of the executor, imported by workers only."""
    mode: KindMode = "quick"
    default_timeout: timedelta = timedelta(seconds=30)
    default_retry: RetrySpec = field(default_factory=RetrySpec)
    primary: str = "the result"
    """What ``$`` addresses in extract/assert (``the response body``, ``the row list``)."""
    result_fields: tuple[str, ...] = ()
    """Result fields usable as assertion keys and in extract (``status``, ``headers``...)."""
    category: str = "utility"
    icon: str = "box"
    example: dict[str, Any] | None = None
    source: str = "builtin"

    @property
    def activity_name(self) -> str:
        return f"testflow.{self.name}"

    def config_schema(self) -> dict[str, Any]:
        """JSON Schema of the kind-specific keys of a step."""
        if self.input_model is not None:
            return self.input_model.model_json_schema(mode="validation")
        return dict(self.input_schema or {"type": "object"})

    def parse_config(self, config: dict[str, Any]) -> Any:
        """Validate a rendered config; returns the input model instance (or the dict)."""
        if self.input_model is not None:
            return self.input_model.model_validate(config)
        return config

    def config_problems(self, config: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str, Any]]:
        """Problems of an unrendered config as (location, message, offending input).

        A value that is still a template string (``"{{ port }}"``) may stand for any type, so
        type errors on template strings are not reported here; the activity validates the
        rendered config again.
        """
        if self.input_model is None:
            return _schema_problems(self.input_schema, config)
        try:
            self.input_model.model_validate(config)
        except ValidationError as exc:
            out = []
            for err in exc.errors():
                value = err.get("input")
                if isinstance(value, str) and "{{" in value and err["type"] != "extra_forbidden":
                    continue
                out.append((tuple(err["loc"]), err["msg"], value))
            return out
        return []


def _schema_problems(
    schema: dict[str, Any] | None, config: dict[str, Any]
) -> list[tuple[tuple[str | int, ...], str, Any]]:
    if not schema:
        return []
    import jsonschema  # imported lazily: only plugin kinds need it

    validator = jsonschema.Draft202012Validator(schema)
    out = []
    for err in validator.iter_errors(config):
        if isinstance(err.instance, str) and "{{" in err.instance:
            continue
        out.append((tuple(err.absolute_path), err.message, err.instance))
    return out


class StepRegistry:
    """The known step kinds by name."""

    def __init__(self, kinds: Iterable[StepKind] = ()) -> None:
        self._kinds: dict[str, StepKind] = {}
        for kind in kinds:
            self.add(kind)

    def add(self, kind: StepKind) -> None:
        existing = self._kinds.get(kind.name)
        if existing is not None and existing.source != kind.source:
            raise ValueError(
                f"step kind {kind.name!r} from {kind.source} clashes with one from {existing.source}"
            )
        self._kinds[kind.name] = kind

    def remove_source(self, source: str) -> None:
        self._kinds = {n: k for n, k in self._kinds.items() if k.source != source}

    def get(self, name: str) -> StepKind | None:
        return self._kinds.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[StepKind]:
        return iter(sorted(self._kinds.values(), key=lambda k: k.name))

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def suggest(self, name: str) -> str | None:
        """The closest known kind name, for "did you mean"."""
        matches = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.6)
        return matches[0] if matches else None

    def copy(self) -> StepRegistry:
        return StepRegistry(self._kinds.values())


def load_entry_point_kinds() -> list[StepKind]:
    """Kinds from every installed package's ``testflow.steps`` entry points."""
    kinds: list[StepKind] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        value = ep.load()
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if not isinstance(item, StepKind):
                raise TypeError(f"entry point {ep.name} ({ep.value}) does not give StepKind objects")
            kinds.append(item)
    return kinds


@cache
def default_registry() -> StepRegistry:
    """The registry of installed kinds (entry points). Plugin hosts copy it and add to it."""
    kinds = load_entry_point_kinds()
    if not kinds:  # running from a source tree that was never pip-installed
        from testflow.dsl.kinds import BUILTIN_KINDS

        kinds = list(BUILTIN_KINDS)
    return StepRegistry(kinds)
