"""FastAPI router of the webhook ingress: ``POST /hooks/{token}/{name}`` (any method).

The API server includes it (``app.include_router(webhook_router(provider))``) outside the API
token check: partners authenticate with the unguessable URL and, when configured, a signature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from temporalio.client import Client

from testflow.webhooks.receiver import InboundRequest, ReceiverReply, WebhookReceiver

ClientProvider = Callable[[Request], Client | Awaitable[Client]]
METHODS = ["POST", "PUT", "PATCH", "GET", "DELETE"]


async def to_inbound(request: Request) -> InboundRequest:
    return InboundRequest(
        method=request.method,
        path=request.url.path,
        headers=dict(request.headers),
        body=await request.body(),
        query=dict(request.query_params),
    )


def to_response(reply: ReceiverReply) -> Response:
    if isinstance(reply.body, str):
        return Response(
            reply.body, status_code=reply.status, headers=reply.headers, media_type="text/plain"
        )
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)


def webhook_router(client: Client | ClientProvider, *, prefix: str = "") -> APIRouter:
    """The ingress router; ``client`` is a Temporal client or ``request -> client``."""
    router = APIRouter(prefix=prefix, tags=["webhooks"])
    receivers: dict[int, WebhookReceiver] = {}

    async def receiver_for(request: Request) -> WebhookReceiver:
        if isinstance(client, Client):
            resolved = client
        else:
            got = client(request)
            resolved = got if isinstance(got, Client) else await got
        # One receiver per client keeps its config cache and per-hook ordering.
        receiver = receivers.get(id(resolved))
        if receiver is None:
            receiver = receivers[id(resolved)] = WebhookReceiver(resolved)
        return receiver

    @router.api_route(
        "/hooks/{token}/{name}",
        methods=METHODS,
        operation_id="receiveWebhook",
        summary="Inbound webhook delivery for a waiting run",
        responses={
            401: {"description": "bad signature"},
            404: {"description": "unknown token or hook"},
        },
    )
    async def receive(token: str, name: str, request: Request) -> Response:
        receiver = await receiver_for(request)
        return to_response(await receiver.handle(token, name, await to_inbound(request)))

    return router
