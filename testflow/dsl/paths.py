"""Which files a flow may make the loader read: ``call:`` flows and ``schema:`` files.

On a laptop (``testflow run``, ``testflow validate``) a flow reads whatever its author can
read. A flow stored on a server is confined to the server's flow library (``root``): an
absolute path, a ``..`` or a symlink leading out of it would let a flow author read the
server's files (a called "flow" shows up in diagnostics with snippets, a schema in assertion
results), so such a path is refused before anything is read.

The same rule confines the files a step opens in the worker when the run carries a file root
(``RunOptions.file_root``, set by the API): ``StepContext.resolve_file`` uses :func:`inside`.
"""

from __future__ import annotations

from pathlib import Path

ESCAPES = "path escapes the flow library"


def inside(base: Path, name: str, root: Path) -> Path | None:
    """``name`` (relative to ``base``) resolved, or None when it leads outside ``root``.

    Symlinks are followed (``resolve``), so a link inside the library pointing out of it is
    refused as well; an absolute ``name`` counts only when it lies inside ``root``. The worker
    opens the returned path, not ``name``, so what it opens is what was checked.
    """
    try:
        resolved = (base / name).resolve()
        return resolved if resolved.is_relative_to(root.resolve()) else None
    except (OSError, ValueError):  # a NUL byte, a symlink loop: not a path it may read
        return None


def escapes(base: Path, name: str, root: Path | None) -> bool:
    """Whether ``name`` (relative to ``base``, the flow's folder) leads outside ``root``.

    Without a root nothing escapes.
    """
    return root is not None and inside(base, name, root) is None


def escape_message(name: str) -> str:
    return (
        f"{ESCAPES}: {name!r} points outside the folder this server's flows may read; "
        "use a path relative to the flow that stays inside the library (no absolute path, "
        "no '..' above it)"
    )
