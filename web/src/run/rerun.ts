// "Re-run from here": the top-level step a re-run of a finished run can start at, for a
// failed step (the API's rule, docs/api.md: the steps before it are reused, not run again).
import type { StepRecord } from "../api/typed";

/** `grp.inner` / `loop[2]` / `create@before.hook` -> the top-level step id. */
export const topStepOf = (key: string): string => key.split(/[.[@]/, 1)[0] ?? key;

/** The step id to re-run from when `record` failed in a run that is over, else undefined. */
export function rerunFrom(record: StepRecord | undefined, runOver: boolean): string | undefined {
  if (!record || !runOver) return undefined;
  if (record.phase !== "steps" && record.phase !== "hooks") return undefined;
  if (record.status !== "failed" && record.status !== "error") return undefined;
  return topStepOf(record.key);
}
