// What the Suites screen uses of the typed client.
export { call, errorText, http, type FlowSummary } from "../api/typed";
export { ApiError } from "../api/client";

export interface StartedRunLike {
  run_id: string;
  label: string;
}
