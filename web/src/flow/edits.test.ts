import { describe, expect, it } from "vitest";
import { parseFlow } from "./document";
import {
  addDependency,
  deleteStep,
  EditError,
  insertStep,
  insertStepAfter,
  moveStep,
  removeDependency,
  renameStep,
  setField,
  uniqueStepId,
} from "./edits";
import { flowToGraph } from "./graph";
import { editFlowText } from "./preserve";
import { comments, fixture, fixtures } from "./test/fixtures";
import type { FlowNode } from "./types";

const steps = (text: string): FlowNode[] =>
  flowToGraph(parseFlow(text)).nodes.filter((n) => n.kind !== "section" && n.kind !== "branch");

/** Lines of `after` that are not in `before` and vice versa (multiset line diff). */
function lineDiff(before: string, after: string): { added: string[]; removed: string[] } {
  const count = (lines: string[]) => {
    const m = new Map<string, number>();
    for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
    return m;
  };
  const a = count(before.split("\n"));
  const b = count(after.split("\n"));
  const added: string[] = [];
  const removed: string[] = [];
  for (const [l, n] of b) for (let i = (a.get(l) ?? 0); i < n; i++) added.push(l);
  for (const [l, n] of a) for (let i = (b.get(l) ?? 0); i < n; i++) removed.push(l);
  return { added, removed };
}

/** Does `sub` occur in `list` in order (not necessarily contiguous)? */
function isSubsequence(sub: string[], list: string[]): boolean {
  let i = 0;
  for (const x of list) if (i < sub.length && x === sub[i]) i++;
  return i === sub.length;
}

describe("round trip on the 20 example flows", () => {
  it("has 20 fixtures", () => expect(fixtures.length).toBe(20));

  it.each(fixtures.map((f) => [f.name, f.text]))("%s: a no-op edit returns the text unchanged", (_n, text) => {
    expect(editFlowText(text, () => {}).text).toBe(text);
  });

  it.each(fixtures.map((f) => [f.name, f.text]))(
    "%s: changing one field touches only that field's lines; comments and order survive",
    (_n, text) => {
      const last = steps(text).at(-1);
      const out = editFlowText(text, (doc) => {
        if (last) setField(doc, [...last.path, "description"], "edited in the builder");
        else insertStep(doc, ["steps"], 0, { id: "first", type: "log", message: "hi" });
      });
      expect(out.changed).toBe(true);
      expect(out.preserved).toBe(true);
      // Handing in the current parse (the Builder does) gives the same text, and the
      // returned parse is the parse of the new text.
      const parsed = parseFlow(text);
      const again = editFlowText(text, (doc) => {
        if (last) setField(doc, [...last.path, "description"], "edited in the builder");
        else insertStep(doc, ["steps"], 0, { id: "first", type: "log", message: "hi" });
      }, parsed);
      expect(again.text).toBe(out.text);
      expect(parsed.doc.toString(parsed.style)).toBe(parseFlow(text).doc.toString(parsed.style));
      expect(again.parsed.doc.toJS()).toEqual(parseFlow(out.text).doc.toJS());
      const { added, removed } = lineDiff(text, out.text);
      expect(removed).toEqual(text.includes("steps: []") ? ["steps: []"] : []);
      if (last) {
        expect(added).toHaveLength(1);
        expect(added[0]?.trim()).toBe("description: edited in the builder");
      }
      // Every comment is still there, in the same order.
      expect(isSubsequence(comments(text), comments(out.text))).toBe(true);
      expect(comments(out.text)).toEqual(comments(text));
      // The data is the same apart from the edit, key order included.
      const before = parseFlow(text).doc.toJS();
      const after = parseFlow(out.text).doc.toJS();
      expect(JSON.stringify(Object.keys(after))).toBe(JSON.stringify(Object.keys(before)));
    },
  );

  it.each(fixtures.map((f) => [f.name, f.text]))("%s: every step can be deleted; other comments survive", (_n, text) => {
    for (const step of steps(text)) {
      if (!step.listPath) continue;
      const out = editFlowText(text, (doc) => deleteStep(doc, step.path));
      const left = steps(out.text).map((s) => s.stepId);
      expect(left).not.toContain(step.stepId);
      const r = step.range;
      // Comments outside the deleted step's lines are all kept.
      // (Lines naming the step in a depends_on list go with it: the reference is removed.)
      const outside = text
        .split("\n")
        .filter((l, i) => (!r || i + 1 < r.line - 1 || i + 1 > r.endLine) && !l.includes(`- ${step.stepId} `))
        .join("\n");
      expect(isSubsequence(comments(outside), comments(out.text))).toBe(true);
      expect(out.preserved).toBe(true);
    }
  });

  it.each(fixtures.map((f) => [f.name, f.text]))("%s: insert after each step then delete restores the text", (_n, text) => {
    for (const step of steps(text)) {
      if (!step.listPath) continue;
      const inserted = editFlowText(text, (doc) =>
        insertStepAfter(doc, step.path, { id: uniqueStepId(doc, "added"), type: "log", message: "new" }),
      );
      const g = steps(inserted.text);
      const added = g.find((s) => s.stepId === "added");
      expect(added?.index).toBe((step.index ?? 0) + 1);
      expect(added?.parentId).toBe(g.find((s) => s.path.join() === step.path.join())?.parentId);
      const back = editFlowText(inserted.text, (doc) => deleteStep(doc, added?.path ?? []));
      expect(back.text).toBe(text);
    }
  });
});

describe("edits", () => {
  it("inserts into a missing section in canonical key order", () => {
    const out = editFlowText("name: x\nsteps:\n  - id: a\n    type: log\n", (doc) =>
      insertStep(doc, ["setup"], 0, { id: "s", type: "log" }),
    );
    expect(out.text).toBe("name: x\nsetup:\n  - id: s\n    type: log\nsteps:\n  - id: a\n    type: log\n");
  });

  it("turns `steps: []` into a block list", () => {
    const out = editFlowText(fixture("16-"), (doc) => insertStep(doc, ["steps"], 0, { id: "a", type: "delay", duration: "1s" }));
    expect(out.text).toBe("# A new flow: nothing yet.\nname: Empty flow\nsteps:\n  - id: a\n    type: delay\n    duration: 1s\n");
  });

  it("moves a step with its comments", () => {
    const text = fixture("20-");
    const out = editFlowText(text, (doc) => moveStep(doc, ["steps", 0], ["steps"], 1));
    expect(out.text.indexOf("id: second")).toBeLessThan(out.text.indexOf("id: first"));
    expect(out.text).toContain("  - id: first # the first step\n    type: log # a log step\n");
    expect(comments(out.text).sort()).toEqual(comments(text).sort());
    // Moving back restores the text, except the blank line of the step that was on top
    // (a list's first item never has a blank line above it).
    const back = editFlowText(out.text, (doc) => moveStep(doc, ["steps", 1], ["steps"], 0));
    expect(back.text).toBe(text.replace("\n\n  # before the second step", "\n  # before the second step"));
    const noBlank = (t: string) => t.replace(/\n\s*\n/g, "\n");
    expect(noBlank(back.text)).toBe(noBlank(text));
  });

  it("moves a step into a group and out of a parallel branch", () => {
    const text = fixture("17-");
    const out = editFlowText(text, (doc) => moveStep(doc, ["steps", 1], ["steps", 0, "steps"], 0));
    const g = steps(out.text);
    expect(g.find((s) => s.stepId === "after")?.parentId).toBe("step:outer");
    const out2 = editFlowText(text, (doc) => moveStep(doc, ["steps", 0, "steps", 0, "branches", 0, 1], ["steps"], 2));
    const g2 = steps(out2.text);
    expect(g2.find((s) => s.stepId === "left2")?.parentId).toBe("section:steps");
    expect(g2.find((s) => s.stepId === "left2")?.index).toBe(2);
  });

  it("refuses to move a step into itself or to move a poll's inner step", () => {
    const text = fixture("17-");
    expect(() => editFlowText(text, (doc) => moveStep(doc, ["steps", 0], ["steps", 0, "steps"], 0))).toThrow(EditError);
    expect(() =>
      editFlowText(text, (doc) => deleteStep(doc, ["steps", 0, "steps", 0, "branches", 1, 0, "step"])),
    ).toThrow(/poll's inner step/);
  });

  it("keeps scalar quote style and comments when a field changes", () => {
    const text = fixture("01-");
    const out = editFlowText(text, (doc) => setField(doc, ["steps", 1, "within"], "5m"));
    expect(lineDiff(text, out.text)).toEqual({
      added: ["    within: 5m                          # waits are durable; the worker may restart meanwhile"].map(
        () => "    within: 5m # waits are durable; the worker may restart meanwhile",
      ),
      removed: ["    within: 2m                          # waits are durable; the worker may restart meanwhile"],
    });
    const url = editFlowText(text, (doc) => setField(doc, ["steps", 0, "request", "url"], "{{ baseUrl }}/v2/orders"));
    expect(url.text).toContain('      url: "{{ baseUrl }}/v2/orders"\n');
  });

  it("applies a whole config object as a minimal diff", () => {
    const text = fixture("01-");
    const out = editFlowText(text, (doc) =>
      setField(doc, ["steps", 0, "request"], {
        method: "PUT",
        url: "{{ baseUrl }}/orders",
        auth: { bearer: "{{ token }}" },
        json: { product: "book", price: "{{ random.int(10, 100) }}" },
        headers: { "X-Trace": "1" },
      }),
    );
    const { added, removed } = lineDiff(text, out.text);
    expect(removed).toEqual(["      method: POST"]);
    expect(added).toEqual(["      method: PUT", "      headers:", '        X-Trace: "1"']);
  });

  it("deletes a field and cleans depends_on references on delete", () => {
    const text = fixture("05-");
    const out = editFlowText(text, (doc) => deleteStep(doc, ["steps", 1]));
    expect(out.text).not.toContain("listOrders   # orders first");
    expect(out.text).toContain("    depends_on:\n      - listInvoices\n");
    const out2 = editFlowText(text, (doc) => setField(doc, ["steps", 3, "expression"], undefined));
    expect(out2.text).not.toContain("expression:");
  });

  it("adds and removes dependencies", () => {
    const text = fixture("05-");
    const added = editFlowText(text, (doc) => addDependency(doc, ["steps", 2], "listOrders"));
    expect(added.text).toContain("    depends_on: [login, listOrders]\n");
    const noDeps = editFlowText(fixture("02-"), (doc) => {
      insertStep(doc, ["steps"], 1, { id: "b", type: "log" });
      addDependency(doc, ["steps", 1], "ping");
    });
    expect(noDeps.text).toContain("    depends_on: [ping]\n");
    const removed = editFlowText(text, (doc) => removeDependency(doc, ["steps", 1], "login"));
    expect(removed.text).not.toMatch(/id: listOrders\n    type: http\n    depends_on/);
    expect(() => editFlowText(text, (doc) => addDependency(doc, ["steps", 1], "listOrders"))).toThrow(/itself/);
  });

  it("renames a step and its references", () => {
    const out = editFlowText(fixture("05-"), (doc) => renameStep(doc, ["steps", 0], "signIn"));
    expect(out.text).toContain("  - id: signIn\n");
    expect(out.text.match(/depends_on: \[signIn\]/g)).toHaveLength(2);
    expect(() => editFlowText(fixture("05-"), (doc) => renameStep(doc, ["steps", 0], "listOrders"))).toThrow(/already used/);
    expect(() => editFlowText(fixture("05-"), (doc) => renameStep(doc, ["steps", 0], "9bad"))).toThrow(/not a valid step id/);
  });

  it("refuses to edit text with syntax errors", () => {
    expect(() => editFlowText("name: [x\n", () => {})).toThrow(/fix the YAML syntax first/);
  });

  it("keeps four-space and unindented-sequence styles for new steps", () => {
    const four = editFlowText(fixture("10-"), (doc) => insertStep(doc, ["steps"], 2, { id: "third", type: "log" }));
    expect(four.text).toContain("    -   id: second\n");
    expect(four.text.endsWith("    -   id: third\n        type: log\n")).toBe(true);
    expect(four.preserved).toBe(true);
    const flat = editFlowText(fixture("11-"), (doc) => insertStep(doc, ["steps"], 2, { id: "c", type: "log" }));
    expect(flat.text.endsWith("- id: c\n  type: log\n")).toBe(true);
  });
});
