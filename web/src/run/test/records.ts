// Builders of StepRecords and RunEvents shaped exactly like the API's (testflow/dsl/results.py).
import type { RunEvent, StepRecord } from "../../api/typed";

const T0 = Date.parse("2026-01-01T00:00:00Z");
export const at = (ms: number): string => new Date(T0 + ms).toISOString();

export function record(key: string, over: Partial<StepRecord> = {}): StepRecord {
  const stepId = key.split(".").pop()?.replace(/\[\d+\]$/, "") ?? key;
  return {
    key,
    step_id: stepId,
    kind: "http",
    phase: "steps",
    parent: key.includes(".") ? key.slice(0, key.lastIndexOf(".")) : null,
    iteration: null,
    status: "passed",
    started_at: at(0),
    finished_at: at(10),
    duration_ms: 10,
    attempts: 1,
    extracted: {},
    assertions: [],
    summary: "",
    logs: [],
    attempt_errors: [],
    context_changes: {},
    ...over,
  } as StepRecord;
}

let seq = 0;
export function event(type: RunEvent["type"], step?: StepRecord, extra: Partial<RunEvent> = {}): RunEvent {
  seq += 1;
  return { seq, type, at: at(seq), run_id: "run-x", flow: "f", step: step ?? null, status: null, ...extra } as RunEvent;
}
export const resetSeq = (): void => {
  seq = 0;
};
