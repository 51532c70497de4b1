// Keeps a single sign-on token fresh on every screen (api/sso.ts: oidc-client-ts renews it
// before it expires) and, when renewal is over (the provider ended the session, or it could
// not be reached until the token expired), says so at the top of the screen with a button to
// sign in again: the user is never left with screens that fail on a dead token.
import { useEffect, useState, useSyncExternalStore } from "react";
import { useLocation } from "react-router";
import { keepSignedIn, session, signIn } from "../api/sso";
import { errorText } from "../api/typed";
import { useAuthConfig } from "./TokenDialog";

export function SsoSession() {
  const cfg = useAuthConfig();
  const state = useSyncExternalStore(session.subscribe, session.get);
  const location = useLocation();
  const [problem, setProblem] = useState<string>();
  useEffect(() => {
    if (cfg?.oidc) void keepSignedIn(cfg).catch((e: unknown) => console.error("single sign-on renewal", errorText(e)));
  }, [cfg]);
  if (!cfg?.oidc || state.state !== "expired") return null;
  return (
    <div className="error-note session-expired" role="alert" aria-label="Session expired">
      <span>
        <strong>Your session has expired: sign in again.</strong> The sign-in could not be renewed: {state.reason}.
      </span>
      <button type="button" className="btn primary" onClick={() => void signIn(cfg, location.pathname + location.search).catch((e: unknown) => setProblem(errorText(e)))}>
        Sign in again
      </button>
      {problem ? <span>single sign-on failed: {problem}</span> : null}
    </div>
  );
}
