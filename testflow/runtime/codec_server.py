"""The codec server: lets the Temporal web UI (and ``temporal`` CLI) show decrypted payloads.

Every payload testflow writes to Temporal is AES-GCM encrypted (:mod:`testflow.runtime.codec`),
so the Temporal UI shows ciphertext until it is pointed at a codec endpoint. This is
Temporal's remote codec protocol: ``POST /decode`` and ``POST /encode`` take and return
``{"payloads": [...]}`` in protobuf JSON form, the namespace in ``X-Namespace``.

Decoding hands out secrets in clear, so it is never anonymous: callers need
``Authorization: Bearer <token>`` (the UI sends it when "pass access token" is set, or a
reverse proxy adds it). CORS admits only the configured UI origins. The router is mounted by
``testflow codec-server`` and can be included by the API server.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from testflow.runtime.codec import EncryptionCodec, EncryptionKeys
from testflow.runtime.settings import Settings

MAX_BODY = 8 * 1024 * 1024  # a history page of payloads; Temporal's own gRPC limit is 4 MB


class CodecAuthError(ValueError):
    """The codec server was asked to run without a token (decoding would be anonymous)."""


def codec_router(codec: PayloadCodec, token: str, *, prefix: str = "") -> APIRouter:
    """``/encode`` and ``/decode`` guarded by a bearer token."""
    if not token:
        raise CodecAuthError(
            "the codec endpoint needs a bearer token (TESTFLOW_CODEC_TOKEN or --token)"
        )
    expected = f"Bearer {token}".encode()

    def authorised(request: Request) -> None:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(
                401,
                "a valid 'Authorization: Bearer <token>' header is required",
                {"WWW-Authenticate": "Bearer"},
            )

    router = APIRouter(prefix=prefix, tags=["codec"], dependencies=[Depends(authorised)])

    async def payloads_of(request: Request) -> Payloads:
        body = await request.body()
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"at most {MAX_BODY} bytes of payloads per call")
        message = Payloads()
        try:
            json_format.Parse(body or b"{}", message, ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            raise HTTPException(
                400, f'expected {{"payloads": [...]}} in protobuf JSON form: {exc}'
            ) from exc
        return message

    def answer(payloads: Sequence[object]) -> JSONResponse:
        out = Payloads(payloads=list(payloads))  # type: ignore[arg-type]
        return JSONResponse(json_format.MessageToDict(out))

    @router.post(
        "/encode", operation_id="codecEncode", summary="Encrypt payloads (Temporal codec protocol)"
    )
    async def encode(request: Request) -> JSONResponse:
        return answer(await codec.encode((await payloads_of(request)).payloads))

    @router.post(
        "/decode", operation_id="codecDecode", summary="Decrypt payloads (Temporal codec protocol)"
    )
    async def decode(request: Request) -> JSONResponse:
        payloads = (await payloads_of(request)).payloads
        try:
            decoded = await codec.decode(payloads)
        except ValueError as exc:  # unknown key id
            raise HTTPException(422, str(exc)) from exc
        except Exception as exc:  # cryptography's InvalidTag: wrong key or tampered payload
            raise HTTPException(422, f"cannot decrypt: {type(exc).__name__}") from exc
        return answer(decoded)

    return router


def codec_from_settings(settings: Settings) -> EncryptionCodec:
    return EncryptionCodec(EncryptionKeys.load_or_create(settings.encryption_keys, settings.home))


def create_codec_app(codec: PayloadCodec, token: str, origins: Sequence[str]) -> FastAPI:
    """A standalone codec server for the given UI origins."""
    app = FastAPI(title="testflow codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(codec_router(codec, token))
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_credentials=True,
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["authorization", "content-type", "x-namespace"],
    )
    return app
