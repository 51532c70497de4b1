// Signing in with the server's OpenID provider (GET /api/v1/auth/config): authorization code
// + PKCE in the browser, done by oidc-client-ts rather than by hand: state, nonce, PKCE,
// discovery, the code exchange and the ID token checks are each small, but getting every one
// right is the whole point, and a certified-provider-tested library already does. It is loaded
// only when someone signs in (a separate chunk). The access token it gets is kept and sent
// exactly like an API token (token.ts: localStorage["testflow.token"]).
import type { UserManager } from "oidc-client-ts";
import type { Schemas } from "./typed";
import { call, http } from "./typed";
import { token } from "./token";

export type AuthConfig = Schemas["AuthConfig"];
export type Identity = Schemas["Me"];

/** Where the provider sends the browser back (register it at the provider). */
export const CALLBACK_PATH = "/auth/callback";

export const fetchAuthConfig = (): Promise<AuthConfig> => call(http.GET("/api/v1/auth/config"), "reading the sign-in settings");

export const fetchIdentity = (): Promise<Identity> => call(http.GET("/api/v1/auth/me"), "checking who is signed in");

/** The client settings for `cfg` (pure: unit-tested). */
export function clientSettings(cfg: AuthConfig, origin: string) {
  if (!cfg.oidc || !cfg.issuer || !cfg.client_id) throw new Error("single sign-on is not configured on this server");
  return {
    authority: cfg.issuer,
    client_id: cfg.client_id,
    redirect_uri: origin + CALLBACK_PATH,
    post_logout_redirect_uri: origin + "/",
    response_type: "code",
    scope: cfg.scopes || "openid",
    // A confidential client's code is exchanged by the API, which adds the secret.
    metadataSeed: cfg.token_endpoint ? { token_endpoint: new URL(cfg.token_endpoint, origin).href } : undefined,
    loadUserInfo: false,
    automaticSilentRenew: false,
  };
}

async function manager(cfg: AuthConfig): Promise<UserManager> {
  const { UserManager, WebStorageStateStore } = await import("oidc-client-ts");
  return new UserManager({
    ...clientSettings(cfg, window.location.origin),
    // Beside the access token (localStorage), so any tab can sign out with the ID token hint.
    userStore: new WebStorageStateStore({ store: window.localStorage }),
  });
}

/** Leave for the provider's login page; it comes back to CALLBACK_PATH. */
export async function signIn(cfg: AuthConfig, returnTo: string): Promise<void> {
  await (await manager(cfg)).signinRedirect({ state: { returnTo } });
}

/** On CALLBACK_PATH: exchange the code, keep the access token; returns where to go next. */
export async function completeSignIn(): Promise<string> {
  const cfg = await fetchAuthConfig();
  const user = await (await manager(cfg)).signinRedirectCallback();
  token.set(user.access_token);
  return returnPath((user.state as { returnTo?: unknown } | undefined)?.returnTo);
}

/** Where to land after signing in: a path of this app only (never an open redirect). */
export function returnPath(back: unknown): string {
  const ok = typeof back === "string" && back.startsWith("/") && !back.startsWith("//") && !back.startsWith("/\\");
  return ok && !back.startsWith(CALLBACK_PATH) ? back : "/runs";
}

/** Forget the token here, then end the session at the provider when it offers that. */
export async function signOut(cfg: AuthConfig): Promise<void> {
  const mgr = await manager(cfg);
  const user = await mgr.getUser();
  token.set(null);
  await mgr.removeUser();
  const meta = await mgr.metadataService.getMetadata().catch(() => undefined);
  if (meta?.end_session_endpoint) await mgr.signoutRedirect({ id_token_hint: user?.id_token });
}
