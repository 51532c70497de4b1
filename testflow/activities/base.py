"""The contract between the generic step activity and the executor of each step kind.

An executor is ``async def execute(config: <kind input model>, ctx: StepContext) -> Output``.
It does the I/O of one step and nothing else: the generic activity
(:mod:`testflow.activities.runner`) renders nothing, but validates the config, runs the
executor, then extraction and assertions against the full output, masks secrets, stores the
detail in the artifact store, and maps errors onto Temporal (retryable or not).

Errors: raise :class:`StepFailure` for a failure of the step's own operation (connection
refused, SQL error, plugin error): it names what failed and is retried per the step's retry
policy. Any other exception is treated the same way with its message. Waiting executors
(``kafka.consume``...) loop until ``ctx.deadline`` and raise ``StepFailure(type="Timeout")``
when nothing matched; they call ``ctx.heartbeat(position)`` and resume from
``ctx.heartbeat_details`` after a retry.

Files: an executor opens a file named by the flow (a multipart part, a TLS key, a SQLite
database, a mocks file) only through :meth:`StepContext.resolve_file`, or
:meth:`StepContext.resolve_url_files` for files named in a DSN's query. A run started by the
API carries a file root (its flow library): a path outside it fails the step with the
non-retryable ``FileNotAllowed`` before anything is opened, so a stored flow cannot read or
write the server's files (its database, keys, ``/etc/passwd``). ``testflow run`` sets no root.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from testflow.dsl.paths import inside
from testflow.dsl.results import ErrorType, LogLine

FILE_PARAMETERS = frozenset(
    {
        # libpq/asyncpg
        "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslcrldir", "passfile",
        # redis-py (unknown query parameters become keyword arguments)
        "ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile",
        # aiormq (AMQP)
        "cafile", "capath", "certfile", "keyfile",
    }
)  # fmt: skip
"""Query parameters of a DSN that drivers open as files."""


class StepFailure(Exception):
    """The step's operation failed; ``type`` and ``details`` end up in the report."""

    def __init__(
        self,
        message: str,
        *,
        type: ErrorType = "StepFailed",
        details: dict[str, Any] | None = None,
        retryable: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.type: ErrorType = type
        self.details = details or {}
        self.retryable = retryable


@dataclass
class Output:
    """What an executor returns.

    ``document`` is what ``$`` addresses in extract and assert (the response body, the row
    list, the matched messages). ``fields`` are named result fields usable as assertion keys
    and in extract (``status``, ``headers``, ``row_count``, ``duration_ms``...).
    ``request``/``response`` are the full detail shown in reports (stored as an artifact when
    large). ``variables`` are set directly in the run context (``transform``).
    """

    document: Any = None
    fields: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    request: Any = None
    response: Any = None
    variables: dict[str, Any] = field(default_factory=dict)
    logs: list[LogLine] = field(default_factory=list)


@dataclass
class StepContext:
    """What an executor may know and use about the run it serves."""

    run_id: str
    flow_name: str
    step_id: str
    step_key: str
    variables: dict[str, Any]
    """The run context (rendered values; secrets included, so never log it whole)."""
    step_outputs: dict[str, Any]
    """Extracted values of earlier steps by step id."""
    connections: dict[str, dict[str, Any]]
    """Named connections from the environment file: name -> {dsn, url, options}."""
    deadline: float
    """``time.monotonic()`` value at which the step's time is up."""
    heartbeat_details: list[Any] = field(default_factory=list)
    """What the previous attempt recorded with :meth:`heartbeat` (empty on a first try)."""
    attempt: int = 1
    logs: list[LogLine] = field(default_factory=list)
    heartbeat_fn: Callable[..., None] | None = None
    artifact_dir: str | None = None
    secret_values: tuple[str, ...] = ()
    kind: str = ""
    """The step's type (``http``, ``my-plugin.hello``): plugin executors need the action name."""
    file_root: str | None = None
    """Folder the step's files must stay inside (``RunOptions.file_root``); None: anywhere."""

    def heartbeat(self, *details: Any) -> None:
        """Record progress (an offset, a cursor) so a retry after a crash resumes from it."""
        if self.heartbeat_fn is not None:
            self.heartbeat_fn(*details)

    def log(self, message: str, level: str = "info") -> None:
        self.logs.append(LogLine(level=level, message=message, at=datetime.now(UTC)))  # type: ignore[arg-type]

    def remaining(self) -> float:
        """Seconds left before the step's deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def resolve_dsn(self, dsn: str | None, connection: str | None) -> str:
        """The DSN of a step: its own ``dsn`` or that of a named ``connection``."""
        if dsn:
            return dsn
        if connection:
            conn = self.connections.get(connection)
            if conn is None:
                known = ", ".join(sorted(self.connections)) or "none"
                raise StepFailure(
                    f"unknown connection {connection!r} (the environment defines: {known})",
                    type="InvalidConfig",
                    retryable=False,
                )
            value = conn.get("dsn") or conn.get("url")
            if value:
                return str(value)
        raise StepFailure(
            "the step needs a 'dsn' or a 'connection'", type="InvalidConfig", retryable=False
        )

    def resolve_file(self, path: str, purpose: str) -> str:
        """The path to open for ``purpose`` (e.g. "multipart part 'doc'"), checked.

        Without a file root, ``path`` as given (relative to the worker's directory, as on a
        laptop). With one, ``path`` is relative to the root and must resolve (symlinks
        followed) inside it; the resolved path is returned so what is opened is what was
        checked. Anything else is a non-retryable ``FileNotAllowed``: nothing is opened.
        """
        if self.file_root is None:
            return path
        root = Path(self.file_root)
        resolved = inside(root, path, root)
        if resolved is None:
            raise self.file_not_allowed(path, purpose)
        return str(resolved)

    def file_not_allowed(
        self, path: str, purpose: str, expected: str = "a path relative to it, no '..' above it"
    ) -> StepFailure:
        """The failure of a step that tried to open ``path`` outside the run's file root."""
        return StepFailure(
            f"{purpose}: {path!r} is not allowed: this run may only open files inside "
            f"{self.file_root} (the server's flow library); give {expected}",
            type="FileNotAllowed",
            details={"path": path, "root": self.file_root, "purpose": purpose},
            retryable=False,
        )

    def resolve_url_files(self, url: str, purpose: str) -> str:
        """``url`` with its file-valued query parameters (:data:`FILE_PARAMETERS`) resolved by
        :meth:`resolve_file`; unchanged without a file root."""
        if self.file_root is None or "?" not in url:
            return url
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if not any(name in FILE_PARAMETERS for name, _ in query):
            return url
        query = [
            (key, self.resolve_file(value, f"{purpose} {key}") if key in FILE_PARAMETERS else value)
            for key, value in query
        ]
        return urlunsplit(parts._replace(query=urlencode(query)))


Executor = Callable[[Any, StepContext], Awaitable[Output]]
