import { describe, expect, it } from "vitest";
import { parseFlow } from "../flow/document";
import { flowToGraph } from "../flow/graph";
import { dependencyRows } from "./deps";

const rows = (text: string) => dependencyRows(flowToGraph(parseFlow(text)));

describe("dependencyRows", () => {
  it("lists depends_on of a DAG and who waits for each step", () => {
    const text = [
      "name: dag",
      "steps:",
      "  - {id: login, type: log, message: a}",
      "  - {id: orders, type: log, message: b, depends_on: [login]}",
      "  - {id: invoices, type: log, message: c, depends_on: [login]}",
      "  - {id: reconcile, type: log, message: d, depends_on: [orders, invoices]}",
      "",
    ].join("\n");
    expect(rows(text)).toEqual([
      { stepId: "login", kind: "log", dependsOn: [], after: undefined, dependents: ["orders", "invoices"] },
      { stepId: "orders", kind: "log", dependsOn: ["login"], after: undefined, dependents: ["reconcile"] },
      { stepId: "invoices", kind: "log", dependsOn: ["login"], after: undefined, dependents: ["reconcile"] },
      { stepId: "reconcile", kind: "log", dependsOn: ["orders", "invoices"], after: undefined, dependents: [] },
    ]);
  });

  it("falls back to list order where no step has depends_on", () => {
    const text = "name: seq\nsteps:\n  - {id: a, type: log, message: x}\n  - {id: b, type: delay, duration: 1s}\n";
    expect(rows(text)).toEqual([
      { stepId: "a", kind: "log", dependsOn: [], after: undefined, dependents: ["b"] },
      { stepId: "b", kind: "delay", dependsOn: [], after: "a", dependents: [] },
    ]);
  });
});
