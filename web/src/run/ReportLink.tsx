// A report of a run: a plain link when no token is stored (the browser fetches it), else a
// button that fetches it with the token and saves the answer (a link cannot send a header).
import { useState } from "react";
import { downloadWithToken } from "../api/token";
import { useToken } from "../app/TokenDialog";

export function ReportLink({ url, label, fileName, newTab }: { url: string; label: string; fileName: string; newTab?: boolean }) {
  const current = useToken();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  if (!current) {
    return newTab ? (
      <a className="btn" href={url} target="_blank" rel="noreferrer">
        {label}
      </a>
    ) : (
      <a className="btn" href={url}>
        {label}
      </a>
    );
  }
  return (
    <button
      type="button"
      className="btn"
      disabled={busy}
      title={error ?? `Download ${fileName} (sent with the API token)`}
      aria-invalid={error ? true : undefined}
      onClick={() => {
        setBusy(true);
        setError(undefined);
        downloadWithToken(url, fileName)
          .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)))
          .finally(() => setBusy(false));
      }}
    >
      {label}
      {error ? " ⚠" : ""}
    </button>
  );
}
