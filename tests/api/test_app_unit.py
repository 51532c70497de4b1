"""The app without Temporal: import isolation, auth modes, the UI fallback, error shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from testflow.api import app as app_module
from testflow.api.app import create_app
from testflow.runtime.settings import Settings
from tests.api.conftest import serve

PROTOCOL_MODULES = (
    "testflow.activities",
    "httpx",
    "asyncpg",
    "aiokafka",
    "redis",
    "aio_pika",
    "aiomqtt",
    "nats",
)


def test_api_loads_no_protocol_client() -> None:
    code = (
        "import sys, json; import testflow.api.app; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({PROTOCOL_MODULES!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(
        home=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", **kw
    )


async def test_auth_auto_is_open_until_a_token_exists(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path), connect=False)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/api/v1/flows")).status_code == 200
        made = await client.post("/api/v1/tokens", json={"name": "first", "role": "admin"})
        assert made.status_code == 201
        token = made.json()["token"]
        app.state.tf.forget_token_count()
        assert (await client.get("/api/v1/flows")).status_code == 401
        ok = await client.get("/api/v1/flows", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        # Without Temporal, run endpoints say so instead of failing obscurely.
        start = await client.post(
            "/api/v1/runs",
            json={"text": "name: x\nsteps: []\n"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert start.status_code in (422, 503)


async def test_auth_required_without_tokens_refuses_everyone(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, auth="required"), connect=False)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        denied = await client.get("/api/v1/flows")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"] == "Bearer"
        assert denied.json()["detail"]["message"].startswith("an API token is required")


async def test_ui_fallback_and_client_routes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-ui"
    monkeypatch.setattr(app_module, "STATIC_DIR", empty)
    app = create_app(_settings(tmp_path), connect=False)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        page = await client.get("/")
        assert page.status_code == 200 and "npm run build" in page.text
        assert (await client.get("/api/v1/nothing-here")).status_code == 404

    built = tmp_path / "ui"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text("<html>shell</html>")
    (built / "assets" / "app.js").write_text("console.log(1)")
    monkeypatch.setattr(app_module, "STATIC_DIR", built)
    app = create_app(_settings(tmp_path), connect=False)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/flows/abc/edit")).text == "<html>shell</html>"
        assert (await client.get("/assets/app.js")).text == "console.log(1)"
        assert (await client.get("/../../etc/passwd")).text == "<html>shell</html>"


async def test_cors_allows_only_configured_origins(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, cors_origins=["http://ui.example"]), connect=False)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        ok = await client.get("/healthz", headers={"Origin": "http://ui.example"})
        assert ok.headers.get("access-control-allow-origin") == "http://ui.example"
        other = await client.get("/healthz", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
