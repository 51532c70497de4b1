import { beforeEach, describe, expect, it } from "vitest";
import { parseFlow } from "../flow/document";
import { flowToGraph } from "../flow/graph";
import { contextTimeline, initialContext, variableOrigins } from "./context";
import { lineDiff, parseUnified } from "./diff";
import { SseParser } from "./sse";
import { applyEvents, emptyView, nodeStatuses, viewFromResult } from "./state";
import { at, event, record, resetSeq } from "./test/records";
import { barGeometry, buildTimeline, isWait, visibleRange } from "./timeline";

beforeEach(resetSeq);

describe("run state from events", () => {
  it("marks a started step running until it finishes, and the run's final status", () => {
    let v = emptyView("run-x");
    v = applyEvents(v, [event("run_started", undefined, { status: "running" }), event("step_started", record("a"))]);
    expect(v.running.has("a")).toBe(true);
    v = applyEvents(v, [event("step_finished", record("a", { status: "failed" }))]);
    expect(v.running.has("a")).toBe(false);
    expect(v.steps.get("a")?.status).toBe("failed");
    v = applyEvents(v, [event("run_finished", undefined, { status: "failed" })]);
    expect(v.status).toBe("failed");
    expect(v.lastSeq).toBe(4);
  });

  it("ignores events it has seen (a replayed stream)", () => {
    const evs = [event("run_started"), event("step_started", record("a")), event("step_finished", record("a"))];
    const once = applyEvents(emptyView("r"), evs);
    expect(applyEvents(once, evs)).toBe(once);
  });

  it("colours graph nodes: running wins, then the worst outcome of a loop's iterations", () => {
    const parsed = parseFlow("name: f\nsteps:\n  - id: a\n    type: http\n  - id: loop\n    type: log\n    for_each: [1, 2]\n  - id: c\n    type: log\n");
    const graph = flowToGraph(parsed);
    let v = emptyView("r");
    v = applyEvents(v, [
      event("step_finished", record("a")),
      event("step_finished", record("loop[0]", { step_id: "loop", iteration: 0 })),
      event("step_finished", record("loop[1]", { step_id: "loop", iteration: 1, status: "failed" })),
      event("step_started", record("c")),
    ]);
    const s = nodeStatuses(v, graph.nodes);
    expect(s.get("step:a")).toBe("passed");
    expect(s.get("step:loop")).toBe("failed");
    expect(s.get("step:c")).toBe("running");
  });

  it("reads a finished RunResult", () => {
    const v = viewFromResult({ run_id: "r", flow: "f", status: "passed", started_at: at(0), finished_at: at(50), steps: [record("a")] } as never);
    expect(v.steps.size).toBe(1);
    expect(v.status).toBe("passed");
  });
});

describe("timeline", () => {
  it("places steps on the run's axis with retries, waits and nesting", () => {
    const v = viewFromResult({
      run_id: "r",
      flow: "f",
      status: "passed",
      started_at: at(0),
      finished_at: at(1000),
      steps: [
        record("g", { kind: "group", started_at: at(100), finished_at: at(900) }),
        record("g.wait", { kind: "delay", started_at: at(200), finished_at: at(700) }),
        record("g.call", { started_at: at(700), finished_at: at(900), attempts: 3, attempt_errors: [{ attempt: 1, error: "503" }, { attempt: 2, error: "503" }] }),
      ],
    } as never);
    const t = buildTimeline(v);
    expect(t.total).toBe(1000);
    expect(t.rows.map((r) => [r.key, r.depth, r.start, r.duration])).toEqual([
      ["g", 0, 100, 800],
      ["g.wait", 1, 200, 500],
      ["g.call", 1, 700, 200],
    ]);
    expect(t.rows[1]?.wait).toBe(true);
    expect(t.rows[2]?.retries).toBe(2);
    expect(barGeometry(t.rows[1]!, t.total)).toEqual({ left: 20, width: 50 });
  });

  it("keeps zero-length steps visible and inside the axis", () => {
    expect(barGeometry({ start: 1000, duration: 0 }, 1000)).toEqual({ left: 99.7, width: 0.3 });
    expect(barGeometry({ start: 0, duration: 0 }, 1000).width).toBeGreaterThan(0);
  });

  it("knows the waiting kinds", () => {
    for (const k of ["delay", "poll", "webhook.wait", "kafka.consume", "mqtt.subscribe", "redis.xread"]) expect(isWait(k)).toBe(true);
    for (const k of ["http", "postgresql.query", "kafka.produce"]) expect(isWait(k)).toBe(false);
  });

  it("windows rows for virtualization", () => {
    expect(visibleRange(0, 300, 30, 10_000, 5)).toEqual({ first: 0, last: 15 });
    expect(visibleRange(30_000, 300, 30, 10_000, 5)).toEqual({ first: 995, last: 1015 });
    expect(visibleRange(10_000 * 30, 300, 30, 10_000, 5)).toEqual({ first: 9995, last: 10_000 });
  });

  it("builds a 10,000-step timeline from 20,001 events", () => {
    const events = [event("run_started")];
    for (let i = 0; i < 10_000; i++) {
      const r = record(`s${i}`, { started_at: at(i), finished_at: at(i + 5) });
      events.push(event("step_started", r), event("step_finished", r));
    }
    const began = performance.now();
    const v = applyEvents(emptyView("r"), events);
    const t = buildTimeline(v, Date.parse(at(20_000)));
    console.log(`fold 20,001 events + timeline of ${t.rows.length} rows: ${(performance.now() - began).toFixed(1)} ms`);
    expect(t.rows).toHaveLength(10_000);
    expect(t.rows[9999]?.key).toBe("s9999");
  });
});

describe("context debugger", () => {
  const steps = [
    record("login", { context_changes: { token: "***" } }),
    record("create", { context_changes: { orderId: 7 } }),
    record("update", { context_changes: { orderId: 8, note: "x" } }),
  ];
  const final = { run: { id: "r" }, baseUrl: "http://x", limit: 3, token: "***", orderId: 8, note: "x" };

  it("reconstructs the context after each step and what changed", () => {
    const initial = initialContext(final, steps, { limit: 3 });
    expect(initial).toEqual({ run: { id: "r" }, baseUrl: "http://x", limit: 3 });
    const tl = contextTimeline(initial, steps);
    expect(tl.map((s) => [s.stepId, s.added, s.modified])).toEqual([
      ["login", ["token"], []],
      ["create", ["orderId"], []],
      ["update", ["note"], ["orderId"]],
    ]);
    expect(tl[1]?.after.orderId).toBe(7);
    expect(tl[2]?.after).toEqual(final);
  });

  it("says where each variable came from", () => {
    const origins = variableOrigins(final, steps, { limit: 3 }, new Set(["baseUrl"]));
    const by = Object.fromEntries(origins.map((o) => [o.name, o]));
    expect(by.orderId?.origin).toEqual({ type: "step", key: "update", stepId: "update" });
    expect(by.orderId?.history.map((h) => h.value)).toEqual([7, 8]);
    expect(by.limit?.origin.type).toBe("variables");
    expect(by.baseUrl?.origin.type).toBe("flow");
    expect(by.run?.origin.type).toBe("run");
  });
});

describe("diff viewer", () => {
  it("diffs expected against actual by line", () => {
    const d = lineDiff({ a: 1, b: 2 }, { a: 1, b: 3 });
    expect(d.filter((l) => l.op === "del").map((l) => l.text.trim())).toEqual(['"b": 2']);
    expect(d.filter((l) => l.op === "add").map((l) => l.text.trim())).toEqual(['"b": 3']);
    expect(lineDiff("same", "same").every((l) => l.op === "same")).toBe(true);
  });

  it("reads a unified diff", () => {
    const d = parseUnified("--- expected\n+++ actual\n@@ -1 +1 @@\n-NEW\n+PAID\n ctx\n");
    expect(d.map((l) => l.op)).toEqual(["meta", "meta", "meta", "del", "add", "same"]);
    expect(d[4]?.text).toBe("PAID");
  });
});

describe("SSE parser", () => {
  it("parses events split anywhere, with ids, comments, CRLF and multi-line data", () => {
    const text = ': ping\r\nid: 1\r\nevent: step_started\r\ndata: {"a":\r\ndata: 1}\r\n\r\nid: 2\nevent: run_finished\ndata: {}\n\n';
    for (let cut = 0; cut < text.length; cut++) {
      const p = new SseParser();
      const got = [...p.feed(text.slice(0, cut)), ...p.feed(text.slice(cut))];
      expect(got).toEqual([
        { id: "1", event: "step_started", data: '{"a":\n1}' },
        { id: "2", event: "run_finished", data: "{}" },
      ]);
    }
  });

  it("keeps the last id for later events and defaults the event name", () => {
    const p = new SseParser();
    expect(p.feed("id: 5\ndata: x\n\ndata: y\n\n")).toEqual([
      { id: "5", event: "message", data: "x" },
      { id: "5", event: "message", data: "y" },
    ]);
  });
});
