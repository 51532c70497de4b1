// Walking the steps of a flow Document: top-level sections, hooks and the steps nested in
// control steps (parallel branches, group steps, the inner step of a poll).

import { type Document, isMap, isScalar, isSeq, type YAMLMap, type YAMLSeq } from "yaml";
import { nodeAt } from "./document";
import type { DocPath } from "./types";

/** Where a step list sits: a top-level section, a branch, a group's steps. */
export interface ListRef {
  /** Path of the YAML sequence. */
  path: DocPath;
  /** A display name: `setup`, `steps`, `hooks.before_step`, `branch 2`, ... */
  name: string;
  seq: YAMLSeq;
}

export interface StepRef {
  path: DocPath;
  map: YAMLMap;
  /** The list holding this step; undefined for a poll's single inner step. */
  list?: ListRef;
  index?: number;
  /** Path of the enclosing control step, if any. */
  parentStep?: DocPath;
  depth: number;
}

export interface WalkVisitor {
  step?: (ref: StepRef) => void;
  /** Called for each list before its steps; `owner` is the control step or undefined. */
  list?: (ref: ListRef, owner: DocPath | undefined, depth: number) => void;
  /** Called for each parallel branch (the branch's list follows). */
  branch?: (parallel: DocPath, index: number, branchPath: DocPath, name: string | undefined) => void;
}

export const SECTION_PATHS: { path: DocPath; name: string }[] = [
  { path: ["setup"], name: "setup" },
  { path: ["steps"], name: "steps" },
  { path: ["teardown"], name: "teardown" },
  { path: ["hooks", "before_step"], name: "hooks.before_step" },
  { path: ["hooks", "after_step"], name: "hooks.after_step" },
];

/** A scalar string value of `key` in a map, or undefined. */
export function str(map: YAMLMap, key: string): string | undefined {
  const v = map.get(key, true);
  return isScalar(v) && v.value !== null && v.value !== undefined ? String(v.value) : undefined;
}

/** The `depends_on` ids of a step (a list, or one id as a plain string). */
export function dependsOn(map: YAMLMap): string[] {
  const v = map.get("depends_on", true);
  if (isSeq(v)) {
    return v.items.flatMap((item) =>
      isScalar(item) && item.value !== null ? [String(item.value)] : [],
    );
  }
  if (isScalar(v) && typeof v.value === "string") return [v.value];
  return [];
}

/** Visit every list and step of the flow, depth first, in document order. */
export function walkFlow(doc: Document, visitor: WalkVisitor): void {
  for (const section of SECTION_PATHS) {
    const seq = nodeAt(doc, section.path);
    if (isSeq(seq)) walkList(doc, { path: section.path, name: section.name, seq }, undefined, 0, visitor);
  }
}

function walkList(
  doc: Document,
  list: ListRef,
  owner: DocPath | undefined,
  depth: number,
  visitor: WalkVisitor,
): void {
  visitor.list?.(list, owner, depth);
  list.seq.items.forEach((item, index) => {
    if (!isMap(item)) return;
    walkStep(doc, { path: [...list.path, index], map: item, list, index, parentStep: owner, depth }, visitor);
  });
}

function walkStep(doc: Document, ref: StepRef, visitor: WalkVisitor): void {
  visitor.step?.(ref);
  const type = str(ref.map, "type");
  const depth = ref.depth + 1;
  if (type === "group") {
    const seq = ref.map.get("steps", true);
    if (isSeq(seq)) {
      walkList(doc, { path: [...ref.path, "steps"], name: "steps", seq }, ref.path, depth, visitor);
    }
  } else if (type === "parallel") {
    const branches = ref.map.get("branches", true);
    if (!isSeq(branches)) return;
    branches.items.forEach((branch, i) => {
      const branchPath = [...ref.path, "branches", i];
      if (isSeq(branch)) {
        visitor.branch?.(ref.path, i, branchPath, undefined);
        walkList(doc, { path: branchPath, name: `branch ${i + 1}`, seq: branch }, ref.path, depth, visitor);
      } else if (isMap(branch)) {
        const name = str(branch, "name");
        visitor.branch?.(ref.path, i, branchPath, name);
        const seq = branch.get("steps", true);
        if (isSeq(seq)) {
          const list = { path: [...branchPath, "steps"], name: name ?? `branch ${i + 1}`, seq };
          walkList(doc, list, ref.path, depth, visitor);
        }
      }
    });
  } else if (type === "poll") {
    const inner = ref.map.get("step", true);
    if (isMap(inner)) {
      walkStep(doc, { path: [...ref.path, "step"], map: inner, parentStep: ref.path, depth }, visitor);
    }
  }
}

/** Every step id in the document, with how often it occurs. */
export function stepIdCounts(doc: Document): Map<string, number> {
  const counts = new Map<string, number>();
  walkFlow(doc, {
    step: ({ map }) => {
      const id = str(map, "id");
      if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
    },
  });
  return counts;
}

/** The path of the step with this id, if there is exactly one. */
export function findStep(doc: Document, id: string): StepRef | undefined {
  let found: StepRef | undefined;
  let count = 0;
  walkFlow(doc, {
    step: (ref) => {
      if (str(ref.map, "id") === id) {
        found = ref;
        count += 1;
      }
    },
  });
  return count === 1 ? found : undefined;
}
