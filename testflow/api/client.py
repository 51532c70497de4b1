"""A client of the testflow API for the CLI: ``testflow run --server URL``, ``testflow runs``.

``run_flows`` posts each flow as an inline run (at most N unfinished at once, none more
after a failure with fail-fast), streams its events (SSE) to the same progress printer
``testflow run`` uses, and says which runs it started and the exit code;
:mod:`testflow.runtime.server_run` collects the flows before and writes the reports after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import ValidationError

from testflow.commands import EXIT_INFRA_ERROR, EXIT_INVALID_INPUT, EXIT_OK, EXIT_TEST_FAILURES
from testflow.dsl.positions import first_problem
from testflow.dsl.results import RunEvent


class ApiClientError(Exception):
    """The server refused a request (``status``) or could not be reached (status 0)."""

    def __init__(
        self, message: str, status: int = 0, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []


class ApiClient:
    def __init__(self, server: str, token: str | None = None, timeout: float = 30) -> None:
        token = token or os.environ.get("TESTFLOW_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base = server.rstrip("/")
        self.http = httpx.AsyncClient(
            base_url=f"{self.base}/api/v1", headers=headers, timeout=timeout
        )

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        try:
            answer = await self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ApiClientError(f"cannot reach the testflow API at {self.base}: {exc}") from None
        if answer.status_code >= 400:
            try:
                detail = answer.json().get("detail", {})
            except ValueError:
                detail = {}
            if isinstance(detail, dict):
                raise ApiClientError(
                    str(detail.get("message", answer.text)),
                    answer.status_code,
                    detail.get("errors"),
                )
            raise ApiClientError(str(detail or answer.text), answer.status_code)
        if answer.status_code == 204 or not answer.content:
            return None
        return answer.json()

    async def start(
        self, text: str, filename: str, environment: str | None, variables: dict[str, Any]
    ) -> dict[str, Any]:
        body = {"text": text, "filename": filename, "environment": environment, "vars": variables}
        result: dict[str, Any] = await self.request("POST", "/runs", json=body)
        return result

    async def events(self, run_id: str, since: int = 0) -> AsyncIterator[RunEvent]:
        """The run's events; reconnects with Last-Event-ID if the stream drops."""
        retries = 0
        while True:
            headers = {"Last-Event-ID": str(since)} if since else {}
            try:
                async with self.http.stream(
                    "GET", f"/runs/{run_id}/events", headers=headers, timeout=None
                ) as answer:
                    if answer.status_code >= 400:
                        await answer.aread()
                        raise ApiClientError(
                            f"cannot stream run {run_id}: HTTP {answer.status_code} {answer.text}",
                            answer.status_code,
                        )
                    data: list[str] = []
                    async for line in answer.aiter_lines():
                        if line.startswith("data:"):
                            data.append(line[5:].lstrip())
                        elif not line and data:
                            event = RunEvent.model_validate_json("\n".join(data))
                            data = []
                            since = event.seq
                            yield event
                            if event.type == "run_finished":
                                return
                return
            except httpx.TransportError as exc:
                retries += 1
                if retries > 5:
                    raise ApiClientError(
                        f"the event stream of {run_id} keeps failing: {exc}"
                    ) from None
                await asyncio.sleep(min(2.0, 0.2 * retries))


@dataclass
class ServerFlow:
    """One flow file to start as an inline run: its text and the name the server shows."""

    text: str
    filename: str


@dataclass
class StartedRun:
    """A run :func:`run_flows` started, and how following it ended."""

    index: int
    """Of the flow in the list given."""
    run_id: str
    status: str
    """The run's final status; ``error`` when it could not be followed to its end."""
    reason: str | None = None
    """Why it could not be followed (the stream kept failing, an unreadable event)."""


@dataclass
class ServerRuns:
    """What :func:`run_flows` did: the runs it started, in the order given, and the exit code."""

    started: list[StartedRun] = field(default_factory=list)
    code: int = EXIT_OK


CANCEL_TIMEOUT_S = 5.0
"""How long a Ctrl-C waits for each ``POST /runs/{id}/cancel``: best effort, the user is
waiting, and a server that does not answer cannot be helped from here."""


async def run_flows(
    client: ApiClient,
    flows: Sequence[ServerFlow],
    *,
    environment: str | None = None,
    variables: dict[str, Any] | None = None,
    concurrency: int = 4,
    fail_fast: bool = False,
    printer: Any = None,
    echo: Any = print,
    interrupt: asyncio.Event | None = None,
) -> ServerRuns:
    """Start every flow on the server, at most ``concurrency`` unfinished at once, and stream
    their events; with ``fail_fast``, none starts after a run did not pass (running ones finish).

    The bound is kept here (a semaphore around start + follow), not by the server: an inline
    run is one workflow, and the CLI decides when to start the next. A start the server
    refuses also stops further starts. ``printer`` gets each RunEvent (``ProgressPrinter``
    fits); with none, one line per finished step goes to ``echo``.

    When ``interrupt`` is set (the CLI's Ctrl-C), no more runs start and the running ones are
    cancelled on the server (their teardown runs); they are followed to their end, as a local
    run follows its cancelled workflows. If this coroutine is itself cancelled, the running
    runs are cancelled on the server (best effort) before the cancellation goes on.
    """
    slots = asyncio.Semaphore(concurrency)
    stop = asyncio.Event()
    out = ServerRuns()
    codes: list[int] = []
    running: set[str] = set()

    async def cancel(run_id: str) -> None:
        try:
            await client.request("POST", f"/runs/{run_id}/cancel", timeout=CANCEL_TIMEOUT_S)
        except ApiClientError as exc:
            if exc.status != 409:  # 409: it ended meanwhile
                echo(f"cannot cancel {run_id}: {exc}")

    async def cancel_running() -> None:
        await asyncio.gather(*(cancel(run_id) for run_id in list(running)))

    async def on_interrupt() -> None:
        assert interrupt is not None
        await interrupt.wait()
        stop.set()
        await cancel_running()

    async def follow(run_id: str) -> str:
        status = "error"
        async for event in client.events(run_id):
            if printer is not None:
                printer(event)
            elif event.type == "step_finished" and event.step is not None:
                echo(f"{event.run_id} {event.step.key} {event.step.status} {event.step.summary}")
            if event.type == "run_finished":
                status = event.status or "error"
        return status

    async def one(index: int, flow: ServerFlow) -> None:
        async with slots:
            if stop.is_set() or (interrupt is not None and interrupt.is_set()):
                return
            try:
                run = await client.start(flow.text, flow.filename, environment, variables or {})
            except ApiClientError as exc:
                stop.set()
                codes.append(_refused(exc, echo))
                return
            run_id = run["run_id"]
            running.add(run_id)
            if interrupt is not None and interrupt.is_set():  # Ctrl-C while it was starting
                await cancel(run_id)
            try:
                status = await follow(run_id)
            except (ApiClientError, ValidationError) as exc:
                # It ran (or runs) on the server: it is in the printout and the reports, as an
                # error of the infrastructure, not left out.
                running.discard(run_id)
                stop.set()
                reason = unreadable(exc) if isinstance(exc, ValidationError) else str(exc)
                echo(f"cannot follow {run_id}: {reason}")
                out.started.append(StartedRun(index, run_id, "error", reason))
                codes.append(EXIT_INFRA_ERROR)
                return
            # Not in a `finally`: when this task is cancelled, the run is still going and
            # the caller's clean-up cancels it on the server.
            running.discard(run_id)
            out.started.append(StartedRun(index, run_id, status))
            if status != "passed":
                codes.append(EXIT_TEST_FAILURES)
                if fail_fast:
                    stop.set()

    watcher = asyncio.ensure_future(on_interrupt()) if interrupt is not None else None
    try:
        # One task per flow, each waiting for a slot in the order given (asyncio's semaphore
        # is fair): the starts keep the order of the files.
        await asyncio.gather(*(one(i, f) for i, f in enumerate(flows)))
    except asyncio.CancelledError:
        # Ctrl-C where no signal handler could be installed (asyncio cancels the main task),
        # or a caller giving up: the runs would go on on the server.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(cancel_running(), CANCEL_TIMEOUT_S)
        raise
    finally:
        if watcher is not None:
            watcher.cancel()
    if interrupt is not None and interrupt.is_set():
        # Stopped by Ctrl-C: not a pass even when no run was in flight to fail (exit 1 as a
        # local run gives).
        codes.append(EXIT_TEST_FAILURES)
    out.started.sort(key=lambda run: run.index)
    for run in out.started:
        echo(f"{run.run_id}: {run.status}" + (f" ({run.reason})" if run.reason else ""))
    # Invalid input and infrastructure problems outrank a failed flow (max of 1, 2, 3).
    out.code = max(codes, default=EXIT_OK)
    return out


def _refused(exc: ApiClientError, echo: Any) -> int:
    """Print why the server refused a start (or could not be reached); the exit code it means."""
    if exc.status == 0:
        echo(str(exc))
        return EXIT_INFRA_ERROR
    echo(f"the server refused the run: {exc}")
    for err in exc.errors:
        where = (
            f"{err.get('file') or ''}:{err.get('line')}:{err.get('col')}: "
            if err.get("line")
            else ""
        )
        echo(f"  {where}{err.get('path', '')}: {err.get('message')}")
    return EXIT_INVALID_INPUT if exc.status in (400, 404, 409, 422) else EXIT_INFRA_ERROR


def unreadable(exc: ValidationError) -> str:
    """One line for an answer of the server this CLI cannot read (another testflow version?);
    without the values, which the error would quote."""
    where, message = first_problem(exc)
    return (
        f"the server sent a {exc.title} this CLI cannot read ({where or 'the answer'}: {message}); "
        "are the CLI and the server the same testflow version?"
    )


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
