// Signing in with the server's OpenID provider (GET /api/v1/auth/config): authorization code
// + PKCE in the browser, done by oidc-client-ts rather than by hand: state, nonce, PKCE,
// discovery, the code exchange and the ID token checks are each small, but getting every one
// right is the whole point, and a certified-provider-tested library already does. It is a
// separate chunk, loaded only on servers with a provider. The access token it gets is kept and sent
// exactly like an API token (token.ts: localStorage["testflow.token"]).
//
// Renewal is oidc-client-ts's own `automaticSilentRenew`: a minute before the access token
// expires (a third of its life before, for tokens of three minutes or less: renewalLead) it
// calls signinSilent, which uses the refresh token when the provider gave one
// (Keycloak always does, Entra with `offline_access`) and otherwise loads the provider in a
// hidden iframe with prompt=none that comes back to SILENT_PATH. Each new token replaces the
// stored one, so the next API request sends it. When renewal cannot go on (the provider says
// the session is over, or the token expired while the provider could not be reached), the
// token is forgotten and `session` says "expired" with the reason: the UI asks the user to sign
// in again instead of sending a dead token over and over.
import type { User, UserManager } from "oidc-client-ts";
import type { Schemas } from "./typed";
import { call, http } from "./typed";
import { token } from "./token";

export type AuthConfig = Schemas["AuthConfig"];
export type Identity = Schemas["Me"];

/** Where the provider sends the browser back (register it at the provider). */
export const CALLBACK_PATH = "/auth/callback";
/** Where the hidden renewal iframe comes back (register it too when no refresh token is given). */
export const SILENT_PATH = "/auth/silent";

export const fetchAuthConfig = (): Promise<AuthConfig> => call(http.GET("/api/v1/auth/config"), "reading the sign-in settings");

export const fetchIdentity = (): Promise<Identity> => call(http.GET("/api/v1/auth/me"), "checking who is signed in");

/** The client settings for `cfg` (pure: unit-tested). */
export function clientSettings(cfg: AuthConfig, origin: string) {
  if (!cfg.oidc || !cfg.issuer || !cfg.client_id) throw new Error("single sign-on is not configured on this server");
  return {
    authority: cfg.issuer,
    client_id: cfg.client_id,
    redirect_uri: origin + CALLBACK_PATH,
    silent_redirect_uri: origin + SILENT_PATH,
    post_logout_redirect_uri: origin + "/",
    response_type: "code",
    scope: cfg.scopes || "openid",
    // A confidential client's code (and refresh token) is exchanged by the API, which adds the secret.
    metadataSeed: cfg.token_endpoint ? { token_endpoint: new URL(cfg.token_endpoint, origin).href } : undefined,
    loadUserInfo: false,
    automaticSilentRenew: true,
    // A provider that is down never answers the iframe: after two timeouts the renewal is given
    // up (silentRenewError) instead of being retried every 5 s for ever.
    maxSilentRenewTimeoutRetries: 1,
  };
}

// ---- the session as the UI shows it ------------------------------------------------------

export type Session = { state: "none" } | { state: "active" } | { state: "expired"; reason: string };

let current: Session = { state: "none" };
const listeners = new Set<() => void>();

export const session = {
  get: (): Session => current,
  subscribe: (listener: () => void): (() => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

function setSession(next: Session): void {
  current = next;
  for (const l of listeners) l();
}

/** Words for the user about why a renewal failed (pure: unit-tested). */
export function renewalProblem(e: unknown): string {
  const err = e as { name?: string; error?: string | null; error_description?: string | null; message?: string };
  if (err?.name === "ErrorResponse" && err.error) {
    const why = err.error_description ? `: ${err.error_description}` : "";
    return `the provider ended the session (${err.error}${why})`;
  }
  if (err?.name === "ErrorTimeout") return "the provider did not answer in time";
  const text = err?.message ?? String(e);
  return `the provider could not be reached (${text})`;
}

/**
 * Seconds before expiry to renew a token with `left` seconds to live: a minute, but at most a
 * third of that time (rounded up), so a short token is renewed at about two thirds of its life
 * instead of every second (pure: unit-tested).
 */
export function renewalLead(left: number): number {
  return Math.min(60, Math.max(1, Math.ceil(left / 3)));
}

// ---- the one UserManager of this page ----------------------------------------------------

// The access token this page last put in token storage: a renewal replaces only that one, never
// an API token the user saved by hand since (nor a token they chose to forget).
let ours: string | undefined;
let shared: Promise<UserManager> | undefined;

function manager(cfg: AuthConfig): Promise<UserManager> {
  shared ??= create(cfg);
  return shared;
}

async function create(cfg: AuthConfig): Promise<UserManager> {
  const { UserManager, WebStorageStateStore } = await import("oidc-client-ts");

  class SharedRenewal extends UserManager {
    override signinSilent(...args: Parameters<UserManager["signinSilent"]>): Promise<User | null> {
      // A renewal timer that fired just before this page stopped signing in renews nothing.
      const renew = (): Promise<User | null> => (ours === undefined ? Promise.resolve(null) : super.signinSilent(...args));
      return oneRenewalAtATime(navigator.locks, ours, () => this.getUser(), (u) => this.events.load(u), renew);
    }
  }

  const mgr = new SharedRenewal({
    ...clientSettings(cfg, window.location.origin),
    // Beside the access token (localStorage), so any tab can sign out with the ID token hint.
    userStore: new WebStorageStateStore({ store: window.localStorage }),
  });
  leadFromEachToken(mgr);
  // The token saved or forgotten by hand (token dialog) in this tab: the provider's tokens go too.
  token.subscribe(() => void handedOver(mgr));
  mgr.events.addUserLoaded((user) => adopt(mgr, user));
  // The provider answered no (invalid_grant, login_required...): the session is over now. A
  // timeout or a network error may pass; the token is used until it expires (below).
  mgr.events.addSilentRenewError((e) => {
    if ((e as { name?: string }).name === "ErrorResponse") void end(mgr, renewalProblem(e));
  });
  mgr.events.addAccessTokenExpired(() => void lastTry(mgr));
  return mgr;
}

/**
 * oidc-client-ts renews `accessTokenExpiringNotificationTimeInSeconds` before expiry, one number
 * fixed when the UserManager is made, before any token's lifetime is known; below that lifetime
 * it renews one second after each renewal, for ever. So each time a token is loaded (signed in,
 * renewed, taken from another tab, read at page load) the lead is set from the time that token
 * has left, which for a new token is its lifetime. The events keep the lead in a private field
 * that they read on every load; oidc-client-ts is pinned (package.json), and a version without
 * that field fails here, at once, rather than renewing every second unseen.
 */
function leadFromEachToken(mgr: UserManager): void {
  const events = mgr.events as unknown as { _expiringNotificationTimeInSeconds?: number };
  if (typeof events._expiringNotificationTimeInSeconds !== "number") {
    throw new Error("this oidc-client-ts keeps the renewal lead elsewhere: update leadFromEachToken in sso.ts");
  }
  const load = mgr.events.load.bind(mgr.events);
  mgr.events.load = (container, raiseEvent) => {
    if (container.expires_in !== undefined) events._expiringNotificationTimeInSeconds = renewalLead(container.expires_in);
    return load(container, raiseEvent);
  };
}

interface Held {
  access_token: string;
  expired: boolean | undefined;
}

/**
 * Renew, one tab at a time. Tabs share the user store (the refresh token) and testflow.token;
 * providers that rotate refresh tokens revoke the whole grant when a used one comes back, so
 * two tabs renewing at once could end the session. Under a lock across tabs, a tab first looks
 * at the stored user: one that is not `seen` (the token this tab holds) and not expired was
 * renewed by another tab while this one waited, and is taken (`take`) instead of renewing.
 * Exported for the unit tests.
 */
export async function oneRenewalAtATime<U extends Held>(
  locks: Pick<LockManager, "request"> | undefined,
  seen: string | undefined,
  stored: () => Promise<U | null>,
  take: (user: U) => Promise<void>,
  renew: () => Promise<U | null>,
): Promise<U | null> {
  const once = async (): Promise<U | null> => {
    const user = await stored();
    if (user && seen !== undefined && user.access_token !== seen && !user.expired) {
      await take(user);
      return user;
    }
    return renew();
  };
  return locks ? locks.request("testflow.sso-renewal", once) : once();
}

function adopt(mgr: UserManager, user: User): void {
  const stored = token.get();
  if (ours !== undefined && stored !== ours && stored !== user.access_token) {
    // Replaced or forgotten by hand since: this page no longer signs in with the provider.
    void letGo(mgr);
    return;
  }
  ours = user.access_token;
  if (stored !== user.access_token) token.set(user.access_token);
  mgr.startSilentRenew();
  setSession({ state: "active" });
}

/**
 * After token.set in this tab: a stored token that is no longer `ours` nor the stored user's
 * access token was saved or forgotten by hand. (A renewal, here or taken from another tab, sets
 * the stored user's new token; other tabs' writes do not reach this tab's listeners.)
 */
async function handedOver(mgr: UserManager): Promise<void> {
  const was = ours;
  if (was === undefined || token.get() === was) return;
  const user = await mgr.getUser();
  if (ours !== was) return; // renewed, ended or signed out meanwhile: that path decided
  const held = token.get();
  if (held === ours || (held !== null && held === user?.access_token)) return;
  await letGo(mgr);
}

/** This page no longer signs in with the provider: no renewals, and its tokens leave storage. */
async function letGo(mgr: UserManager): Promise<void> {
  mgr.stopSilentRenew();
  ours = undefined;
  // The refresh and ID tokens would otherwise stay in localStorage (oidc.user:*) for ever.
  await mgr.removeUser().catch(() => undefined);
}

/** The token expired without a renewal (provider down, tab asleep): one more try, else end. */
async function lastTry(mgr: UserManager): Promise<void> {
  if (ours === undefined) return;
  // Another tab may have renewed (then signinSilent takes its token); a token saved by hand is
  // neither ours nor the stored user's, and is left alone.
  const held = token.get();
  if (held !== ours && held !== (await mgr.getUser())?.access_token) return;
  try {
    await mgr.signinSilent();
  } catch (e) {
    await end(mgr, renewalProblem(e));
  }
}

async function end(mgr: UserManager, reason: string): Promise<void> {
  if (ours === undefined) return;
  mgr.stopSilentRenew();
  if (token.get() === ours) token.set(null);
  ours = undefined;
  await mgr.removeUser().catch(() => undefined);
  setSession({ state: "expired", reason });
}

/** On every page of the app (not the silent iframe): keep a single sign-on token fresh. */
export async function keepSignedIn(cfg: AuthConfig): Promise<void> {
  const mgr = await manager(cfg);
  const user = await mgr.getUser();
  if (ours !== undefined) return; // a sign-in on this page got there first
  if (!user || user.access_token !== token.get()) {
    // No provider token in use here (an API token, or nobody). A stored user is left: another
    // tab may be between storing its renewed user and its token; a token replaced by hand was
    // removed with it then (handedOver).
    mgr.stopSilentRenew();
    return;
  }
  ours = user.access_token;
  setSession({ state: "active" });
  // Back after the token died (a closed laptop, a tab opened the next day): renew now.
  if (user.expired) await lastTry(mgr);
}

// ---- sign-in and sign-out ----------------------------------------------------------------

/** Leave for the provider's login page; it comes back to CALLBACK_PATH. */
export async function signIn(cfg: AuthConfig, returnTo: string): Promise<void> {
  await (await manager(cfg)).signinRedirect({ state: { returnTo } });
}

/** On CALLBACK_PATH: exchange the code, keep the access token; returns where to go next. */
export async function completeSignIn(): Promise<string> {
  const cfg = await fetchAuthConfig();
  const mgr = await manager(cfg);
  ours = undefined; // whatever was stored before, this sign-in replaces it
  const user = await mgr.signinRedirectCallback();
  adopt(mgr, user);
  return returnPath((user.state as { returnTo?: unknown } | undefined)?.returnTo);
}

/** On SILENT_PATH, inside the renewal iframe: hand the provider's answer to the page. */
export async function completeSilentSignIn(): Promise<void> {
  const cfg = await fetchAuthConfig();
  const { UserManager } = await import("oidc-client-ts");
  // Not the shared manager: this frame must not start renewals of its own.
  await new UserManager({ ...clientSettings(cfg, window.location.origin), automaticSilentRenew: false }).signinSilentCallback();
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
  mgr.stopSilentRenew();
  ours = undefined;
  token.set(null);
  await mgr.removeUser();
  setSession({ state: "none" });
  const meta = await mgr.metadataService.getMetadata().catch(() => undefined);
  if (meta?.end_session_endpoint) await mgr.signoutRedirect({ id_token_hint: user?.id_token });
}
