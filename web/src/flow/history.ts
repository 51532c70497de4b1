// Undo/redo over snapshots of the flow text.
//
// The text is the single source of truth (canvas edits become text edits), so a history of
// texts covers canvas, form and editor changes alike. Bursts of typing are coalesced: a push
// with the same `group` within `coalesceMs` of the previous one replaces it.

export interface HistoryState<T> {
  past: T[];
  present: T;
  future: T[];
  /** Group and time of the last push, for coalescing. */
  lastGroup?: string;
  lastAt?: number;
}

export const HISTORY_LIMIT = 200;

export function createHistory<T>(present: T): HistoryState<T> {
  return { past: [], present, future: [] };
}

export function push<T>(
  h: HistoryState<T>,
  value: T,
  opts: { group?: string; now?: number; coalesceMs?: number } = {},
): HistoryState<T> {
  if (Object.is(value, h.present)) return h;
  const now = opts.now ?? Date.now();
  const coalesce =
    opts.group !== undefined &&
    opts.group === h.lastGroup &&
    h.lastAt !== undefined &&
    now - h.lastAt <= (opts.coalesceMs ?? 1000) &&
    h.past.length > 0;
  const past = coalesce ? h.past : [...h.past, h.present].slice(-HISTORY_LIMIT);
  return { past, present: value, future: [], lastGroup: opts.group, lastAt: now };
}

export function undo<T>(h: HistoryState<T>): HistoryState<T> {
  const prev = h.past[h.past.length - 1];
  if (prev === undefined) return h;
  return { past: h.past.slice(0, -1), present: prev, future: [h.present, ...h.future] };
}

export function redo<T>(h: HistoryState<T>): HistoryState<T> {
  const [next, ...rest] = h.future;
  if (next === undefined) return h;
  return { past: [...h.past, h.present], present: next, future: rest };
}

export const canUndo = <T>(h: HistoryState<T>): boolean => h.past.length > 0;
export const canRedo = <T>(h: HistoryState<T>): boolean => h.future.length > 0;
