// The HTTP API client (docs/api-contract.md). All routes are under /api/v1 on the same
// origin as the UI (`testflow serve` serves both; `npm run dev` proxies /api).

import type { Diagnostic } from "../flow/types";
import { authHeaders } from "./token";

export const API_BASE = "/api/v1";

/** JSON Schema as the API sends it; the forms read it, nothing here interprets it. */
export type JsonSchema = Record<string, unknown>;

export interface StepKindInfo {
  name: string;
  description: string;
  category: string;
  icon: string;
  mode: string;
  schema: JsonSchema;
  example: Record<string, unknown> | null;
  source: string;
  result_fields: string[];
}

export interface StoredFlow {
  id: string;
  name: string;
  folder?: string | null;
  tags: string[];
  version: number;
  text: string;
  layout?: unknown;
  updated_at?: string;
}

export interface ValidateResult {
  valid: boolean;
  diagnostics: Diagnostic[];
}

/** An API failure with a message meant for the user. `status` 0 means it was not reachable. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    message: string,
    readonly status: number,
    readonly diagnostics: Diagnostic[] = [],
  ) {
    super(message);
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${API_BASE}${path}`, {
      method,
      headers: { ...authHeaders(), ...(body === undefined ? { Accept: "application/json" } : { "Content-Type": "application/json", Accept: "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(`the testflow API is not reachable at ${API_BASE} (${err instanceof Error ? err.message : String(err)}); start it with \`testflow serve\``, 0);
  }
  const text = await res.text();
  let data: unknown = undefined;
  if (text !== "") {
    try {
      data = JSON.parse(text);
    } catch {
      if (!res.ok) throw new ApiError(`${method} ${API_BASE}${path} failed: HTTP ${res.status}`, res.status);
      throw new ApiError(`${method} ${API_BASE}${path} did not answer JSON (is this the testflow API?)`, res.status);
    }
  }
  if (!res.ok) {
    const detail = (data as { detail?: unknown } | undefined)?.detail;
    if (detail && typeof detail === "object" && "message" in detail) {
      const d = detail as { message: string; errors?: Diagnostic[] };
      throw new ApiError(d.message, res.status, d.errors ?? []);
    }
    throw new ApiError(typeof detail === "string" ? detail : `${method} ${API_BASE}${path} failed: HTTP ${res.status}`, res.status);
  }
  return data as T;
}

export const api = {
  stepKinds: () => request<StepKindInfo[]>("GET", "/step-kinds"),
  flowSchema: () => request<JsonSchema>("GET", "/schema/flow"),
  validate: (text: string, filename?: string) => request<ValidateResult>("POST", "/flows/validate", { text, filename }),
  getFlow: (id: string) => request<StoredFlow>("GET", `/flows/${encodeURIComponent(id)}`),
  createFlow: (text: string, layout?: unknown) => request<StoredFlow>("POST", "/flows", { text, layout }),
  updateFlow: (id: string, text: string, layout?: unknown) => request<StoredFlow>("PUT", `/flows/${encodeURIComponent(id)}`, { text, layout }),
};
