"""``manifest.json``: the description of an external plugin (TestMesh-compatible).

A plugin is a directory holding ``manifest.json`` and an entry point. The fields and their
meaning are the seed's: ``id``, ``name``, ``version``, ``type`` and ``entry_point`` are
required; ``description``, ``author``, ``homepage``, ``permissions`` and ``config`` are not.
Unknown keys are kept (plugins written for TestMesh may carry more) but never used.

Validation errors name the manifest file and the field, so a user fixes them without reading
code: ``plugins/x/manifest.json: 'entry_point': the field is required``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PluginType = Literal["action", "auth", "importer", "exporter", "reporter"]
PLUGIN_TYPES: tuple[str, ...] = ("action", "auth", "importer", "exporter", "reporter")
MANIFEST_FILE = "manifest.json"
# Ids become step kind names (``my-plugin.hello``): letters, digits, '-', '_' and dots.
ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$"
_SEMVER = re.compile(r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.\-+]*)?$")


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file and the problem."""


class Manifest(BaseModel):
    """The validated content of a ``manifest.json``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(pattern=ID_PATTERN, description="Unique id; the action name in flows.")
    name: str = Field(min_length=1)
    version: str
    type: PluginType
    entry_point: str = Field(min_length=1, description="File to execute (.py, .js, .sh, binary).")
    description: str = ""
    author: str = ""
    homepage: str = ""
    permissions: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not _SEMVER.match(value):
            raise ValueError(f"{value!r} is not a semver version (like 1.0.0)")
        return value

    @field_validator("entry_point")
    @classmethod
    def _relative(cls, value: str) -> str:
        if Path(value).is_absolute():
            raise ValueError("must be a path relative to the plugin directory")
        return value

    def default_timeout(self) -> float | None:
        """Seconds from ``config.timeout`` (the seed's example sets it), when given."""
        value = self.config.get("timeout")
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
        return None


def entry_point_path(directory: Path, manifest: Manifest) -> Path:
    """The entry point's absolute path; it must stay inside the plugin directory."""
    root = directory.resolve()
    target = (root / manifest.entry_point).resolve()
    if not target.is_relative_to(root):
        raise ManifestError(
            f"{directory / MANIFEST_FILE}: 'entry_point': {manifest.entry_point!r} escapes the "
            f"plugin directory {root}"
        )
    return target


def _describe(errors: list[Any]) -> str:
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "the field is required"
        elif err["type"] == "literal_error":
            msg = f"must be one of {', '.join(PLUGIN_TYPES)} (got {err.get('input')!r})"
        parts.append(f"{loc!r}: {msg}")
    return "; ".join(parts)


def parse_manifest(data: Any, source: str) -> Manifest:
    """Validate manifest data already read from ``source`` (a path, for messages)."""
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: a manifest must be a JSON object")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(f"{source}: {_describe(exc.errors())}") from None


def load_manifest(directory: Path, *, check_entry_point: bool = True) -> Manifest:
    """Read and validate ``directory/manifest.json``.

    With ``check_entry_point`` the entry point must exist inside the directory (it may not
    escape it through ``..`` or a symlink).
    """
    path = directory / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{directory}: no {MANIFEST_FILE} in this directory") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    manifest = parse_manifest(data, str(path))
    if check_entry_point:
        target = entry_point_path(directory, manifest)
        if not target.is_file():
            raise ManifestError(
                f"{path}: 'entry_point': {manifest.entry_point!r} does not exist in {directory}"
            )
    return manifest
