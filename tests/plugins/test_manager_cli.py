"""PluginManager (install from dirs and archives, safety, enable/disable) and the CLI."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from testflow.cli import app
from testflow.plugins.errors import PluginDisabled
from testflow.plugins.executor import execute
from testflow.plugins.kinds import aplugin_registry
from testflow.plugins.manager import InstallError, PluginManager

from .conftest import EXAMPLES, FIXTURES, make_ctx

runner = CliRunner()


def tar_of(folder: Path, out: Path, prefix: str) -> Path:
    with tarfile.open(out, "w:gz") as tar:
        tar.add(folder, arcname=prefix, filter=lambda ti: None if "__pycache__" in ti.name else ti)
    return out


async def test_install_from_directory_and_use(plugins_dir: Path) -> None:
    manager = PluginManager(plugins_dir)
    summary = await manager.install(EXAMPLES / "tap-reporter")
    assert (summary["id"], summary["type"], summary["permissions"]) == (
        "tap-reporter",
        "reporter",
        ["filesystem"],
    )
    assert (plugins_dir / "tap-reporter" / "manifest.json").is_file()
    with pytest.raises(InstallError, match=r"is installed in .* \(use --force"):
        await manager.install(EXAMPLES / "tap-reporter")
    await manager.install(EXAMPLES / "tap-reporter", force=True)


async def test_install_from_tar_and_zip(plugins_dir: Path, tmp_path: Path) -> None:
    manager = PluginManager(plugins_dir)
    archive = tar_of(EXAMPLES / "my-plugin", tmp_path / "p.tar.gz", "my-plugin-1.0.0")
    await manager.install(archive)
    zpath = tmp_path / "flaky.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in (FIXTURES / "flaky").iterdir():
            if f.is_file():
                zf.write(f, f.name)
    await manager.install(zpath)
    listing = await manager.list()
    assert [p["id"] for p in listing["plugins"]] == ["flaky", "my-plugin"]
    out = await execute({"name": "zip"}, make_ctx("my-plugin.hello"))
    assert out.document["greeting"] == "Hello, zip!"


async def test_archives_that_escape_are_refused(plugins_dir: Path, tmp_path: Path) -> None:
    manager = PluginManager(plugins_dir)
    evil_tar = tmp_path / "evil.tar.gz"
    with tarfile.open(evil_tar, "w:gz") as tar:
        data = b"{}"
        info = tarfile.TarInfo("../../escaped.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(InstallError, match="cannot extract"):
        await manager.install(evil_tar)
    evil_zip = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil_zip, "w") as zf:
        zf.writestr("../escaped.json", "{}")
    with pytest.raises(InstallError, match="escapes the archive"):
        await manager.install(evil_zip)
    assert not (tmp_path / "escaped.json").exists()
    with pytest.raises(InstallError, match="not a URL"):
        await manager.install("https://example.com/plugin.zip")


async def test_install_refuses_an_entry_point_outside(plugins_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "sneaky"
    src.mkdir()
    (tmp_path / "payload.py").write_text("print(1)\n")
    manifest = {
        "id": "sneaky",
        "name": "S",
        "version": "1.0.0",
        "type": "action",
        "entry_point": "../payload.py",
    }
    (src / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InstallError, match="escapes the plugin directory"):
        await PluginManager(plugins_dir).install(src)


async def test_disable_removes_the_actions_and_enable_restores_them(
    add_plugin: Callable[[str], Path], plugins_dir: Path
) -> None:
    add_plugin("my-plugin")
    manager = PluginManager(plugins_dir)
    await manager.discover()
    assert manager.host.running() != {}
    await manager.disable("my-plugin")
    assert manager.host.running() == {}
    registry, _ = await aplugin_registry()
    assert "my-plugin.hello" not in registry
    with pytest.raises(PluginDisabled, match="testflow plugins enable my-plugin"):
        await manager.host.process("my-plugin")
    await manager.enable("my-plugin")
    registry, _ = await aplugin_registry()
    assert "my-plugin.hello" in registry
    await manager.uninstall("my-plugin")
    assert not (plugins_dir / "my-plugin").exists()


def test_cli_install_list_info_discover_schema(plugins_dir: Path, tmp_path: Path) -> None:
    args = ["--plugins-dir", str(plugins_dir)]
    result = runner.invoke(app, ["plugins", "install", str(EXAMPLES / "text-tools"), *args])
    assert result.exit_code == 0, result.output
    assert "installed text 1.0.0 (action)" in result.output
    assert "permissions requested: none declared" in result.output
    result = runner.invoke(app, ["plugins", "discover", "--json", *args])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["actions"] == [
        "text.expect",
        "text.sleep",
        "text.upper",
        "text.words",
    ]
    result = runner.invoke(app, ["plugins", "info", "text", *args])
    assert "action text.upper: Upper-case a text." in result.output
    schema_file = tmp_path / "flow.schema.json"
    result = runner.invoke(app, ["plugins", "schema", "-o", str(schema_file), *args])
    assert result.exit_code == 0, result.output
    assert "text.upper" in schema_file.read_text()
    result = runner.invoke(app, ["plugins", "info", "txet", *args])
    assert result.exit_code == 2
    assert "did you mean 'text'" in result.output


def test_cli_import_and_export(
    add_plugin: Callable[[str], Path], plugins_dir: Path, tmp_path: Path
) -> None:
    add_plugin("csv-importer")
    add_plugin("curl-exporter")
    csv = tmp_path / "partner.csv"
    csv.write_text("id,method,url,status\nping,get,http://127.0.0.1:9/ping,200\n")
    out = tmp_path / "flows"
    result = runner.invoke(
        app,
        ["import", "--from", "csv-importer", str(csv), "-o", str(out), "--option", "name=Partner"],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        ["export", "--to", "curl-exporter", str(out / "partner.yaml"), "-o", str(tmp_path / "sh")],
    )
    assert result.exit_code == 0, result.output
    assert "curl -sS -X GET http://127.0.0.1:9/ping" in (tmp_path / "sh" / "partner.sh").read_text()
    result = runner.invoke(app, ["export", "--to", "csv-importer", str(out / "partner.yaml")])
    assert result.exit_code == 2
    assert "is of type 'importer', not 'exporter'" in result.output


def test_cli_new_python_plugin_works(plugins_dir: Path) -> None:
    result = runner.invoke(
        app, ["plugins", "new", "greeter", "--lang", "py", "--dir", str(plugins_dir)]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["plugins", "discover", "--json", "--plugins-dir", str(plugins_dir)]
    )
    assert json.loads(result.output)["actions"] == ["greeter.hello"]
    result = runner.invoke(
        app, ["plugins", "new", "bad.name", "--lang", "py", "--dir", str(plugins_dir)]
    )
    assert result.exit_code == 2 and "is not a plugin id" in result.output


@pytest.mark.parametrize(
    ("lang", "files"),
    [("ts", {"package.json", "tsconfig.json", "src"}), ("go", {"go.mod", "main.go"})],
)
def test_cli_new_ts_and_go_templates(tmp_path: Path, lang: str, files: set[str]) -> None:
    result = runner.invoke(app, ["plugins", "new", "demo", "--lang", lang, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    made = {p.name for p in (tmp_path / "demo").iterdir()}
    assert files | {"manifest.json", "README.md"} <= made
