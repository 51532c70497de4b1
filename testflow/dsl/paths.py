"""Which files a flow may make the loader read: ``call:`` flows and ``schema:`` files.

On a laptop (``testflow run``, ``testflow validate``) a flow reads whatever its author can
read. A flow stored on a server is confined to the server's flow library (``root``): an
absolute path, a ``..`` or a symlink leading out of it would let a flow author read the
server's files (a called "flow" shows up in diagnostics with snippets, a schema in assertion
results), so such a path is refused before anything is read.
"""

from __future__ import annotations

from pathlib import Path

ESCAPES = "path escapes the flow library"


def escapes(base: Path, name: str, root: Path | None) -> bool:
    """Whether ``name`` (relative to ``base``, the flow's folder) leads outside ``root``.

    Symlinks are followed (``resolve``), so a link inside the library pointing out of it is
    refused as well. Without a root nothing escapes.
    """
    if root is None:
        return False
    try:
        return not (base / name).resolve().is_relative_to(root.resolve())
    except (OSError, ValueError):  # a NUL byte, a symlink loop: not a path it may read
        return True


def escape_message(name: str) -> str:
    return (
        f"{ESCAPES}: {name!r} points outside the folder this server's flows may read; "
        "use a path relative to the flow that stays inside the library (no absolute path, "
        "no '..' above it)"
    )
