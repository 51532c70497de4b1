import { describe, expect, it } from "vitest";
import { emptyForm, scheduleBody, targetLabel, timingLabel, type ScheduleOut } from "./model";

describe("schedule form", () => {
  it("sends suite_id and no flow_id for a suite", () => {
    const out = scheduleBody({ ...emptyForm, name: " nightly ", target: "suite", targetId: "s1", cron: "0 3 * * *\n\n 0 4 * * 1 " });
    expect(out).toEqual({
      body: { name: "nightly", suite_id: "s1", cron: ["0 3 * * *", "0 4 * * 1"], timezone: null, environment: null, overlap: "skip", paused: false },
    });
  });

  it("sends flow_id and the interval for a flow", () => {
    const out = scheduleBody({ ...emptyForm, name: "n", targetId: "f1", timing: "interval", interval: "5m", cron: "ignored", environment: "staging" });
    expect(out).toEqual({ body: { name: "n", flow_id: "f1", interval: "5m", timezone: null, environment: "staging", overlap: "skip", paused: false } });
  });

  it("says what is missing", () => {
    expect(scheduleBody({ ...emptyForm, targetId: "f" })).toEqual({ error: "give the schedule a name" });
    expect(scheduleBody({ ...emptyForm, name: "n", target: "suite" })).toEqual({ error: "pick a suite" });
    expect(scheduleBody({ ...emptyForm, name: "n", targetId: "f" })).toEqual({ error: "give at least one cron expression" });
    expect(scheduleBody({ ...emptyForm, name: "n", targetId: "f", timing: "interval" })).toEqual({ error: "give an interval (30s, 5m, 1h)" });
  });

  it("labels a listed schedule's target and timing", () => {
    const s = { id: "x", name: "n", flow_id: null, suite_id: "s1", cron: ["@daily"], interval_s: null, timezone: "UTC", environment: null, overlap: "skip", paused: false } as ScheduleOut;
    expect(targetLabel(s, new Map(), new Map([["s1", "smoke"]]))).toBe("suite smoke");
    expect(targetLabel({ ...s, suite_id: null, flow_id: "f9" }, new Map(), new Map())).toBe("flow f9");
    expect(timingLabel(s)).toBe("cron @daily (UTC)");
    expect(timingLabel({ ...s, cron: [], interval_s: 30 })).toBe("every 30s");
  });
});
