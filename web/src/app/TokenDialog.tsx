// "API token": where the user keeps the token a server that requires auth asks for
// (`testflow tokens create`), or, when the server has an OpenID provider, signs in with it
// ("Sign in with SSO": the provider's access token is then kept the same way). It lives in
// localStorage["testflow.token"]; the typed client, the SSE stream and report downloads send
// it. The stored token is never shown in full; who it belongs to comes from GET /auth/me.
import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import { useLocation } from "react-router";
import { type AuthConfig, fetchAuthConfig, fetchIdentity, type Identity, signIn, signOut } from "../api/sso";
import { call, errorText, http } from "../api/typed";
import { maskToken, token } from "../api/token";

export const useToken = (): string | null => useSyncExternalStore(token.subscribe, token.get, () => null);

let authConfig: Promise<AuthConfig> | undefined;

/** The server's sign-in settings (asked once per page load); undefined until known. */
export function useAuthConfig(): AuthConfig | undefined {
  const [cfg, setCfg] = useState<AuthConfig>();
  useEffect(() => {
    let live = true;
    authConfig ??= fetchAuthConfig().catch(() => ({ oidc: false }) as AuthConfig);
    void authConfig.then((c) => live && setCfg(c));
    return () => {
      live = false;
    };
  }, []);
  return cfg;
}

/** Who the stored token belongs to (asked again whenever it changes); null: nobody/refused. */
export function useIdentity(current: string | null): { identity: Identity | null; problem?: string } {
  const [state, setState] = useState<{ identity: Identity | null; problem?: string }>({ identity: null });
  useEffect(() => {
    let live = true;
    fetchIdentity().then(
      (identity) => live && setState({ identity }),
      (e: unknown) => live && setState({ identity: null, problem: current ? errorText(e) : undefined }),
    );
    return () => {
      live = false;
    };
  }, [current]);
  return state;
}

export function TokenButton() {
  const current = useToken();
  const cfg = useAuthConfig();
  const { identity, problem } = useIdentity(current);
  const location = useLocation();
  const sso = identity?.via === "oidc" ? identity : null;
  const dialog = useRef<HTMLDialogElement>(null);
  const [draft, setDraft] = useState("");
  const [status, setStatus] = useState<{ ok: boolean; text: string }>();
  const [open, setOpen] = useState(false);

  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);

  const check = async () => {
    setStatus(undefined);
    try {
      await call(http.GET("/api/v1/environments"), "checking the token");
      setStatus({ ok: true, text: token.get() ? "The server accepts this token." : "The server answered without a token (auth is off)." });
    } catch (e) {
      setStatus({ ok: false, text: errorText(e) });
    }
  };

  return (
    <>
      <button type="button" className="btn ghost" onClick={() => { setDraft(""); setStatus(undefined); setOpen(true); }} aria-label="API token" title="API token">
        {sso ? `👤 ${sso.name}` : cfg?.oidc && (!current || problem) ? "🔑 Sign in" : current ? "🔑 Token set" : "🔑 Token"}
      </button>
      <dialog ref={dialog} className="token-dialog" aria-label="API token" onClose={() => setOpen(false)}>
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            if (draft.trim()) token.set(draft);
            setDraft("");
            void check();
          }}
        >
          {cfg?.oidc ? (
            <section className="sso" aria-label="Single sign-on">
              <h2>Sign in</h2>
              {sso ? (
                <p data-testid="signed-in">
                  Signed in as <strong>{sso.name}</strong> ({sso.role}) with single sign-on.
                </p>
              ) : (
                <p className="muted small">
                  With your account at <code>{cfg.issuer}</code>
                  {problem && current ? <> (the stored token was refused: {problem})</> : null}.
                </p>
              )}
              <div className="toolbar">
                {sso ? (
                  <button type="button" className="btn" onClick={() => void signOut(cfg).catch((e: unknown) => setStatus({ ok: false, text: errorText(e) }))}>
                    Sign out
                  </button>
                ) : (
                  <button
                    type="button"
                    className="btn primary"
                    onClick={() => void signIn(cfg, location.pathname + location.search).catch((e: unknown) => setStatus({ ok: false, text: `single sign-on failed: ${errorText(e)}` }))}
                  >
                    Sign in with SSO
                  </button>
                )}
              </div>
            </section>
          ) : null}
          <h2>API token</h2>
          <p className="muted small">
            Needed when the server requires auth (<code>testflow tokens create --role runner</code>). Kept in this browser only
            (localStorage) and sent as <code>Authorization: Bearer</code> with every API call, run event stream and report
            download.
          </p>
          <p data-testid="token-state">{current ? <>Stored: <code>{maskToken(current)}</code></> : "No token stored."}</p>
          <label>
            {current ? "Replace with" : "Token"}
            <input className="input" type="password" autoComplete="off" name="token" value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="tf_…" />
          </label>
          {status ? <p className={status.ok ? "ok-text" : "error-text"} role="status">{status.text}</p> : null}
          <div className="toolbar">
            <button type="submit" className="btn primary" disabled={!draft.trim()}>
              Save
            </button>
            <button type="button" className="btn" onClick={() => void check()}>
              Check
            </button>
            <button type="button" className="btn danger" disabled={!current} onClick={() => { token.set(null); setStatus(undefined); }}>
              Forget token
            </button>
            <button type="button" className="btn" onClick={() => setOpen(false)}>
              Close
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
