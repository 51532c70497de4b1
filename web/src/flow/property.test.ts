// Property tests on random flows: the graph matches the flow's structure, and random
// sequences of graph edits applied to the text agree with the same edits applied to a plain
// model, keep every comment of the surviving steps, and undo cleanly.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Document, isMap, isSeq, type YAMLMap } from "yaml";
import { parseFlow } from "./document";
import { deleteStep, insertStep, moveStep, setField } from "./edits";
import { flowToGraph } from "./graph";
import { editFlowText } from "./preserve";
import type { DocPath } from "./types";

type Shape = { t: "log" } | { t: "group"; steps: Shape[] } | { t: "parallel"; branches: Shape[][] } | { t: "poll"; step: Shape };
type Json = Record<string, unknown>;

const shape: fc.Arbitrary<Shape> = fc.letrec<{ step: Shape }>((tie) => ({
  step: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant<Shape>({ t: "log" }),
    fc.array(tie("step"), { minLength: 1, maxLength: 3 }).map<Shape>((steps) => ({ t: "group", steps })),
    fc
      .array(fc.array(tie("step"), { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 2 })
      .map<Shape>((branches) => ({ t: "parallel", branches })),
    tie("step").map<Shape>((step) => ({ t: "poll", step })),
  ),
})).step;

/** Give the shapes ids s1, s2, ... in document order and turn them into flow JSON. */
function toJson(shapes: Shape[]): { flow: Json; count: number } {
  let n = 0;
  const step = (s: Shape): Json => {
    const id = `s${++n}`;
    if (s.t === "log") return { id, type: "log", message: `m${n}` };
    if (s.t === "group") return { id, type: "group", steps: s.steps.map(step) };
    if (s.t === "parallel") return { id, type: "parallel", branches: s.branches.map((b) => b.map(step)) };
    return { id, type: "poll", step: step(s.step) };
  };
  const steps = shapes.map(step);
  return { flow: { name: "random", steps }, count: n };
}

/** Render flow JSON as YAML with a comment before some steps and blank lines between others. */
function render(flow: Json, commented: Set<number>, spaced: Set<number>): string {
  const doc = new Document(flow);
  const visitList = (seq: unknown) => {
    if (!isSeq(seq)) return;
    seq.items.forEach((item, i) => {
      if (!isMap(item)) return;
      const num = Number(String(item.get("id")).slice(1));
      if (commented.has(num)) item.commentBefore = ` note s${num}`;
      if (spaced.has(num) && i > 0) item.spaceBefore = true;
      visitStep(item);
    });
  };
  const visitStep = (map: YAMLMap) => {
    visitList(map.get("steps", true));
    const branches = map.get("branches", true);
    if (isSeq(branches)) branches.items.forEach(visitList);
    const inner = map.get("step", true);
    if (isMap(inner)) visitStep(inner);
  };
  visitList(doc.get("steps", true));
  return doc.toString();
}

const flowArb = fc
  .tuple(fc.array(shape, { minLength: 0, maxLength: 5 }), fc.uniqueArray(fc.nat(40)), fc.uniqueArray(fc.nat(40)))
  .map(([shapes, c, s]) => {
    const { flow, count } = toJson(shapes);
    return { flow, count, text: render(flow, new Set(c), new Set(s)) };
  });

function countSteps(steps: unknown[]): number {
  let n = 0;
  for (const s of steps as Json[]) {
    n += 1;
    if (Array.isArray(s.steps)) n += countSteps(s.steps);
    if (Array.isArray(s.branches)) for (const b of s.branches) n += countSteps(b as unknown[]);
    if (s.step) n += countSteps([s.step]);
  }
  return n;
}

function getIn(obj: unknown, path: DocPath): unknown {
  return path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], obj);
}

describe("random flows", { timeout: 120_000 }, () => {
  it("map to a graph with one node per step, the right parents and sequence edges", () => {
    fc.assert(
      fc.property(flowArb, ({ flow, text }) => {
        const g = flowToGraph(parseFlow(text));
        expect(g.diagnostics).toEqual([]);
        const stepNodes = g.nodes.filter((n) => n.stepId !== undefined);
        expect(stepNodes).toHaveLength(countSteps(flow.steps as unknown[]));
        for (const n of stepNodes) {
          expect(n.id).toBe(`step:${n.stepId}`);
          expect((getIn(flow, n.path) as Json).id).toBe(n.stepId);
          const parent = g.nodes.find((p) => p.id === n.parentId);
          expect(parent).toBeDefined();
          if (parent?.kind === "group" || parent?.kind === "poll") {
            expect(n.path.slice(0, parent.path.length)).toEqual(parent.path);
          }
        }
        // Each list of k steps gives k-1 sequence edges.
        const lists = new Map<string, number>();
        for (const n of stepNodes) if (n.listPath) lists.set(n.listPath.join("/"), (lists.get(n.listPath.join("/")) ?? 0) + 1);
        const expected = [...lists.values()].reduce((a, k) => a + k - 1, 0);
        expect(g.edges.filter((e) => e.kind === "sequence")).toHaveLength(expected);
      }),
      { numRuns: 100 },
    );
  });

  it("insert then delete at any position gives back the same text", () => {
    fc.assert(
      fc.property(flowArb, fc.nat(), fc.nat(), ({ text }, listPick, indexPick) => {
        const g = flowToGraph(parseFlow(text));
        const lists = [["steps"], ...new Set(g.nodes.flatMap((n) => (n.listPath ? [JSON.stringify(n.listPath)] : [])))].map(
          (l) => (typeof l === "string" ? (JSON.parse(l) as DocPath) : l),
        );
        const listPath = lists[listPick % lists.length] as DocPath;
        const len = (parseFlow(text).doc.getIn(listPath) as { items?: unknown[] } | undefined)?.items?.length ?? 0;
        const index = indexPick % (len + 1);
        const added = editFlowText(text, (doc) => insertStep(doc, listPath, index, { id: "fresh", type: "log", message: "x" }));
        expect(added.preserved).toBe(true);
        const back = editFlowText(added.text, (doc) => deleteStep(doc, [...listPath, index]));
        // A blank line above the old first item cannot come back (a first item has none).
        const noBlank = (t: string) => t.replace(/\n\s*\n/g, "\n");
        expect(noBlank(back.text)).toBe(noBlank(text));
        if (index > 0) expect(back.text).toBe(text);
      }),
      { numRuns: 100 },
    );
  });

  it("random edit sequences agree with a model and keep the surviving steps' comments", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("insert" as const), list: fc.nat(), index: fc.nat() }),
      fc.record({ kind: fc.constant("delete" as const), step: fc.nat() }),
      fc.record({ kind: fc.constant("move" as const), step: fc.nat(), list: fc.nat(), index: fc.nat() }),
      fc.record({ kind: fc.constant("set" as const), step: fc.nat(), value: fc.string({ maxLength: 12 }) }),
    );
    fc.assert(
      fc.property(flowArb, fc.array(op, { maxLength: 8 }), ({ flow, text: initial }, ops) => {
        let text = initial;
        const model = structuredClone(flow);
        let fresh = 0;
        for (const o of ops) {
          const g = flowToGraph(parseFlow(text));
          const movable = g.nodes.filter((n) => n.listPath !== undefined);
          const lists: DocPath[] = [["steps"]];
          for (const n of g.nodes) {
            if (n.kind === "group") lists.push([...n.path, "steps"]);
            if (n.kind === "branch") lists.push(isMapBranch(model, n.path) ? [...n.path, "steps"] : n.path);
          }
          if (o.kind === "insert") {
            const listPath = lists[o.list % lists.length] as DocPath;
            const arr = getIn(model, listPath) as Json[];
            const index = o.index % (arr.length + 1);
            const step = { id: `new${++fresh}`, type: "log", message: "added" };
            text = editFlowText(text, (doc) => insertStep(doc, listPath, index, step)).text;
            arr.splice(index, 0, structuredClone(step));
          } else if (o.kind === "delete" && movable.length > 0) {
            const n = movable[o.step % movable.length];
            if (!n?.listPath || n.index === undefined) continue;
            text = editFlowText(text, (doc) => deleteStep(doc, n.path)).text;
            (getIn(model, n.listPath) as Json[]).splice(n.index, 1);
          } else if (o.kind === "move" && movable.length > 0) {
            const n = movable[o.step % movable.length];
            const target = lists[o.list % lists.length] as DocPath;
            if (!n?.listPath || n.index === undefined) continue;
            const inside = target.length > n.path.length && n.path.every((seg, i) => target[i] === seg);
            if (inside) continue; // refused by moveStep (tested elsewhere)
            const from = getIn(model, n.listPath) as Json[];
            const to = getIn(model, target) as Json[];
            const sameList = from === to;
            const index = o.index % ((sameList ? to.length - 1 : to.length) + 1);
            text = editFlowText(text, (doc) => void moveStep(doc, n.path, target, index)).text;
            const [item] = from.splice(n.index, 1);
            to.splice(index, 0, item as Json);
          } else if (o.kind === "set" && movable.length > 0) {
            const n = movable[o.step % movable.length];
            if (!n) continue;
            text = editFlowText(text, (doc) => setField(doc, [...n.path, "description"], o.value)).text;
            (getIn(model, n.path) as Json).description = o.value;
          }
          const parsed = parseFlow(text);
          expect(parsed.diagnostics).toEqual([]);
          expect(parsed.doc.toJS()).toEqual(model);
        }
        // Every step that survived still has its comment, exactly once.
        for (const m of initial.matchAll(/# note (s\d+)\n/g)) {
          const id = m[1] as string;
          const alive = new RegExp(`id: ${id}\\n`).test(text);
          const count = text.split(`# note ${id}\n`).length - 1;
          if (alive) expect(count).toBe(1);
        }
      }),
      { numRuns: 100 },
    );
  });
});

function isMapBranch(model: Json, path: DocPath): boolean {
  const v = getIn(model, path);
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
