// The Context Debugger's model: the run's variables after every step, what each step changed,
// and where each variable of the final context came from.
import type { StepRecord } from "../api/typed";

export type Origin =
  | { type: "step"; key: string; stepId: string }
  | { type: "variables" }
  | { type: "flow" }
  | { type: "run" }
  | { type: "environment" };

export interface ContextStep {
  key: string;
  stepId: string;
  status: StepRecord["status"];
  /** What the step set (StepRecord.context_changes, masked by the workflow). */
  changes: Record<string, unknown>;
  added: string[];
  modified: string[];
  /** The context after this step (the known part: see `initialContext`). */
  after: Record<string, unknown>;
}

export interface VariableInfo {
  name: string;
  value: unknown;
  origin: Origin;
  /** Every step that set it, in order, with the value it set. */
  history: { key: string; stepId: string; value: unknown }[];
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Where an initial variable comes from, knowing the run's --vars and the flow's `context:`. */
export function initialOrigin(name: string, runVariables: Record<string, unknown>, flowContextKeys: Set<string>): Origin {
  if (name === "run") return { type: "run" };
  if (name in runVariables) return { type: "variables" };
  if (flowContextKeys.has(name)) return { type: "flow" };
  return { type: "environment" };
}

/** The context before the first step: the final context minus what steps set, plus the run's
 * variables. A variable a step overwrote had an initial value this view cannot know. */
export function initialContext(finalContext: Record<string, unknown>, steps: StepRecord[], runVariables: Record<string, unknown>): Record<string, unknown> {
  const setBySteps = new Set(steps.flatMap((s) => Object.keys(s.context_changes ?? {})));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(finalContext)) if (!setBySteps.has(k)) out[k] = v;
  for (const [k, v] of Object.entries(runVariables)) if (!(k in out)) out[k] = v;
  return out;
}

/** The context after every step, in the order the steps finished. */
export function contextTimeline(initial: Record<string, unknown>, steps: StepRecord[]): ContextStep[] {
  let current: Record<string, unknown> = { ...initial };
  return steps.map((s) => {
    const changes = s.context_changes ?? {};
    const added: string[] = [];
    const modified: string[] = [];
    for (const [k, v] of Object.entries(changes)) {
      if (!(k in current)) added.push(k);
      else if (!same(current[k], v)) modified.push(k);
    }
    current = { ...current, ...changes };
    return { key: s.key, stepId: s.step_id, status: s.status, changes, added, modified, after: current };
  });
}

/** Every variable of the context with its origin: the last step that set it, else the run's
 * variables, the flow's `context:`, the built-in `run`, or the environment. */
export function variableOrigins(
  finalContext: Record<string, unknown>,
  steps: StepRecord[],
  runVariables: Record<string, unknown>,
  flowContextKeys: Set<string>,
): VariableInfo[] {
  const history = new Map<string, VariableInfo["history"]>();
  for (const s of steps) {
    for (const [k, v] of Object.entries(s.context_changes ?? {})) {
      history.set(k, [...(history.get(k) ?? []), { key: s.key, stepId: s.step_id, value: v }]);
    }
  }
  const names = new Set([...Object.keys(finalContext), ...history.keys()]);
  return [...names].sort().map((name) => {
    const h = history.get(name) ?? [];
    const last = h[h.length - 1];
    return {
      name,
      value: name in finalContext ? finalContext[name] : last?.value,
      origin: last ? { type: "step", key: last.key, stepId: last.stepId } : initialOrigin(name, runVariables, flowContextKeys),
      history: h,
    };
  });
}

export function originLabel(o: Origin): string {
  switch (o.type) {
    case "step":
      return `step ${o.stepId}`;
    case "variables":
      return "run variables";
    case "flow":
      return "flow context";
    case "run":
      return "built-in (run)";
    case "environment":
      return "environment";
  }
}
