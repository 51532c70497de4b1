"""A client of the testflow API for the CLI: ``testflow run --server URL``, ``testflow runs``.

``submit_and_stream`` posts each flow file as an inline run, streams its events (SSE) to the
same progress printer ``testflow run`` uses, and returns the CLI exit code.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Sequence
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


async def submit_and_stream(
    server_url: str,
    files: Sequence[Path],
    *,
    environment: str | None = None,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    printer: Any = None,
    echo: Any = print,
) -> int:
    """Start every flow file on the server, stream their events, return the exit code.

    ``printer`` gets each RunEvent (``testflow.runtime.progress.ProgressPrinter`` fits); with
    none, one line per finished step goes to ``echo``.
    """
    async with ApiClient(server_url, token) as client:
        started: list[dict[str, Any]] = []
        try:
            for path in files:
                text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
                started.append(
                    await client.start(text, Path(path).name, environment, variables or {})
                )
        except OSError as exc:
            echo(f"cannot read {exc.filename}: {exc.strerror}")
            return EXIT_INVALID_INPUT
        except ApiClientError as exc:
            echo(f"the server refused the run: {exc}")
            for err in exc.errors:
                where = (
                    f"{err.get('file') or ''}:{err.get('line')}:{err.get('col')}: "
                    if err.get("line")
                    else ""
                )
                echo(f"  {where}{err.get('path', '')}: {err.get('message')}")
            return EXIT_INVALID_INPUT if exc.status in (400, 404, 409, 422) else EXIT_INFRA_ERROR

        async def follow(run: dict[str, Any]) -> str:
            status = "error"
            async for event in client.events(run["run_id"]):
                if printer is not None:
                    printer(event)
                elif event.type == "step_finished" and event.step is not None:
                    echo(
                        f"{event.run_id} {event.step.key} {event.step.status} {event.step.summary}"
                    )
                if event.type == "run_finished":
                    status = event.status or "error"
            return status

        try:
            statuses = await asyncio.gather(*(follow(r) for r in started))
        except ApiClientError as exc:
            echo(str(exc))
            return EXIT_INFRA_ERROR
        for run, status in zip(started, statuses, strict=True):
            echo(f"{run['run_id']}: {status}")
        return EXIT_OK if all(s == "passed" for s in statuses) else EXIT_TEST_FAILURES


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
