// The API token kept in this browser (localStorage["testflow.token"]), for servers that
// require one. Every API call, the SSE stream and report downloads send it as a Bearer token.

export const TOKEN_KEY = "testflow.token";

const listeners = new Set<() => void>();

export const token = {
  get: (): string | null => {
    try {
      return localStorage.getItem(TOKEN_KEY) || null;
    } catch {
      return null;
    }
  },
  /** Keep `value` (trimmed); empty or null forgets the token. */
  set: (value: string | null): void => {
    const v = value?.trim() ?? "";
    try {
      if (v) localStorage.setItem(TOKEN_KEY, v);
      else localStorage.removeItem(TOKEN_KEY);
    } finally {
      for (const l of listeners) l();
    }
  },
  /** Called after every set(); returns the unsubscribe function. */
  subscribe: (listener: () => void): (() => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

export function authHeaders(): Record<string, string> {
  const t = token.get();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

/** "abcd…wxyz": enough of a token to recognise it, not enough to use it. */
export function maskToken(t: string): string {
  return t.length <= 10 ? "•".repeat(t.length) : `${t.slice(0, 4)}…${t.slice(-4)}`;
}

/** The file name a download answer names (Content-Disposition), else `fallback`. */
export function fileNameFrom(disposition: string | null, fallback: string): string {
  if (!disposition) return fallback;
  const star = /filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i.exec(disposition);
  if (star?.[1]) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ""));
    } catch {
      /* fall through to the plain filename */
    }
  }
  const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/i.exec(disposition);
  const name = (plain?.[2] ?? plain?.[1])?.trim();
  return name ? name : fallback;
}

/** Fetch `url` with the token and hand the answer to the browser as a file download. */
export async function downloadWithToken(url: string, fallbackName: string): Promise<void> {
  const res = await fetch(url, { headers: authHeaders() });
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { detail?: { message?: string } | string };
      message = typeof body.detail === "string" ? body.detail : (body.detail?.message ?? message);
    } catch {
      /* not JSON: keep the status */
    }
    throw new Error(`download of ${url} failed: ${message}`);
  }
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  try {
    const a = document.createElement("a");
    a.href = href;
    a.download = fileNameFrom(res.headers.get("Content-Disposition"), fallbackName);
    document.body.appendChild(a);
    a.click();
    a.remove();
  } finally {
    // Give the browser a moment to start the download before the URL goes.
    setTimeout(() => URL.revokeObjectURL(href), 10_000);
  }
}
