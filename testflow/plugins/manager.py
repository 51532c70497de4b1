"""``PluginManager``: list, info, install, uninstall, enable, disable, discover.

Used by ``testflow plugins ...`` and by the API (``/api/v1/plugins...``). Every method is a
coroutine (some stop or start plugin processes). State (enabled flags, cached /info) is the
JSON file of :mod:`testflow.plugins.state` in the primary plugin directory.

Install takes a local directory or an archive (``.tar.gz``/``.tgz``/``.zip``) and nothing
else: no URL, no registry. Archives are extracted with tarfile's ``data`` filter (no absolute
paths, no ``..``, no links out, no devices) or, for zip, after checking every member name.
The manifest is validated, including that its entry point stays inside the directory, before
anything is copied into the plugin directory; the declared ``permissions`` are returned so
the caller shows them.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from testflow.plugins.discovery import DiscoveredPlugin, fingerprint, primary_dir
from testflow.plugins.errors import PluginError
from testflow.plugins.host import PluginHost, get_host
from testflow.plugins.kinds import collect_plugin_kinds
from testflow.plugins.manifest import MANIFEST_FILE, ManifestError, load_manifest

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")


class InstallError(PluginError):
    code = "INSTALL_FAILED"


def _extract(archive: Path, into: Path) -> None:
    name = archive.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(into, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise InstallError(f"{archive}: cannot extract: {exc}") from None
        return
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                pure = PurePosixPath(member.filename.replace("\\", "/"))
                if pure.is_absolute() or ".." in pure.parts:
                    raise InstallError(f"{archive}: member {member.filename!r} escapes the archive")
                if (member.external_attr >> 16) & 0o170000 == 0o120000:
                    raise InstallError(f"{archive}: member {member.filename!r} is a symlink")
            zf.extractall(into)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InstallError(f"{archive}: cannot extract: {exc}") from None


def _plugin_root(extracted: Path) -> Path:
    """The directory of the manifest: the archive root or its single top-level directory."""
    if (extracted / MANIFEST_FILE).is_file():
        return extracted
    children = [c for c in extracted.iterdir() if not c.name.startswith(".")]
    if len(children) == 1 and (children[0] / MANIFEST_FILE).is_file():
        return children[0]
    raise InstallError(f"no {MANIFEST_FILE} at the top of the archive (nor in a single folder)")


class PluginManager:
    """Manage the plugins of one plugin directory."""

    def __init__(
        self, plugins_dir: str | os.PathLike[str] | None = None, host: PluginHost | None = None
    ) -> None:
        self.plugins_dir = primary_dir(plugins_dir)
        self.host = host or get_host(self.plugins_dir)

    # -- reading -------------------------------------------------------------------------

    def _summary(self, plugin: DiscoveredPlugin) -> dict[str, Any]:
        m = plugin.manifest
        entry = self.host.state().plugins.get(m.id)
        info = None
        if entry is not None and entry.fingerprint == fingerprint(plugin.directory, m):
            info = entry.info
        return {
            "id": m.id,
            "name": m.name,
            "version": m.version,
            "type": m.type,
            "description": m.description,
            "author": m.author,
            "homepage": m.homepage,
            "permissions": list(m.permissions),
            "enabled": entry.enabled if entry is not None else True,
            "directory": str(plugin.directory),
            "actions": [a.get("id") for a in (info or {}).get("actions", [])],
            "running": m.id in self.host.running(),
            "error": entry.error if entry is not None else None,
        }

    async def list(self) -> dict[str, Any]:
        """``{"plugins": [summary...], "problems": [str...]}``."""
        found = self.host.rescan()
        return {
            "plugins": [self._summary(p) for _, p in sorted(found.plugins.items())],
            "problems": list(found.problems),
        }

    async def info(self, plugin_id: str) -> dict[str, Any]:
        """A summary plus the manifest's config and each action's schema (from /info)."""
        plugin = self.host.plugin(plugin_id, check_enabled=False)
        out = self._summary(plugin)
        out["config"] = dict(plugin.manifest.config)
        out["entry_point"] = plugin.manifest.entry_point
        entry = self.host.state().plugins.get(plugin_id)
        out["info"] = entry.info if entry is not None else None
        return out

    # -- changing ------------------------------------------------------------------------

    async def install(
        self, source: str | os.PathLike[str], *, force: bool = False
    ) -> dict[str, Any]:
        """Copy a plugin from a local directory or archive into the plugin directory."""
        plugin_id = self._install_files(str(source), force)
        # A replaced plugin's old process still runs the old files: stop it; the next use
        # starts the new version.
        await self.host.stop(plugin_id)
        state = self.host.state()
        state.entry(plugin_id).enabled = True
        state.save()
        self.host.rescan()
        self.host.action_owners = {}
        return self._summary(self.host.plugin(plugin_id))

    def _install_files(self, source: str, force: bool) -> str:
        if "://" in source:
            raise InstallError("plugins install from a local directory or archive only, not a URL")
        src = Path(source).expanduser()
        if not src.exists():
            raise InstallError(f"{src}: no such file or directory")
        with tempfile.TemporaryDirectory(prefix="testflow-install-") as tmp:
            if src.is_dir():
                root = src
            elif src.name.lower().endswith(ARCHIVE_SUFFIXES):
                _extract(src, Path(tmp))
                root = _plugin_root(Path(tmp))
            else:
                raise InstallError(
                    f"{src}: give a directory or a {', '.join(ARCHIVE_SUFFIXES)} archive"
                )
            try:
                manifest = load_manifest(root)
            except ManifestError as exc:
                raise InstallError(str(exc)) from None
            target = self.plugins_dir / manifest.id
            if target.resolve() == root.resolve():
                raise InstallError(f"{root} is already in the plugin directory")
            if target.exists():
                if not force:
                    raise InstallError(
                        f"a plugin {manifest.id!r} is installed in {target} (use --force to replace it)"
                    )
                shutil.rmtree(target)
            self.plugins_dir.mkdir(parents=True, exist_ok=True)
            ignore = shutil.ignore_patterns(".git", "__pycache__")
            shutil.copytree(root, target, symlinks=False, ignore=ignore)
        self._keep_mode(target)
        return manifest.id

    @staticmethod
    def _keep_mode(directory: Path) -> None:
        """Keep an extracted binary entry point executable (zip loses the mode)."""
        manifest = load_manifest(directory)
        entry = directory / manifest.entry_point
        if entry.suffix.lower() not in (".py", ".js", ".mjs", ".cjs", ".sh"):
            entry.chmod(entry.stat().st_mode | 0o755)

    async def uninstall(self, plugin_id: str) -> None:
        """Stop the plugin and delete its directory (only inside a plugin root)."""
        plugin = self.host.plugin(plugin_id, check_enabled=False)
        await self.host.stop(plugin_id)
        directory = plugin.directory.resolve()
        if (
            not directory.is_relative_to(plugin.root.resolve())
            or directory == plugin.root.resolve()
        ):
            raise PluginError(f"refusing to delete {directory}: not a plugin folder")
        shutil.rmtree(directory)
        state = self.host.state()
        state.plugins.pop(plugin_id, None)
        state.save()
        self.host.rescan()
        self.host.action_owners = {}

    async def enable(self, plugin_id: str) -> dict[str, Any]:
        plugin = self.host.plugin(plugin_id, check_enabled=False)
        state = self.host.state()
        state.entry(plugin_id).enabled = True
        state.save()
        self.host.action_owners = {}
        return self._summary(plugin)

    async def disable(self, plugin_id: str) -> dict[str, Any]:
        plugin = self.host.plugin(plugin_id, check_enabled=False)
        state = self.host.state()
        state.entry(plugin_id).enabled = False
        state.save()
        await self.host.stop(plugin_id)
        self.host.action_owners = {}
        return self._summary(plugin)

    async def discover(self, *, stop_after: bool = False) -> dict[str, Any]:
        """Rescan, start every enabled action plugin and refresh its cached /info.

        ``stop_after`` stops the processes again (the CLI: nothing should outlive it).
        """
        found = await collect_plugin_kinds(self.host, refresh=True)
        self.host.action_owners = dict(found.owners)
        if stop_after:
            await self.host.shutdown_all()
        listing = await self.list()
        problems = list(dict.fromkeys([*listing["problems"], *found.problems]))
        return {
            "plugins": listing["plugins"],
            "actions": sorted(found.owners),
            "problems": problems,
        }
