#!/usr/bin/env python3
"""An auth plugin: produces an Authorization header from a client id and secret.

A real SSO plugin would call its identity provider here; this one signs the token itself
(HMAC-SHA256) so that a partner mock can verify it without a network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from testflow.plugins.sdk import Context, Plugin, PluginError

plugin = Plugin(id="demo-sso", name="Demo SSO", version="1.0.0")


def sign(client_id: str, secret: str, ttl: int) -> str:
    claims = {"sub": client_id, "exp": int(time.time()) + ttl}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    sig = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{sig}"


@plugin.auth
def authenticate(config: dict[str, Any], ctx: Context) -> dict[str, Any]:
    client_id = config.get("client_id")
    secret = config.get("client_secret")
    if not client_id or not secret:
        raise PluginError("MISSING_CREDENTIALS", "config needs client_id and client_secret")
    ttl = int(config.get("ttl", 300))
    ctx.log(f"signed a token for {client_id}")
    return {
        "headers": {
            "Authorization": f"Bearer {sign(client_id, secret, ttl)}",
            "X-Client-Id": client_id,
        },
        "expires_in": ttl,
    }


if __name__ == "__main__":
    plugin.serve()
