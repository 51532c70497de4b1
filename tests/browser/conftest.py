"""Browser end-to-end fixtures: a real ``testflow serve`` (embedded Temporal + worker + API +
built UI) on a free port with a temporary home, the demo partner service, and Debian's
Chromium driven by Python Playwright (never a downloaded browser).

Everything is skipped with a reason when Chromium, Playwright or the built UI is missing: CI
builds the UI (``npm run build`` in web/) before pytest runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
STATIC_INDEX = REPO / "testflow" / "api" / "static" / "index.html"
SHOTS = REPO / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = None
    if CHROMIUM is None:
        reason = "Debian's chromium is not installed (apt-get install chromium)"
    elif not STATIC_INDEX.exists():
        reason = "the web UI is not built (cd web && npm ci && npm run build)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "Python Playwright is not installed (pip install -e .[dev])"
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[FAILED] = report.failed


FAILED = pytest.StashKey[bool]()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, limit_s: float = 90) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{proc.args} exited with {proc.returncode}:\n{log.read_text()[-4000:]}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {limit_s} s:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class Server:
    url: str
    api: httpx.Client
    home: Path
    demo_url: str

    def run_flow(self, text: str, *, folder: str | None = None) -> tuple[str, str]:
        """Store a flow and start it: (flow id, run id)."""
        r = self.api.post("/flows", json={"text": text, "folder": folder})
        assert r.status_code == 201, r.text
        flow_id = r.json()["id"]
        r = self.api.post("/runs", json={"flow_id": flow_id})
        assert r.status_code == 202, r.text
        return flow_id, r.json()["run_id"]

    def wait_run(self, run_id: str, limit_s: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            result = self.api.get(f"/runs/{run_id}").json()
            if result.get("status") not in (None, "running"):
                return dict(result)
            time.sleep(0.3)
        raise AssertionError(f"run {run_id} did not finish within {limit_s} s")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("browser-home")
    logs = tmp_path_factory.mktemp("browser-logs")
    env = {
        **os.environ,
        "TESTFLOW_HOME": str(home),
        "TESTFLOW_PLUGINS_DIR": str(home / "plugins"),
        "TESTFLOW_AUTH": "off",
        "NO_COLOR": "1",
    }
    env.pop("TESTFLOW_DATABASE_URL", None)
    demo_port, port = free_port(), free_port()
    demo_log, serve_log = logs / "demo.log", logs / "serve.log"
    with demo_log.open("wb") as dl, serve_log.open("wb") as sl:
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "testflow.demo",
                "--port",
                str(demo_port),
                "--db",
                str(home / "demo.db"),
            ],
            stdout=dl,
            stderr=subprocess.STDOUT,
            env=env,
        )
        serve = subprocess.Popen(
            [sys.executable, "-m", "testflow", "serve", "--port", str(port), "--temporal-ui"],
            stdout=sl,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=home,
        )
        try:
            wait_http(f"http://127.0.0.1:{demo_port}/orders", demo, demo_log)
            wait_http(f"http://127.0.0.1:{port}/readyz", serve, serve_log)
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as api:
                yield Server(url=url, api=api, home=home, demo_url=f"http://127.0.0.1:{demo_port}")
        finally:
            stop(serve)
            stop(demo)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope, not session: Playwright's sync API marks an event loop as running in this
    # thread for as long as it is open, which breaks every asyncio test that runs after it.
    from playwright.sync_api import sync_playwright

    # Screenshots of failures from an earlier session would mislead.
    for old in SHOTS.glob("FAILED-*.png"):
        old.unlink()

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, server: Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1500, "height": 900}, base_url=server.url)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(20_000)
    try:
        yield pg
        if request.node.stash.get(FAILED, False):
            # What the screen showed when the test failed.
            shot(pg, f"FAILED-{request.node.name}")
    finally:
        context.close()
    # An uncaught exception in the app is a failure even when the screen looked right.
    assert not errors, f"uncaught errors in the page: {errors}"


def shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
