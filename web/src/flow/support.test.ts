import { describe, expect, it } from "vitest";
import { parseFlow } from "./document";
import { flowToGraph } from "./graph";
import { canRedo, canUndo, createHistory, push, redo, undo } from "./history";
import { layoutGraph, STEP_SIZE } from "./layout";
import { templateSuggestions } from "./suggest";
import { fixture, fixtures } from "./test/fixtures";

describe("history", () => {
  it("undoes and redoes, and a new push drops the redo branch", () => {
    let h = createHistory("a");
    h = push(h, "b", { now: 0 });
    h = push(h, "c", { now: 5000 });
    expect(canRedo(h)).toBe(false);
    h = undo(h);
    expect(h.present).toBe("b");
    h = undo(h);
    expect(h.present).toBe("a");
    expect(canUndo(h)).toBe(false);
    expect(undo(h)).toBe(h);
    h = redo(h);
    expect(h.present).toBe("b");
    h = push(h, "d", { now: 9000 });
    expect(canRedo(h)).toBe(false);
    expect(h.past).toEqual(["a", "b"]);
  });

  it("coalesces a burst of typing in one group", () => {
    let h = createHistory("");
    h = push(h, "h", { group: "editor", now: 0 });
    h = push(h, "he", { group: "editor", now: 200 });
    h = push(h, "hey", { group: "editor", now: 400 });
    expect(h.past).toEqual([""]);
    h = push(h, "hey!", { group: "editor", now: 3000 });
    expect(h.past).toEqual(["", "hey"]);
    h = push(h, "canvas", { group: "canvas", now: 3100 });
    expect(h.past).toEqual(["", "hey", "hey!"]);
  });
});

describe("layout", () => {
  it.each(fixtures.map((f) => [f.name, f.text]))("%s: children fit inside their containers, siblings do not overlap", (_n, text) => {
    const g = flowToGraph(parseFlow(text));
    const boxes = layoutGraph(g.nodes, g.edges);
    for (const n of g.nodes) {
      const b = boxes.get(n.id);
      expect(b, n.id).toBeDefined();
      if (!b || !n.parentId) continue;
      const parent = boxes.get(n.parentId);
      expect(parent).toBeDefined();
      if (!parent) continue;
      expect(b.x).toBeGreaterThanOrEqual(0);
      expect(b.y).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width).toBeLessThanOrEqual(parent.width + 0.5);
      expect(b.y + b.height).toBeLessThanOrEqual(parent.height + 0.5);
    }
    const byParent = new Map<string | undefined, string[]>();
    for (const n of g.nodes) byParent.set(n.parentId, [...(byParent.get(n.parentId) ?? []), n.id]);
    for (const ids of byParent.values()) {
      for (let i = 0; i < ids.length; i++) {
        for (let j = i + 1; j < ids.length; j++) {
          const a = boxes.get(ids[i] as string) as { x: number; y: number; width: number; height: number };
          const b = boxes.get(ids[j] as string) as typeof a;
          const overlap = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
          expect(overlap, `${ids[i]} overlaps ${ids[j]}`).toBe(false);
        }
      }
    }
  });

  it("orders a sequence top to bottom and a DAG by rank", () => {
    const seq = flowToGraph(parseFlow(fixture("13-")));
    const boxes = layoutGraph(seq.nodes, seq.edges);
    const ys = ["publish", "consume", "mqttOut", "mqttIn", "natsReq"].map((id) => boxes.get(`step:${id}`)?.y ?? NaN);
    expect([...ys].sort((a, b) => a - b)).toEqual(ys);
    const dag = flowToGraph(parseFlow(fixture("05-")));
    const d = layoutGraph(dag.nodes, dag.edges);
    expect(d.get("step:listOrders")?.y).toBe(d.get("step:listInvoices")?.y);
    expect(d.get("step:reconcile")?.y).toBeGreaterThan(d.get("step:listOrders")?.y ?? Infinity);
    expect(d.get("step:login")?.width).toBe(STEP_SIZE.width);
  });
});

describe("template suggestions", () => {
  it("offers context, earlier extractions and builtins, not later steps", () => {
    const parsed = parseFlow(fixture("01-"));
    const values = templateSuggestions(parsed, "orderEvent").map((s) => s.value);
    expect(values).toContain("{{ baseUrl }}");
    expect(values).toContain("{{ orderId }}");
    expect(values).toContain("{{ createOrder.status }}");
    expect(values).not.toContain("{{ callback.status }}");
    expect(values).toContain("{{ uuid() }}");
    const first = templateSuggestions(parsed, "createOrder").map((s) => s.value);
    expect(first).not.toContain("{{ orderId }}");
  });
});
