// What the Suites screen uses of the typed client.
export { call, errorText, http, type FlowSummary } from "../api/typed";

export interface StartedRunLike {
  run_id: string;
  label: string;
}
