"""Inbound webhooks: the receiver behind ``POST /hooks/{token}/{name}``.

:mod:`receiver` is framework-independent (token check, signature, status sequence, signal);
:mod:`listener` is the small server ``testflow run`` starts; :mod:`router` is the FastAPI
router the API server includes. See docs/durable.md.
"""

from testflow.webhooks.receiver import InboundRequest, ReceiverReply, WebhookReceiver

__all__ = ["InboundRequest", "ReceiverReply", "WebhookReceiver"]
