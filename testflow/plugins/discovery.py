"""Finding plugins: directories holding a ``manifest.json`` under the plugin roots.

Roots, in priority order: ``PLUGINS_DIR`` (default ``./plugins``; several paths may be
joined with ``os.pathsep``), then the user's ``~/.testflow/plugins`` (moved with
``TESTFLOW_USER_PLUGINS_DIR``, which tests use to keep the user's real directory out).

A root is scanned one level deep. A broken manifest does not stop discovery: it becomes a
problem that ``testflow plugins list`` shows, and the other plugins still load. Two plugins
with the same id in one root are both rejected (nobody could tell which one a flow means); a
plugin in a later root with the id of one in an earlier root is shadowed, and that is said
too.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from testflow.plugins.manifest import MANIFEST_FILE, Manifest, ManifestError, load_manifest

STATE_FILE = ".testflow-plugins.json"


def primary_dir(plugins_dir: str | os.PathLike[str] | None = None) -> Path:
    """The directory plugins are installed into and where the state file lives."""
    if plugins_dir is not None:
        return Path(plugins_dir)
    env = os.environ.get("PLUGINS_DIR")
    if env:
        return Path(env.split(os.pathsep)[0])
    return Path("plugins")


def plugin_roots(plugins_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Every directory scanned for plugins, highest priority first."""
    if plugins_dir is not None:
        roots = [Path(plugins_dir)]
    else:
        env = os.environ.get("PLUGINS_DIR")
        roots = [Path(p) for p in env.split(os.pathsep) if p] if env else [Path("plugins")]
    user = os.environ.get("TESTFLOW_USER_PLUGINS_DIR")
    user_dir = Path(user) if user else Path("~/.testflow/plugins").expanduser()
    if user_dir.resolve() not in {r.resolve() for r in roots}:
        roots.append(user_dir)
    return roots


def fingerprint(directory: Path, manifest: Manifest) -> str:
    """Changes when the manifest or the entry point changes: a cached /info is then stale."""
    digest = hashlib.sha256((directory / MANIFEST_FILE).read_bytes())
    entry = directory / manifest.entry_point
    try:
        stat = entry.stat()
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    except OSError:
        pass
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class DiscoveredPlugin:
    """A plugin directory with a valid manifest."""

    manifest: Manifest
    directory: Path
    root: Path

    @property
    def id(self) -> str:
        return self.manifest.id


@dataclass
class Discovery:
    """What a scan found: usable plugins by id, and problems in words."""

    plugins: dict[str, DiscoveredPlugin] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def discover(plugins_dir: str | os.PathLike[str] | None = None) -> Discovery:
    """Scan the plugin roots; never raises for a bad plugin (see :attr:`Discovery.problems`)."""
    result = Discovery()
    for root in plugin_roots(plugins_dir):
        if not root.is_dir():
            continue
        found: dict[str, list[DiscoveredPlugin]] = {}
        for child in sorted(root.iterdir()):
            if not child.is_dir() or not (child / MANIFEST_FILE).is_file():
                continue
            try:
                manifest = load_manifest(child)
            except ManifestError as exc:
                result.problems.append(str(exc))
                continue
            found.setdefault(manifest.id, []).append(DiscoveredPlugin(manifest, child, root))
        for plugin_id, candidates in found.items():
            if len(candidates) > 1:
                where = " and ".join(str(c.directory) for c in candidates)
                result.problems.append(
                    f"two plugins with the same id {plugin_id!r}: {where}; neither is loaded "
                    "(rename one: the id is the action name in flows)"
                )
                continue
            plugin = candidates[0]
            earlier = result.plugins.get(plugin_id)
            if earlier is not None:
                result.problems.append(
                    f"plugin {plugin_id!r} in {plugin.directory} is shadowed by {earlier.directory}"
                )
                continue
            result.plugins[plugin_id] = plugin
    return result
