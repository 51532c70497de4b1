// Small pieces every screen uses: a loader hook with error and retry, status badges, notes.
import { type ReactNode, useCallback, useEffect, useRef, useState } from "react";
import { errorText } from "../api/typed";

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Load something from the API; `deps` changing loads again, stale answers are dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const ticket = useRef(0);
  // biome-ignore lint: deps are the caller's
  const run = useCallback(() => {
    const mine = ++ticket.current;
    setLoading(true);
    setError(undefined);
    load().then(
      (d) => {
        if (mine !== ticket.current) return;
        setData(d);
        setLoading(false);
      },
      (e: unknown) => {
        if (mine !== ticket.current) return;
        setError(errorText(e));
        setLoading(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(run, [run]);
  return { data, error, loading, reload: run };
}

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`status-badge st-${status}`} data-status={status}>
      {status === "running" ? "● " : ""}
      {status}
    </span>
  );
}

export function ErrorNote({ error, onRetry }: { error: string; onRetry?: () => void }) {
  return (
    <div className="error-note" role="alert">
      <span>{error}</span>
      {onRetry ? (
        <button type="button" className="btn" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** A value as indented JSON (strings as they are), in a scrollable block. */
export function JsonBlock({ value, label }: { value: unknown; label?: string }) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return (
    <pre className="json-block" aria-label={label}>
      {text ?? "null"}
    </pre>
  );
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card" aria-label={title}>
      <header className="card-header">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

export const when = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : "—");
