"""Manifest validation and discovery: clear errors, duplicates, shadowing, state file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testflow.plugins.discovery import discover, plugin_roots
from testflow.plugins.manifest import ManifestError, load_manifest
from testflow.plugins.state import load_state

GOOD = {
    "id": "my-plugin",
    "name": "My Plugin",
    "version": "1.0.0",
    "type": "action",
    "entry_point": "server.py",
}


def write_plugin(folder: Path, manifest: dict | str, entry: str | None = "server.py") -> Path:
    folder.mkdir(parents=True)
    text = manifest if isinstance(manifest, str) else json.dumps(manifest, indent=2)
    (folder / "manifest.json").write_text(text)
    if entry:
        (folder / entry).write_text("print('hi')\n")
    return folder


def test_a_valid_manifest_keeps_optional_and_unknown_fields(tmp_path: Path) -> None:
    data = {**GOOD, "permissions": ["network"], "config": {"timeout": 12}, "x-extra": 1}
    m = load_manifest(write_plugin(tmp_path / "p", data))
    assert (m.id, m.type, m.permissions, m.default_timeout()) == (
        "my-plugin",
        "action",
        ["network"],
        12.0,
    )
    assert m.model_extra == {"x-extra": 1}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"entry_point": None}, "'entry_point': the field is required"),
        ({"name": None}, "'name': the field is required"),
        (
            {"type": "widget"},
            "'type': must be one of action, auth, importer, exporter, reporter (got 'widget')",
        ),
        ({"version": "one"}, "'one' is not a semver version"),
        ({"id": "has space"}, "'id': String should match pattern"),
        ({"entry_point": "/usr/bin/python3"}, "must be a path relative to the plugin directory"),
    ],
)
def test_bad_manifests_name_the_file_and_field(tmp_path: Path, change: dict, message: str) -> None:
    data = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    folder = write_plugin(tmp_path / "p", data)
    with pytest.raises(ManifestError) as err:
        load_manifest(folder)
    assert str(folder / "manifest.json") in str(err.value)
    assert message in str(err.value)


def test_entry_point_escaping_the_directory_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "outside.py").write_text("print('evil')\n")
    folder = write_plugin(tmp_path / "p", {**GOOD, "entry_point": "../outside.py"}, entry=None)
    with pytest.raises(ManifestError, match="escapes the plugin directory"):
        load_manifest(folder)


def test_entry_point_symlink_out_of_the_directory_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "outside.py").write_text("print('evil')\n")
    folder = write_plugin(tmp_path / "p", GOOD, entry=None)
    (folder / "server.py").symlink_to(tmp_path / "outside.py")
    with pytest.raises(ManifestError, match="escapes the plugin directory"):
        load_manifest(folder)


def test_missing_entry_point_and_invalid_json(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"'server\.py' does not exist"):
        load_manifest(write_plugin(tmp_path / "a", GOOD, entry=None))
    with pytest.raises(ManifestError, match=r"manifest.json:2:\d+: invalid JSON"):
        load_manifest(write_plugin(tmp_path / "b", '{"id": "x",\n  oops}'))


def test_discovery_reports_broken_plugins_and_loads_the_others(tmp_path: Path) -> None:
    root = tmp_path / "plugins"
    write_plugin(root / "good", GOOD)
    write_plugin(root / "broken", {**GOOD, "id": "broken", "type": "nope"})
    (root / "not-a-plugin").mkdir()
    found = discover(root)
    assert list(found.plugins) == ["my-plugin"]
    assert len(found.problems) == 1 and "broken/manifest.json" in found.problems[0]


def test_two_plugins_with_the_same_id_are_both_rejected(tmp_path: Path) -> None:
    root = tmp_path / "plugins"
    write_plugin(root / "one", GOOD)
    write_plugin(root / "two", GOOD)
    found = discover(root)
    assert found.plugins == {}
    assert "two plugins with the same id 'my-plugin'" in found.problems[0]
    assert str(root / "one") in found.problems[0] and str(root / "two") in found.problems[0]


def test_user_dir_is_scanned_after_the_project_dir_and_shadowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, user = tmp_path / "plugins", tmp_path / "user"
    monkeypatch.setenv("TESTFLOW_USER_PLUGINS_DIR", str(user))
    write_plugin(project / "mine", GOOD)
    write_plugin(user / "theirs", GOOD)
    write_plugin(user / "other", {**GOOD, "id": "other"})
    assert plugin_roots(project) == [project, user]
    found = discover(project)
    assert found.plugins["my-plugin"].directory == project / "mine"
    assert "other" in found.plugins
    assert any("shadowed" in p for p in found.problems)


def test_plugins_dir_env_may_list_several_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv("PLUGINS_DIR", f"{a}:{b}")
    monkeypatch.setenv("TESTFLOW_USER_PLUGINS_DIR", str(tmp_path / "u"))
    write_plugin(a / "x", GOOD)
    write_plugin(b / "y", {**GOOD, "id": "y"})
    assert sorted(discover().plugins) == ["my-plugin", "y"]


def test_state_file_round_trip(tmp_path: Path) -> None:
    state = load_state(tmp_path)
    assert state.is_enabled("x")
    state.entry("x").enabled = False
    state.set_info("y", {"actions": []}, "fp1")
    state.save()
    again = load_state(tmp_path)
    assert not again.is_enabled("x")
    assert again.cached_info("y", "fp1") == {"actions": []}
    assert again.cached_info("y", "other-fingerprint") is None
