"""Payload encryption: key rotation, the codec server, and no secret in a raw history."""

from __future__ import annotations

import base64
import os

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client

from testflow.runtime.codec import EncryptionCodec, EncryptionKeys
from testflow.runtime.codec_server import CodecAuthError, codec_router, create_codec_app
from testflow.runtime.settings import Settings
from tests.workflows.helpers import run_flow

TOKEN = "codec-token-xyz"
UI = "http://localhost:8233"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_rotation_old_key_decrypts_new_key_encrypts() -> None:
    old, new = _key(), _key()
    before = EncryptionCodec(EncryptionKeys.parse(f"k1:{old}"))
    (sealed_old,) = await before.encode([_payload("s3cret")])
    assert sealed_old.metadata["encryption-key-id"] == b"k1" and b"s3cret" not in sealed_old.data
    rotated = EncryptionCodec(EncryptionKeys.parse(f"k2:{new},k1:{old}"))
    assert (await rotated.decode([sealed_old]))[0].data == b'"s3cret"'
    (sealed_new,) = await rotated.encode([_payload("s3cret")])
    assert sealed_new.metadata["encryption-key-id"] == b"k2"
    with pytest.raises(ValueError, match="unknown key id 'k2'"):
        await before.decode([sealed_new])
    retired = EncryptionCodec(EncryptionKeys.parse(f"k2:{new}"))
    with pytest.raises(ValueError, match="unknown key id 'k1'"):
        await retired.decode([sealed_old])


def _body(payloads: list[Payload]) -> dict[str, object]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


async def test_codec_server_protocol_auth_and_cors() -> None:
    codec = EncryptionCodec(EncryptionKeys.parse(f"k1:{_key()}"))
    app = create_codec_app(codec, TOKEN, [UI])
    auth = {"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://codec"
    ) as http:
        encoded = await http.post("/encode", json=_body([_payload("hello")]), headers=auth)
        assert encoded.status_code == 200
        sealed = encoded.json()["payloads"][0]
        assert base64.b64decode(sealed["metadata"]["encoding"]) == b"binary/encrypted"
        decoded = await http.post("/decode", json={"payloads": [sealed]}, headers=auth)
        assert decoded.status_code == 200
        assert base64.b64decode(decoded.json()["payloads"][0]["data"]) == b'"hello"'
        # Not anonymous: no token or a wrong one is refused.
        assert (await http.post("/decode", json={"payloads": [sealed]})).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (
            await http.post("/decode", json={"payloads": [sealed]}, headers=wrong)
        ).status_code == 401
        # Preflight from the UI origin passes without the token; other origins get no grant.
        preflight = {
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        }
        ok = await http.options("/decode", headers=preflight)
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == UI
        evil = await http.options("/decode", headers={**preflight, "Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in evil.headers
        # Clear errors on bad input.
        assert (await http.post("/decode", content=b"not json", headers=auth)).status_code == 400
        other = EncryptionCodec(EncryptionKeys.parse(f"k9:{_key()}"))
        foreign = _body(list(await other.encode([_payload("x")])))
        refused = await http.post("/decode", json=foreign, headers=auth)
        assert refused.status_code == 422 and "k9" in refused.json()["detail"]


def test_codec_router_refuses_to_run_without_a_token() -> None:
    codec = EncryptionCodec(EncryptionKeys.parse(f"k1:{_key()}"))
    with pytest.raises(CodecAuthError):
        codec_router(codec, "")


def test_codec_server_command_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from testflow.commands import codec_server

    monkeypatch.delenv("TESTFLOW_CODEC_TOKEN", raising=False)
    app = typer.Typer()
    codec_server.register(app)
    app.command("noop")(lambda: None)  # two commands: typer keeps the subcommand name
    result = CliRunner().invoke(app, ["codec-server", "--port", "0"])
    assert result.exit_code == 2 and "needs a token" in result.output


@pytest.mark.workflow
async def test_raw_history_holds_no_secret_in_clear(
    temporal_client: Client, settings: Settings, task_queue: str
) -> None:
    secret = "tok-" + base64.b32encode(os.urandom(10)).decode()
    flow = {
        "context": {"token": "{{ secret('PARTNER_TOKEN') }}"},
        "steps": [
            {
                "id": "use",
                "type": "transform",
                "set": {"header": "Bearer {{ token }}", "copy": "{{ token }}"},
            },
            {"id": "log", "type": "log", "message": "calling with {{ token }}"},
        ],
    }
    result, _ = await run_flow(
        temporal_client, settings, task_queue, flow, environ={"PARTNER_TOKEN": secret}
    )
    assert result.status == "passed"
    request = GetWorkflowExecutionHistoryRequest(namespace=temporal_client.namespace)
    request.execution.workflow_id = result.run_id
    raw = await temporal_client.workflow_service.get_workflow_execution_history(request)
    blob = raw.history.SerializeToString()
    assert len(raw.history.events) > 3
    assert secret.encode() not in blob
    assert base64.b64encode(secret.encode())[:12] not in blob
    # ...while the history does carry it, encrypted: the codec server gives it back.
    codec = EncryptionCodec(EncryptionKeys.load_or_create(settings.encryption_keys, settings.home))
    started = raw.history.events[0].workflow_execution_started_event_attributes.input.payloads
    decoded = await codec.decode(list(started))
    assert secret.encode() in decoded[0].data
