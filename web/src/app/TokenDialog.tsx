// "API token": where the user keeps the token a server that requires auth asks for
// (`testflow tokens create`). It lives in localStorage["testflow.token"]; the typed client,
// the SSE stream and report downloads send it. The stored token is never shown in full.
import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import { call, errorText, http } from "../api/typed";
import { maskToken, token } from "../api/token";

export const useToken = (): string | null => useSyncExternalStore(token.subscribe, token.get, () => null);

export function TokenButton() {
  const current = useToken();
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
        🔑 {current ? "Token set" : "Token"}
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
