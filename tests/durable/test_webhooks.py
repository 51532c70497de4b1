"""The webhook receiver against real runs: listener, router, signatures, status sequences."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client

from testflow.dsl.models import Flow
from testflow.runtime.engine import Engine
from testflow.runtime.settings import Settings
from testflow.webhooks.listener import start_listener
from testflow.webhooks.receiver import decode_body, run_id_of, signature_problem
from testflow.webhooks.router import webhook_router
from testflow.workflows.types import WebhookConfig

pytestmark = pytest.mark.workflow
SECRET = "whsec-test-123"


def _flow(**wait: Any) -> Flow:
    step = {"id": "callback", "type": "webhook.wait", "name": "invoice", "within": "20s", **wait}
    return Flow.model_validate(
        {
            "name": "webhook flow",
            "context": {"hook_secret": "{{ secret('HOOK_SECRET') }}"},
            "steps": [
                {
                    "id": "url",
                    "type": "transform",
                    "set": {"callback": "{{ webhooks.invoice.url }}"},
                },
                step,
            ],
        }
    )


def _sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
async def engine(
    temporal_client: Client, settings: Settings, task_queue: str
) -> AsyncIterator[Engine]:
    async with Engine(
        settings.model_copy(update={"task_queue": task_queue}), client=temporal_client
    ) as eng:
        yield eng


@pytest.fixture
async def listener(temporal_client: Client) -> AsyncIterator[str]:
    base, stop = await start_listener(temporal_client, 0)
    try:
        yield base
    finally:
        await stop()


async def _url_of(engine: Engine, run_id: str) -> str:
    handle = engine._client().get_workflow_handle(run_id)
    for _ in range(100):
        config = await handle.query("webhook_config", "invoice", result_type=WebhookConfig)
        if config.known:
            return f"/hooks/{config.token}/invoice"
        await asyncio.sleep(0.05)
    raise AssertionError("the run never declared its webhook")


async def test_signed_delivery_with_status_sequence(engine: Engine, listener: str) -> None:
    flow = _flow(
        signature={"secret": "{{ hook_secret }}", "header": "X-Hub-Signature", "prefix": "sha256="},
        responses=[500, 500, {"status": 202, "body": {"thanks": True}}],
        match={"$.invoice": "INV-1"},
        extract={"amount": "$.amount"},
        **{"assert": {"count": 1, "rejected": 3, "intervals_ms": {"len": 3}}},
    )
    handle = await engine.start(flow, environ={"HOOK_SECRET": SECRET}, webhook_base=listener)
    path = await _url_of(engine, handle.id)
    body = json.dumps({"invoice": "INV-1", "amount": 42}).encode()
    async with httpx.AsyncClient(base_url=listener) as http:
        bad = await http.post(path, content=body, headers={"X-Hub-Signature": _sign(body, "wrong")})
        statuses = []
        for _ in range(3):  # the partner retries until it gets a 2xx
            reply = await http.post(
                path,
                content=body,
                headers={"X-Hub-Signature": _sign(body), "Content-Type": "application/json"},
            )
            statuses.append(reply.status_code)
    assert bad.status_code == 401 and "bad signature" in bad.json()["error"]
    assert statuses == [500, 500, 202]
    assert reply.json() == {"thanks": True}
    result = await engine.follow(handle.id)
    assert result.status == "passed", [s.error for s in result.steps]
    assert result.context["amount"] == 42
    assert result.context["callback"] == f"{listener}{path}"


async def test_unknown_token_or_name_is_404_and_not_signalled(
    engine: Engine, listener: str
) -> None:
    handle = await engine.start(
        _flow(within="3s"), environ={"HOOK_SECRET": SECRET}, webhook_base=listener
    )
    path = await _url_of(engine, handle.id)
    token = path.split("/")[2]
    async with httpx.AsyncClient(base_url=listener) as http:
        wrong_nonce = await http.post(f"/hooks/{handle.id}~{'0' * 32}/invoice", json={})
        no_run = await http.post("/hooks/run-nope-123~abc/invoice", json={})
        malformed = await http.post("/hooks/garbage/invoice", json={})
        wrong_name = await http.post(f"/hooks/{token}/other", json={})
    assert [r.status_code for r in (wrong_nonce, no_run, malformed, wrong_name)] == [404] * 4
    assert "no webhook named 'other'" in wrong_name.json()["error"]
    config = await handle.query("webhook_config", "invoice", result_type=WebhookConfig)
    assert config.received == 0
    result = await engine.follow(handle.id)
    callback = next(s for s in result.steps if s.step_id == "callback")
    assert callback.status == "error" and "0 of 1" in (
        callback.error.message if callback.error else ""
    )


async def test_router_in_a_fastapi_app_signals_the_run(engine: Engine) -> None:
    app = FastAPI()
    app.include_router(webhook_router(lambda request: engine._client()))
    handle = await engine.start(
        _flow(**{"assert": {"$.ok": True}}),
        environ={"HOOK_SECRET": SECRET},
        webhook_base="https://tf.example",
    )
    path = await _url_of(engine, handle.id)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as http:
        reply = await http.put(path, json={"ok": True}, params={"attempt": "1"})
    assert reply.status_code == 200 and reply.json() == {"received": True}
    result = await engine.follow(handle.id)
    assert result.status == "passed"
    assert result.context["callback"] == f"https://tf.example{path}"


def test_token_and_signature_helpers() -> None:
    assert run_id_of("run-a-b~n0nce") == "run-a-b"
    assert run_id_of("run~") is None and run_id_of("nothing") is None
    spec = {"secret": "k", "header": "X-Sig", "prefix": "sha256="}
    body = b'{"a":1}'
    good = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert signature_problem(spec, {"x-sig": good}, body) is None
    assert (
        signature_problem(spec, {"x-sig": good.upper().replace("SHA256=", "sha256=")}, body) is None
    )
    assert signature_problem(spec, {}, body) == "missing signature header X-Sig"
    assert signature_problem(spec, {"X-Sig": good}, body + b" ") == "bad signature in header X-Sig"
    assert decode_body(b'{"a": 1}', None) == {"a": 1}
    assert decode_body(b"plain", "text/plain") == "plain"
    assert decode_body(b"\xff\xfe", None) == {"base64": "//4="}


async def test_runs_evicted_from_a_small_worker_cache_still_get_their_webhooks(
    temporal_client: Client, settings: Settings, task_queue: str, listener: str
) -> None:
    """More waiting runs than ``max_cached_workflows``: the receiver's query and the signal
    reach runs the worker evicted; they are replayed from history and complete."""
    small = settings.model_copy(update={"task_queue": task_queue, "max_cached_workflows": 2})
    async with Engine(small, client=temporal_client) as engine:
        assert engine.worker is not None
        handles = [
            await engine.start(
                _flow(within="30s"), environ={"HOOK_SECRET": SECRET}, webhook_base=listener
            )
            for _ in range(5)
        ]
        paths = [await _url_of(engine, h.id) for h in handles]
        async with httpx.AsyncClient(base_url=listener) as http:
            # oldest first: the runs least recently used are the ones out of the cache
            replies = [await http.post(p, json={"i": i}) for i, p in enumerate(paths)]
        assert [r.status_code for r in replies] == [200] * 5
        results = [await engine.follow(h.id) for h in handles]
    assert [r.status for r in results] == ["passed"] * 5
    assert [r.context["callback"] for r in results] == [f"{listener}{p}" for p in paths]
