// The waterfall of a run: one row per step record, placed on the run's time axis, with its
// retries (failed attempts) and whether it is a wait (a durable timer, a consume, a webhook).
import type { StepRecord } from "../api/typed";
import type { LiveStatus, RunView } from "./state";
import { recordStatus } from "./state";

export interface TimelineRow {
  key: string;
  label: string;
  kind: string;
  depth: number;
  status: LiveStatus;
  /** ms from the start of the run. */
  start: number;
  duration: number;
  attempts: number;
  retries: number;
  wait: boolean;
  summary: string;
}

export interface Timeline {
  rows: TimelineRow[];
  /** Length of the axis in ms (at least 1). */
  total: number;
}

const WAIT_KINDS = /^(delay|poll|webhook\.wait)$|\.(consume|subscribe|xread)$/;

/** Steps that mostly wait (timers, consumers, webhooks): drawn hatched, not as busy time. */
export const isWait = (kind: string): boolean => WAIT_KINDS.test(kind);

const ms = (iso: string | null | undefined): number | undefined => {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
};

function depthOf(record: StepRecord, byKey: Map<string, StepRecord>): number {
  let depth = 0;
  let parent = record.parent ?? null;
  const seen = new Set<string>();
  while (parent && !seen.has(parent) && depth < 50) {
    seen.add(parent);
    depth++;
    parent = byKey.get(parent)?.parent ?? null;
  }
  return depth;
}

/** Rows in the order steps started (their order in the stream for equal times). */
export function buildTimeline(view: RunView, now: number = Date.now()): Timeline {
  const records = [...view.steps.values()];
  const starts = records.map((r) => ms(r.started_at)).filter((t): t is number => t !== undefined);
  const origin = ms(view.startedAt) ?? (starts.length > 0 ? Math.min(...starts) : now);
  const end = view.status === "running" ? now : (ms(view.finishedAt) ?? now);
  let total = Math.max(1, end - origin);
  const rows: TimelineRow[] = records.map((r, order) => {
    const status = recordStatus(view, r.key) ?? r.status;
    const start = Math.max(0, (ms(r.started_at) ?? origin) - origin);
    const finished = ms(r.finished_at);
    const duration = status === "running" ? Math.max(0, now - origin - start) : finished !== undefined ? Math.max(0, finished - origin - start) : (r.duration_ms ?? 0);
    total = Math.max(total, start + duration);
    return {
      key: r.key,
      label: r.iteration !== null && r.iteration !== undefined ? `${r.step_id} [${r.iteration}]` : r.step_id,
      kind: r.kind,
      depth: depthOf(r, view.steps),
      status,
      start,
      duration,
      attempts: r.attempts ?? 0,
      retries: r.attempt_errors?.length ?? Math.max(0, (r.attempts ?? 1) - 1),
      wait: isWait(r.kind),
      summary: r.summary ?? "",
      order,
    };
  }).sort((a, b) => a.start - b.start || a.order - b.order).map(({ order: _o, ...row }) => row);
  return { rows, total };
}

const MIN_WIDTH = 0.3;

/** Left offset and width of a bar, in percent of the axis (a zero-length step stays visible). */
export function barGeometry(row: Pick<TimelineRow, "start" | "duration">, total: number): { left: number; width: number } {
  const width = Math.min(100, Math.max(MIN_WIDTH, (row.duration / total) * 100));
  const left = Math.min(100 - width, (row.start / total) * 100);
  return { left, width };
}

/** The rows a window of `height` px scrolled to `scrollTop` shows, plus `overscan` either side. */
export function visibleRange(scrollTop: number, height: number, rowHeight: number, count: number, overscan = 8): { first: number; last: number } {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((scrollTop + height) / rowHeight) + overscan);
  return { first, last: Math.max(first, last) };
}

export function formatMs(value: number): string {
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(value / 60_000);
  return `${m} min ${Math.round((value - m * 60_000) / 1000)} s`;
}
