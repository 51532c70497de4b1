// A run as the execution view sees it: its step records folded from the event stream (or the
// finished RunResult), and the live status of every graph node.
import type { RunEvent, RunResult, RunStatus, StepRecord } from "../api/typed";
import type { FlowNode } from "../flow/types";

export type LiveStatus = StepRecord["status"] | "running";

export interface RunView {
  runId: string;
  flow: string;
  status: RunStatus;
  /** Step records by key, in the order they first appeared. */
  steps: Map<string, StepRecord>;
  /** Keys started and not finished yet. */
  running: Set<string>;
  startedAt?: string;
  finishedAt?: string | null;
  lastSeq: number;
}

export function emptyView(runId: string): RunView {
  return { runId, flow: "", status: "running", steps: new Map(), running: new Set(), lastSeq: 0 };
}

/** Fold a batch of events in (one copy per batch, so 10,000 events do not cost 10,000 copies).
 * Events at or below `lastSeq` were seen already (a resumed stream repeats none, a replay might). */
export function applyEvents(view: RunView, events: RunEvent[]): RunView {
  const fresh = events.filter((e) => e.seq > view.lastSeq);
  if (fresh.length === 0) return view;
  const steps = new Map(view.steps);
  const running = new Set(view.running);
  let { status, flow, startedAt, finishedAt, lastSeq } = view;
  for (const e of fresh) {
    lastSeq = Math.max(lastSeq, e.seq);
    flow = e.flow || flow;
    if (e.type === "run_started") {
      startedAt = e.at;
      status = "running";
    } else if (e.type === "run_finished") {
      status = e.status ?? status;
      finishedAt = e.at;
      running.clear();
    } else if (e.step) {
      // step_started carries a placeholder status: the step is running until step_finished.
      if (e.type === "step_started") running.add(e.step.key);
      else running.delete(e.step.key);
      steps.set(e.step.key, e.step);
    }
  }
  return { ...view, steps, running, status, flow, startedAt, finishedAt, lastSeq };
}

export function viewFromResult(result: RunResult, lastSeq = 0): RunView {
  return {
    runId: result.run_id,
    flow: result.flow,
    status: result.status,
    steps: new Map(result.steps?.map((s) => [s.key, s]) ?? []),
    running: new Set(),
    startedAt: result.started_at,
    finishedAt: result.finished_at,
    lastSeq,
  };
}

export function recordStatus(view: RunView, key: string): LiveStatus | undefined {
  if (view.running.has(key)) return "running";
  return view.steps.get(key)?.status;
}

// What a node shows when several records map to it (loop iterations, a step retried by a
// poll): running wins, then the worst outcome.
const RANK: Record<LiveStatus, number> = { running: 6, error: 5, failed: 4, cancelled: 3, passed: 2, skipped: 1 };

export function combine(a: LiveStatus | undefined, b: LiveStatus): LiveStatus {
  return a === undefined || RANK[b] > RANK[a] ? b : a;
}

/** The live status of each graph node: a record belongs to the node of its step id (ids are
 * unique in a valid flow), else to the node whose doc path spells its key. */
export function nodeStatuses(view: RunView, nodes: FlowNode[]): Map<string, LiveStatus> {
  const byStepId = new Map<string, string>();
  for (const n of nodes) if (n.stepId && n.id === `step:${n.stepId}`) byStepId.set(n.stepId, n.id);
  const out = new Map<string, LiveStatus>();
  for (const [key, record] of view.steps) {
    const nodeId = byStepId.get(record.step_id);
    if (!nodeId) continue;
    const s = recordStatus(view, key);
    if (s) out.set(nodeId, combine(out.get(nodeId), s));
  }
  return out;
}

export const STATUS_LABEL: Record<LiveStatus | "pending", string> = {
  running: "running",
  passed: "passed",
  failed: "failed",
  error: "error",
  skipped: "skipped",
  cancelled: "cancelled",
  pending: "not started",
};
