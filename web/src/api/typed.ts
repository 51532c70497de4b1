// The typed API client: openapi-fetch over the types openapi-typescript generated from the
// API's /openapi.json (src/api/schema.ts, `npm run gen:api`). Every call goes through `call`,
// which turns an error answer into an ApiError carrying the server's message and diagnostics.
import createClient, { type Middleware } from "openapi-fetch";
import type { Diagnostic } from "../flow/types";
import { ApiError } from "./client";
import type { components, paths } from "./schema";
import { token } from "./token";

export type Schemas = components["schemas"];
export type RunResult = Schemas["RunResult"];
export type StepRecord = Schemas["StepRecord"];
export type RunSummary = Schemas["RunSummary"];
export type RunSource = Schemas["RunSource"];
export type RunStarted = Schemas["RunStarted"];
export type FlowSummary = Schemas["FlowSummary"];
export type SuiteOut = Schemas["SuiteOut"];
export type EnvironmentOut = Schemas["EnvironmentOut"];
export type AssertionOutcome = Schemas["AssertionOutcome"];
export type StepStatus = StepRecord["status"];
export type RunStatus = RunResult["status"];

/** One event of a run's SSE stream (testflow/dsl/results.py RunEvent; SSE has no OpenAPI body). */
export interface RunEvent {
  seq: number;
  type: "run_started" | "step_started" | "step_finished" | "run_finished";
  at: string;
  run_id: string;
  flow: string;
  step?: StepRecord | null;
  status?: RunStatus | null;
}

export { authHeaders, token } from "./token";

const auth: Middleware = {
  onRequest({ request }) {
    const t = token.get();
    if (t && !request.headers.has("Authorization")) request.headers.set("Authorization", `Bearer ${t}`);
    return request;
  },
};

export const http = createClient<paths>({ baseUrl: "" });
http.use(auth);

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Await an openapi-fetch call; its data, or an ApiError with the server's own words. */
export async function call<T>(pending: Promise<Answer<T>>, what: string): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await pending;
  } catch (err) {
    throw new ApiError(`the testflow API is not reachable (${err instanceof Error ? err.message : String(err)}); start it with \`testflow serve\``, 0);
  }
  const { data, error, response } = answer;
  if (response.ok) return data as T;
  const detail = (error as { detail?: unknown } | undefined)?.detail;
  if (detail && typeof detail === "object" && "message" in detail) {
    const d = detail as { message: string; errors?: Diagnostic[] };
    throw new ApiError(d.message, response.status, d.errors ?? []);
  }
  const text = typeof detail === "string" ? detail : `HTTP ${response.status}`;
  throw new ApiError(`${what} failed: ${text}`, response.status);
}

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
