// Numbers behind the dashboard's charts, from GET /stats/dashboard and the run list.
export interface DayCounts {
  day: string;
  passed?: number;
  failed?: number;
  error?: number;
  cancelled?: number;
  [status: string]: number | string | undefined;
}

export const OUTCOMES = ["passed", "failed", "error", "cancelled"] as const;

export const dayTotal = (d: DayCounts): number => OUTCOMES.reduce((n, s) => n + (Number(d[s]) || 0), 0);

/** Pass rate per day (null on a day without finished runs). */
export function passRateByDay(days: DayCounts[]): { day: string; value: number | null }[] {
  return days.map((d) => {
    const total = dayTotal(d);
    return { day: d.day, value: total > 0 ? (Number(d.passed) || 0) / total : null };
  });
}

/** Every day from `from` to `to` (ISO dates), so gaps show as empty days, not missing ones. */
export function fillDays<T extends { day: string }>(rows: T[], from: string, to: string, empty: (day: string) => T): T[] {
  const by = new Map(rows.map((r) => [r.day, r]));
  const out: T[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`), end = Date.parse(`${to}T00:00:00Z`); t <= end && out.length < 400; t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    out.push(by.get(day) ?? empty(day));
  }
  return out;
}

/** Median and p95 duration per day, from run summaries (finished runs only). */
export function durationByDay(runs: { started_at: string; duration_ms: number; status: string }[]): { day: string; p50: number; p95: number; runs: number }[] {
  const by = new Map<string, number[]>();
  for (const r of runs) {
    if (r.status === "running") continue;
    const day = r.started_at.slice(0, 10);
    by.set(day, [...(by.get(day) ?? []), r.duration_ms]);
  }
  return [...by]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([day, v]) => {
      const s = [...v].sort((a, b) => a - b);
      const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
      return { day, p50: q(0.5), p95: q(0.95), runs: s.length };
    });
}

/** A "nice" axis maximum (1, 2, 2.5, 5 x 10^n) at or above `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}
