"""Starter-made webhook tokens: keys, nonces, what the receiver knows without asking the run."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from testflow.dsl.loader import load_flow
from testflow.dsl.models import Flow
from testflow.runtime.devserver import connect
from testflow.runtime.engine import Engine
from testflow.runtime.settings import Settings
from testflow.webhooks.listener import start_listener
from testflow.webhooks.receiver import InboundRequest, WebhookReceiver
from testflow.webhooks.tokens import (
    HookBook,
    book_for,
    make_nonce,
    static_configs,
    webhook_keys,
)
from testflow.workflows.types import WebhookConfig

SECRET = "whsec-tokens-1"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_keys_come_from_the_payload_keys_and_survive_a_rotation(tmp_path: Path) -> None:
    old = webhook_keys(Settings(home=tmp_path, encryption_keys=f"a:{_key()}"))
    first = Settings(home=tmp_path, encryption_keys=f"a:{_key()}")
    rotated = webhook_keys(
        Settings(home=tmp_path, encryption_keys=f"b:{_key()},{first.encryption_keys}")
    )
    assert len(rotated) == 2 and rotated[1] == webhook_keys(first)[0] != old[0]
    book = HookBook()
    book.trust(rotated)
    nonce = make_nonce(webhook_keys(first)[0], "run-x-1")  # made before the rotation
    assert book.verify("run-x-1", nonce) is True
    assert book.verify("run-x-2", nonce) is False  # bound to its run id
    assert book.verify("run-x-1", make_nonce(old[0], "run-x-1")) is False  # another install
    assert book.verify("run-x-1", "0123456789abcdef" * 2) is None  # drawn by the workflow

    # Unset: derived from the per-install payload key file, the same in every process.
    home = tmp_path / "home"
    derived = webhook_keys(Settings(home=home))
    text = (home / "keys" / "payload.key").read_text().strip()
    assert (
        derived
        == webhook_keys(Settings(home=home))
        == webhook_keys(Settings(home=tmp_path / "other", encryption_keys=text))
    )
    with pytest.raises(ValueError):
        webhook_keys(Settings(home=home, encryption_keys="no-colon"))


def _hook(name: str, **config: Any) -> dict[str, Any]:
    return {"id": name, "type": "webhook.wait", "name": name, **config}


def test_the_starter_renders_only_what_the_workflow_would_render_the_same() -> None:
    flow = Flow.model_validate(
        {
            "name": "hooks",
            "context": {"who": "acme"},
            "steps": [
                _hook("plain", responses=[500, {"status": 202}]),
                _hook("secret", signature={"secret": "{{ secret('S') }}{{ env.SUFFIX }}"}),
                _hook("context", signature={"secret": "{{ who }}"}),
                _hook("random", signature={"secret": "{{ random.string(8) }}"}),
                _hook("clock", responses=[{"status": 200, "body": "{{ now() }}"}]),
            ],
        }
    )
    names, configs = static_configs(flow, "run-a~hX", {"SUFFIX": "-1"}, {"S": "k"})
    assert names == {"plain", "secret", "context", "random", "clock"}
    assert set(configs) == {"plain", "secret"}
    assert configs["plain"].responses == [{"status": 500}, {"status": 202}]
    assert configs["secret"].signature == {"secret": "k-1"}
    assert configs["plain"].token == "run-a~hX" and configs["plain"].known


def _sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _flow(**wait: Any) -> Flow:
    return Flow.model_validate(
        {
            "name": "token flow",
            "steps": [
                _hook(
                    "invoice",
                    within="30s",
                    signature={"secret": "{{ secret('HOOK_SECRET') }}"},
                    **{"assert": {"count": 1, "rejected": 1}},
                    **wait,
                )
            ],
        }
    )


def _call(body: bytes, signature: str | None = None) -> InboundRequest:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Signature"] = signature
    return InboundRequest(method="POST", path="/hooks", headers=headers, body=body)


@pytest.mark.workflow
async def test_the_first_delivery_needs_no_worker_and_is_buffered(
    temporal_client: Client, settings: Settings, task_queue: str
) -> None:
    """The starter knows the token and the hook's settings: the receiver answers 401/200/404
    with no worker polling (a query would have no one to answer it), and the run, once a
    worker picks it up, consumes what was buffered before its step started."""
    mine = settings.model_copy(update={"task_queue": task_queue})
    receiver = WebhookReceiver(temporal_client, query_timeout=timedelta(seconds=1))
    body = json.dumps({"invoice": 7}).encode()
    async with Engine(mine, client=temporal_client, with_worker=False) as starter:
        handle = await starter.start(_flow(), environ={"HOOK_SECRET": SECRET})
        token = book_for(temporal_client).get(handle.id).token  # type: ignore[union-attr]
        nonce = token.rpartition("~")[2]
        assert nonce == make_nonce(starter.webhook_keys[0], handle.id)
        forged = f"{handle.id}~h{'0' * 40}"
        replies = [
            await receiver.handle(token, "invoice", _call(body, _sign(body, "wrong"))),
            await receiver.handle(token, "invoice", _call(body, _sign(body))),
            await receiver.handle(token, "other", _call(body, _sign(body))),
            await receiver.handle(forged, "invoice", _call(body, _sign(body))),
        ]
    assert [r.status for r in replies] == [401, 200, 404, 404]
    assert "bad signature" in replies[0].body["error"]
    async with Engine(mine, client=temporal_client) as engine:
        config = await handle.query("webhook_config", "invoice", result_type=WebhookConfig)
        result = await engine.follow(handle.id)
    assert config.token == token and config.received == 2
    assert result.status == "passed", [s.error for s in result.steps]


@pytest.mark.workflow
async def test_a_receiver_that_did_not_start_the_run_checks_the_key_then_asks_once(
    temporal_client: Client, temporal_env: Any, settings: Settings, task_queue: str
) -> None:
    """Another process (another client, so another book): a forged starter nonce is a 404
    before anything reaches Temporal; the genuine token is checked by the run once."""
    mine = settings.model_copy(update={"task_queue": task_queue})
    target = temporal_client.service_client.config.target_host
    other = await connect(
        target, namespace="default", data_converter=temporal_client.data_converter
    )
    book_for(other).trust(webhook_keys(mine))
    receiver = WebhookReceiver(other, query_timeout=timedelta(seconds=1))
    body = json.dumps({"invoice": 8}).encode()
    async with Engine(mine, client=temporal_client, with_worker=False) as starter:
        handle = await starter.start(_flow(), environ={"HOOK_SECRET": SECRET})
    token = book_for(temporal_client).get(handle.id).token  # type: ignore[union-attr]
    forged = await receiver.handle(f"{handle.id}~h{'1' * 40}", "invoice", _call(body))
    unanswered = await receiver.handle(token, "invoice", _call(body, _sign(body)))
    assert (forged.status, unanswered.status) == (404, 503)  # no worker to answer the query
    assert book_for(other).get(handle.id) is None
    async with Engine(mine, client=temporal_client) as engine:
        bad = await receiver.handle(token, "invoice", _call(body, "00"))
        good = await receiver.handle(token, "invoice", _call(body, _sign(body)))
        result = await engine.follow(handle.id)
    assert (bad.status, good.status) == (401, 200)
    learned = book_for(other).get(handle.id)
    assert learned is not None and learned.names is None and set(learned.configs) == {"invoice"}
    assert result.status == "passed", [s.error for s in result.steps]


@pytest.mark.workflow
async def test_a_sub_flow_draws_its_own_nonce_and_gets_its_webhook(
    temporal_client: Client, settings: Settings, task_queue: str, tmp_path: Path
) -> None:
    """A sub-flow's input is a copy of its parent's: it must not reuse the nonce the starter
    signed for the parent's run id (a receiver would reject it as forged)."""
    (tmp_path / "sub.yaml").write_text(
        "name: sub\nsteps:\n  - {id: inner, type: webhook.wait, name: inner, within: 30s}\n"
    )
    (tmp_path / "main.yaml").write_text(
        "name: main\nsteps:\n"
        "  - {id: child, type: call, flow: sub.yaml}\n"
        "  - {id: outer, type: webhook.wait, name: outer, within: 30s}\n"
    )
    flow = load_flow(tmp_path / "main.yaml").flow
    mine = settings.model_copy(update={"task_queue": task_queue})
    base, stop = await start_listener(temporal_client, 0)
    try:
        async with Engine(mine, client=temporal_client) as engine:
            handle = await engine.start(flow, environ={}, webhook_base=base)
            child = temporal_client.get_workflow_handle(f"{handle.id}.child")
            for _ in range(100):
                try:
                    inner = await child.query("webhook_config", "inner", result_type=WebhookConfig)
                    break
                except (RPCError, WorkflowQueryFailedError):  # the child has not started yet
                    await asyncio.sleep(0.1)
            outer = book_for(temporal_client).get(handle.id)
            assert outer is not None and inner.known
            assert not inner.token.rpartition("~")[2].startswith("h")  # drawn by the child
            async with httpx.AsyncClient(base_url=base) as http:
                first = await http.post(f"/hooks/{inner.token}/inner", json={})
                second = await http.post(f"/hooks/{outer.token}/outer", json={})
            result = await engine.follow(handle.id)
    finally:
        await stop()
    assert (first.status_code, second.status_code) == (200, 200)
    assert result.status == "passed", [s.error for s in result.steps]
