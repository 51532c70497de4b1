import { describe, expect, it } from "vitest";
import { durationByDay, fillDays, niceMax, passRateByDay } from "./series";

describe("dashboard series", () => {
  it("computes the pass rate per day over finished outcomes", () => {
    expect(passRateByDay([{ day: "2026-01-01", passed: 3, failed: 1 }, { day: "2026-01-02" }])).toEqual([
      { day: "2026-01-01", value: 0.75 },
      { day: "2026-01-02", value: null },
    ]);
  });

  it("fills missing days", () => {
    const out = fillDays([{ day: "2026-01-02", n: 1 }], "2026-01-01", "2026-01-03", (day) => ({ day, n: 0 }));
    expect(out).toEqual([
      { day: "2026-01-01", n: 0 },
      { day: "2026-01-02", n: 1 },
      { day: "2026-01-03", n: 0 },
    ]);
  });

  it("takes median and p95 durations per day, skipping running runs", () => {
    const runs = [10, 20, 30, 40].map((d) => ({ started_at: "2026-01-01T10:00:00Z", duration_ms: d, status: "passed" }));
    runs.push({ started_at: "2026-01-01T11:00:00Z", duration_ms: 9999, status: "running" });
    expect(durationByDay(runs)).toEqual([{ day: "2026-01-01", p50: 30, p95: 40, runs: 4 }]);
  });

  it("rounds axis maxima up to nice numbers", () => {
    expect([0, 0.7, 3, 7, 12, 240, 1000].map(niceMax)).toEqual([1, 1, 5, 10, 20, 250, 1000]);
  });
});
