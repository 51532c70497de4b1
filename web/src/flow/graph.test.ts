import { describe, expect, it } from "vitest";
import { parseFlow } from "./document";
import { flowToGraph, nodeForDiagnostic } from "./graph";
import { fixture, fixtures } from "./test/fixtures";
import type { FlowGraph } from "./types";

const graphOf = (text: string): FlowGraph => flowToGraph(parseFlow(text));
const node = (g: FlowGraph, id: string) => {
  const n = g.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no node ${id} in ${g.nodes.map((x) => x.id).join(", ")}`);
  return n;
};
const edgeSet = (g: FlowGraph, kind: string) =>
  g.edges.filter((e) => e.kind === kind).map((e) => `${e.source}->${e.target}`).sort();

describe("flowToGraph on the fixtures", () => {
  it.each(fixtures.map((f) => [f.name, f.text]))("%s parses cleanly into a graph", (_name, text) => {
    const parsed = parseFlow(text);
    expect(parsed.diagnostics).toEqual([]);
    const g = flowToGraph(parsed);
    expect(g.diagnostics).toEqual([]);
    const ids = g.nodes.map((n) => n.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const n of g.nodes) if (n.parentId) expect(ids).toContain(n.parentId);
    for (const e of g.edges) {
      expect(ids).toContain(e.source);
      expect(ids).toContain(e.target);
    }
    // Parents come before their children (React Flow requires it).
    for (const n of g.nodes) if (n.parentId) expect(ids.indexOf(n.parentId)).toBeLessThan(ids.indexOf(n.id));
  });
});

describe("flowToGraph structure", () => {
  it("chains sequential steps and sections", () => {
    const g = graphOf(fixture("03-"));
    expect(edgeSet(g, "sequence")).toEqual(["step:seed->step:sync", "step:sync->step:check"].sort());
    expect(edgeSet(g, "section")).toEqual(["section:setup->section:steps", "section:steps->section:teardown"]);
    expect(node(g, "step:createTable").parentId).toBe("section:setup");
    expect(node(g, "step:check").range?.line).toBe(32);
  });

  it("maps parallel branches to containers", () => {
    const g = graphOf(fixture("04-"));
    expect(node(g, "step:notify").kind).toBe("parallel");
    const email = node(g, "step:notify#branch0");
    expect(email.kind).toBe("branch");
    expect(email.label).toBe("email");
    expect(node(g, "step:sendEmail").parentId).toBe(email.id);
    expect(node(g, "step:sendSms").parentId).toBe("step:notify#branch1");
    expect(edgeSet(g, "sequence")).toContain("step:sendEmail->step:emailDelivered");
    expect(edgeSet(g, "sequence")).toContain("step:start->step:notify");
    expect(edgeSet(g, "sequence")).toContain("step:notify->step:done");
  });

  it("uses depends_on edges, not order, in a DAG list", () => {
    const g = graphOf(fixture("05-"));
    expect(edgeSet(g, "sequence")).toEqual([]);
    expect(edgeSet(g, "depends_on")).toEqual(
      [
        "step:login->step:listOrders",
        "step:login->step:listInvoices",
        "step:listOrders->step:reconcile",
        "step:listInvoices->step:reconcile",
      ].sort(),
    );
  });

  it("nests group, poll and bare-list branches", () => {
    const g = graphOf(fixture("17-"));
    expect(node(g, "step:inner").parentId).toBe("step:outer");
    expect(node(g, "step:left1").parentId).toBe("step:inner#branch0");
    expect(node(g, "step:right").parentId).toBe("step:inner#branch1");
    expect(node(g, "step:probe").parentId).toBe("step:right");
    expect(node(g, "step:probe").listPath).toBeUndefined();
    expect(node(g, "step:probe").path).toEqual(["steps", 0, "steps", 0, "branches", 1, 0, "step"]);
  });

  it("shows call steps with their sub-flow and hooks as sections", () => {
    expect(node(graphOf(fixture("08-")), "step:createCustomer").subflow).toBe("./customer/create.yaml");
    const g = graphOf(fixture("09-"));
    expect(node(g, "step:traceStart").parentId).toBe("section:hooks.before_step");
    expect(edgeSet(g, "section")).toEqual([]);
  });

  it("always offers the steps section, even when empty", () => {
    const g = graphOf("name: x\n");
    expect(g.nodes.map((n) => n.id)).toEqual(["section:steps"]);
  });
});

describe("structural diagnostics", () => {
  it("reports duplicate ids, unknown and cyclic depends_on, missing id/type with lines", () => {
    const text = [
      "name: bad",
      "steps:",
      "  - id: a",
      "    type: log",
      "  - id: a",
      "    type: log",
      "  - id: b",
      "    type: log",
      "    depends_on: [c, nope]",
      "  - id: c",
      "    type: log",
      "    depends_on: [b]",
      "  - type: log",
      "  - id: d",
      "",
    ].join("\n");
    const g = graphOf(text);
    const messages = g.diagnostics.map((d) => `${d.line}: ${d.message}`);
    expect(messages).toContain("5: duplicate step id 'a'");
    expect(messages).toContain("9: depends_on: unknown step 'nope'");
    expect(messages.some((m) => m.includes("depends_on cycle"))).toBe(true);
    expect(messages).toContain("13: step has no `id`");
    expect(messages).toContain("14: step has no `type`");
    // Duplicates fall back to path ids so the graph stays consistent.
    expect(g.nodes.filter((n) => n.stepId === "a").map((n) => n.id)).toEqual(["path:steps[0]", "path:steps[1]"]);
  });

  it("reports YAML syntax errors with line and column", () => {
    const parsed = parseFlow("name: x\nsteps:\n  - id: a\n    type: [log\n");
    expect(parsed.diagnostics.length).toBeGreaterThan(0);
    expect(parsed.diagnostics[0]?.source).toBe("yaml");
    expect(parsed.diagnostics[0]?.line).toBeGreaterThanOrEqual(4);
  });

  it("finds the node of a server diagnostic by path or by line", () => {
    const g = graphOf(fixture("04-"));
    expect(nodeForDiagnostic(g, { message: "m", severity: "error", path: "steps[1].branches[0].steps[1].within" })?.id).toBe(
      "step:emailDelivered",
    );
    expect(nodeForDiagnostic(g, { message: "m", severity: "error", line: 23 })?.id).toBe("step:sendSms");
  });
});
