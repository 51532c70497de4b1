"""Sign-in: what the UI needs to start an OpenID Connect login (public), who the caller is,
and, for a confidential client, the code exchange done by the API (the secret stays here)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from testflow.api.deps import AppState, Principal, app_state, require
from testflow.api.errors import Invalid, NotFound, Unavailable, field_problem

router = APIRouter(prefix="/auth", tags=["auth"])
TOKEN_PROXY = "/api/v1/auth/token"


class AuthConfig(BaseModel):
    """Public: never holds a secret."""

    oidc: bool = Field(description="Whether signing in with the OpenID provider is on.")
    issuer: str | None = None
    client_id: str | None = None
    scopes: str | None = None
    token_endpoint: str | None = Field(
        None,
        description="Where the UI exchanges the code: this API for a confidential client, "
        "else null (the provider's own endpoint, from its discovery document).",
    )


class Me(BaseModel):
    name: str
    role: Literal["viewer", "runner", "admin"]
    via: Literal["token", "oidc", "local"] = Field(
        description="token: an API token; oidc: signed in with the provider; local: auth is off."
    )


@router.get("/config", operation_id="getAuthConfig", response_model=AuthConfig)
async def auth_config(state: AppState = Depends(app_state)) -> AuthConfig:
    s = state.settings
    if state.oidc is None:
        return AuthConfig(oidc=False)
    return AuthConfig(
        oidc=True,
        issuer=state.oidc.issuer,
        client_id=s.oidc_client_id,
        scopes=s.oidc_scopes,
        token_endpoint=TOKEN_PROXY if s.oidc_client_secret is not None else None,
    )


@router.get("/me", operation_id="whoAmI", response_model=Me)
async def who_am_i(who: Principal = Depends(require("viewer"))) -> Me:
    return Me.model_validate({"name": who.name, "role": who.role, "via": who.via})


@router.post("/token", operation_id="exchangeCode", include_in_schema=False)
async def exchange_code(request: Request, state: AppState = Depends(app_state)) -> Any:
    """The provider's token endpoint, with this server's client credentials added: a browser
    cannot keep a client secret, so a confidential client's UI sends its code (and PKCE
    verifier) or refresh token here. Only those two grants pass; the answer is the provider's."""
    import httpx  # only for a confidential client: the API loads no HTTP client otherwise

    secret = state.settings.oidc_client_secret
    if state.oidc is None or secret is None:
        raise NotFound("the code exchange is only for a confidential OIDC client (no secret set)")
    form = dict((await request.form()).items())
    grant = form.get("grant_type")
    if grant not in ("authorization_code", "refresh_token"):
        raise Invalid(
            f"grant_type {grant!r} is not passed on",
            [field_problem("grant_type", "use authorization_code or refresh_token")],
        )
    fields = {k: str(v) for k, v in form.items() if k not in ("client_id", "client_secret")}
    endpoint = (await state.oidc.metadata()).get("token_endpoint")
    if not isinstance(endpoint, str):
        raise Unavailable("the OpenID provider's discovery document has no token_endpoint")
    client_id = state.settings.oidc_client_id or ""
    try:
        async with httpx.AsyncClient(timeout=15) as client:
            answer = await client.post(
                endpoint, data=fields, auth=(client_id, secret.get_secret_value())
            )
    except httpx.HTTPError as exc:
        raise Unavailable(f"the OpenID provider's token endpoint is not reachable: {exc}") from exc
    try:
        body = answer.json()
    except ValueError as exc:
        raise Unavailable(f"the token endpoint answered {answer.status_code}, not JSON") from exc
    return JSONResponse(body, status_code=answer.status_code, headers={"Cache-Control": "no-store"})
