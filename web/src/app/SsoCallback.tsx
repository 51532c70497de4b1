// /auth/callback: where the OpenID provider sends the browser back after signing in. The code
// is exchanged once (React's StrictMode runs effects twice in development; the provider's
// code works only once), then the user goes back to where they clicked "Sign in with SSO".
// /auth/silent: the same for a silent renewal, inside a hidden iframe (api/sso.ts): the
// provider's answer goes to the page that opened the frame, which exchanges the code.
import { useEffect, useState } from "react";
import { Link, useNavigate } from "react-router";
import { completeSignIn, completeSilentSignIn } from "../api/sso";
import { errorText } from "../api/typed";

let pending: Promise<string> | undefined;
let silent: Promise<void> | undefined;

export function SsoCallback() {
  const navigate = useNavigate();
  const [problem, setProblem] = useState<string>();
  useEffect(() => {
    pending ??= completeSignIn();
    pending.then(
      (to) => navigate(to, { replace: true }),
      (e: unknown) => setProblem(errorText(e)),
    );
  }, [navigate]);
  return (
    <section className="screen" aria-label="Signing in">
      {problem ? (
        <>
          <h1>Sign-in failed</h1>
          <p className="error-text" role="alert">
            {problem}
          </p>
          <p>
            <Link to="/runs">Back to testflow</Link>: open the 🔑 menu to sign in again or use an API token.
          </p>
        </>
      ) : (
        <p className="muted">Signing in…</p>
      )}
    </section>
  );
}

/** Mounted outside the app's frame: nothing to show, nothing else to load in the iframe. */
export function SsoSilentCallback() {
  useEffect(() => {
    // A failure here has no one to show it to: the opening page times out and says so.
    silent ??= completeSilentSignIn().catch((e: unknown) => console.error("silent sign-in", e));
  }, []);
  return null;
}
