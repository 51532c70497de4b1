"""A client of the testflow API for the CLI: ``testflow run --server URL``, ``testflow runs``.

``submit_and_stream`` posts each flow as an inline run (at most N unfinished at once, none more
after a failure with fail-fast), streams its events (SSE) to the same progress printer
``testflow run`` uses, and says which runs it started and the exit code;
:mod:`testflow.runtime.server_run` collects the flows before and writes the reports after.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from testflow.commands import EXIT_INFRA_ERROR, EXIT_INVALID_INPUT, EXIT_OK, EXIT_TEST_FAILURES
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
class ServerRuns:
    """What :func:`run_flows` did: the runs it started, in the order given, with the
    status each ended with, and the exit code."""

    started: list[tuple[int, str, str]] = field(default_factory=list)
    """(index of the flow, run id, final status)."""
    code: int = EXIT_OK


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
) -> ServerRuns:
    """Start every flow on the server, at most ``concurrency`` unfinished at once, and stream
    their events; with ``fail_fast``, none starts after a run did not pass (running ones finish).

    The bound is kept here (a semaphore around start + follow), not by the server: an inline
    run is one workflow, and the CLI decides when to start the next. A start the server
    refuses also stops further starts. ``printer`` gets each RunEvent (``ProgressPrinter``
    fits); with none, one line per finished step goes to ``echo``.
    """
    slots = asyncio.Semaphore(concurrency)
    stop = asyncio.Event()
    out = ServerRuns()
    codes: list[int] = []

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
            if stop.is_set():
                return
            try:
                run = await client.start(flow.text, flow.filename, environment, variables or {})
            except ApiClientError as exc:
                stop.set()
                codes.append(_refused(exc, echo))
                return
            try:
                status = await follow(run["run_id"])
            except ApiClientError as exc:
                stop.set()
                echo(str(exc))
                codes.append(EXIT_INFRA_ERROR)
                return
            out.started.append((index, run["run_id"], status))
            if status != "passed":
                codes.append(EXIT_TEST_FAILURES)
                if fail_fast:
                    stop.set()

    # One task per flow, each waiting for a slot in the order given (asyncio's semaphore is
    # fair): the starts keep the order of the files.
    await asyncio.gather(*(one(i, f) for i, f in enumerate(flows)))
    out.started.sort()
    for _, run_id, status in out.started:
        echo(f"{run_id}: {status}")
    # Invalid input and infrastructure problems outrank a failed flow (max of 1, 2, 3).
    out.code = max(codes, default=EXIT_OK)
    return out


async def submit_and_stream(
    server_url: str,
    files: Sequence[Path],
    *,
    environment: str | None = None,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    concurrency: int = 4,
    fail_fast: bool = False,
    printer: Any = None,
    echo: Any = print,
) -> int:
    """:func:`run_flows` for flow files as they are (no directory, no tags); the exit code."""
    flows: list[ServerFlow] = []
    for path in files:
        try:
            text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
        except OSError as exc:
            echo(f"cannot read {exc.filename}: {exc.strerror}")
            return EXIT_INVALID_INPUT
        flows.append(ServerFlow(text, Path(path).name))
    async with ApiClient(server_url, token) as client:
        done = await run_flows(
            client,
            flows,
            environment=environment,
            variables=variables,
            concurrency=concurrency,
            fail_fast=fail_fast,
            printer=printer,
            echo=echo,
        )
    return done.code


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


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
