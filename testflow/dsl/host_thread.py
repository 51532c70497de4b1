"""Run library set-up work on a helper thread, where imports use the host's importer.

The Temporal workflow sandbox swaps ``sys.modules`` and ``__import__`` per thread. A library
that imports lazily (Jinja's compiler does ``from .runtime import ...`` on every compile,
Jinja loads ``jinja2.debug`` on a syntax error, Faker imports its locale providers) would, on
the workflow's thread, load private copies of those modules inside the sandbox: slow on every
new workflow run, restricted (Faker calls ``platform.system``), and subtly wrong (a second
``jinja2.runtime`` has its own ``missing`` sentinel). Work sent here runs on one long-lived
helper thread that the sandbox never touches, exactly as it would outside any sandbox.

Only deterministic, side-effect-free preparation goes through here (compiling a template,
building a Faker instance); results are cached by the callers, so this is not a hot path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["on_host_thread"]

_T = TypeVar("_T")

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()
_state = threading.local()


def _run(function: Callable[..., _T], args: tuple[Any, ...]) -> _T:
    _state.inside = True
    try:
        return function(*args)
    finally:
        _state.inside = False


def on_host_thread(function: Callable[..., _T], *args: Any) -> _T:
    """``function(*args)`` on the helper thread; its exception is re-raised here."""
    global _executor
    if getattr(_state, "inside", False):  # already there: a nested call must not wait on itself
        return function(*args)
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="testflow-host")
        executor = _executor
    return executor.submit(_run, function, args).result()
