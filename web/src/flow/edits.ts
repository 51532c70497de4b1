// Graph edits as minimal edits of the flow Document.
//
// Each function changes only the YAML nodes it must: a moved step keeps its comments (they
// hang on its node), a changed field keeps its quote style, untouched keys keep their order.
// Functions mutate the Document they are given; callers clone first when they need the old one.

import {
  type Document,
  isMap,
  isNode,
  isScalar,
  isSeq,
  Pair,
  Scalar,
  type Node as YamlNode,
  type YAMLMap,
  YAMLSeq,
} from "yaml";
import { formatPath, nodeAt } from "./document";
import type { DocPath } from "./types";
import { dependsOn, stepIdCounts, str, walkFlow } from "./walk";

/** A graph edit that cannot be applied; the message says why, for the user. */
export class EditError extends Error {
  override name = "EditError";
}

/** Where top-level keys go when they must be created, so a new `setup` lands before `steps`. */
const ROOT_ORDER = ["name", "description", "tags", "context", "defaults", "hooks", "setup", "steps", "teardown"];

function rootMap(doc: Document): YAMLMap {
  if (doc.contents === null || doc.contents === undefined) doc.contents = doc.createNode({}) as never;
  if (!isMap(doc.contents)) throw new EditError("the flow is not a mapping; fix the YAML first");
  return doc.contents;
}

/** The sequence at `listPath`, created (in the canonical key order) when it is missing. */
function ensureList(doc: Document, listPath: DocPath): YAMLSeq {
  const existing = nodeAt(doc, listPath);
  if (isSeq(existing)) return existing;
  if (existing !== undefined && !(isScalar(existing) && existing.value === null)) {
    throw new EditError(`${formatPath(listPath)} is not a list of steps`);
  }
  const seq = new YAMLSeq();
  if (listPath.length === 1 && typeof listPath[0] === "string") {
    const root = rootMap(doc);
    const name = listPath[0];
    const existingPair = root.items.find((p) => isScalar(p.key) && p.key.value === name);
    if (existingPair) {
      existingPair.value = seq;
      return seq;
    }
    const rank = ROOT_ORDER.indexOf(name);
    let at = root.items.length;
    if (rank >= 0) {
      const later = root.items.findIndex((p) => {
        const k = isScalar(p.key) ? String(p.key.value) : "";
        return ROOT_ORDER.indexOf(k) > rank;
      });
      if (later >= 0) at = later;
    }
    root.items.splice(at, 0, new Pair(doc.createNode(name), seq));
    return seq;
  }
  doc.setIn(listPath, seq);
  return seq;
}

function stepMapAt(doc: Document, path: DocPath): YAMLMap {
  const node = nodeAt(doc, path);
  if (!isMap(node)) throw new EditError(`no step at ${formatPath(path)}`);
  return node;
}

function splitStepPath(path: DocPath): { listPath: DocPath; index: number } {
  const index = path[path.length - 1];
  if (typeof index !== "number") {
    throw new EditError(`${formatPath(path)} is not in a list (a poll's inner step cannot be moved or deleted)`);
  }
  return { listPath: path.slice(0, -1), index };
}

/**
 * Remove item `index` of a sequence. When the first item goes, the next one takes over its
 * blank-line flag, so no stray blank line appears right under the list's key.
 */
function takeItem(seq: YAMLSeq, index: number): unknown {
  const [removed] = seq.items.splice(index, 1);
  const next = seq.items[index];
  if (index === 0 && isNode(next)) next.spaceBefore = isNode(removed) ? removed.spaceBefore : false;
  // The parser hangs comments that follow the last item (often the heading of the next
  // section, e.g. `# before teardown`) on that item: keep them where they were.
  if (index === seq.items.length && isNode(removed) && removed.comment) {
    const prev = seq.items[index - 1];
    const holder = isNode(prev) ? prev : seq;
    holder.comment = holder.comment ? `${holder.comment}\n${removed.comment}` : removed.comment;
    removed.comment = undefined;
  }
  return removed;
}

/** Insert `node` at `at`; a new last item takes over the trailing comment of the old one. */
function putItem(seq: YAMLSeq, at: number, node: unknown): void {
  const prev = seq.items[at - 1];
  if (at === seq.items.length && isNode(prev) && prev.comment && isNode(node)) {
    node.comment = node.comment ? `${node.comment}\n${prev.comment}` : prev.comment;
    prev.comment = undefined;
  }
  if (at === 0 && isNode(node)) node.spaceBefore = false; // no blank line right under `steps:`
  seq.items.splice(at, 0, node);
  if (seq.flow) seq.flow = false; // `steps: []` becomes a block list once it holds a step
}

/** A step id not used yet in the flow: `base`, `base2`, `base3`, ... */
export function uniqueStepId(doc: Document, base: string): string {
  const counts = stepIdCounts(doc);
  const clean = base.replace(/[^A-Za-z0-9_-]/g, "_").replace(/^[^A-Za-z_]/, "_$&") || "step";
  if (!counts.has(clean)) return clean;
  for (let i = 2; ; i++) if (!counts.has(`${clean}${i}`)) return `${clean}${i}`;
}

/** Insert a new step into the list at `listPath` (created if missing) at `index`. */
export function insertStep(doc: Document, listPath: DocPath, index: number, step: Record<string, unknown>): DocPath {
  const seq = ensureList(doc, listPath);
  const at = Math.max(0, Math.min(index, seq.items.length));
  putItem(seq, at, doc.createNode(step));
  return [...listPath, at];
}

/** Insert a new step right after the step at `afterPath`. */
export function insertStepAfter(doc: Document, afterPath: DocPath, step: Record<string, unknown>): DocPath {
  const { listPath, index } = splitStepPath(afterPath);
  return insertStep(doc, listPath, index + 1, step);
}

/** Delete the step at `path`; by default also drop its id from other steps' `depends_on`. */
export function deleteStep(doc: Document, path: DocPath, cleanDependsOn = true): void {
  const map = stepMapAt(doc, path);
  const { listPath, index } = splitStepPath(path);
  const seq = nodeAt(doc, listPath);
  if (!isSeq(seq)) throw new EditError(`${formatPath(listPath)} is not a list`);
  const id = str(map, "id");
  takeItem(seq, index);
  if (cleanDependsOn && id !== undefined && !stepIdCounts(doc).has(id)) {
    walkFlow(doc, { step: (ref) => void removeDepFrom(doc, ref.map, id) });
  }
}

/** Move the step at `from` to position `toIndex` of the list at `toList` (index in the list as it is after removal). */
export function moveStep(doc: Document, from: DocPath, toList: DocPath, toIndex: number): DocPath {
  const { listPath, index } = splitStepPath(from);
  const target = formatPath(toList);
  if (target === formatPath(from) || target.startsWith(`${formatPath(from)}.`) || target.startsWith(`${formatPath(from)}[`)) {
    throw new EditError("cannot move a step into itself");
  }
  const source = nodeAt(doc, listPath);
  if (!isSeq(source)) throw new EditError(`${formatPath(listPath)} is not a list`);
  // Find the destination before removing: removal may shift indices in paths through the source list.
  const dest = ensureList(doc, toList);
  const node = takeItem(source, index);
  if (node === undefined) throw new EditError(`no step at ${formatPath(from)}`);
  const at = Math.max(0, Math.min(toIndex, dest.items.length));
  putItem(dest, at, node);
  // A destination nested after the moved step in the same list moved up by one.
  const adjusted = [...toList];
  const seg = adjusted[listPath.length];
  if (
    adjusted.length > listPath.length &&
    formatPath(listPath) === formatPath(adjusted.slice(0, listPath.length)) &&
    typeof seg === "number" &&
    seg > index
  ) {
    adjusted[listPath.length] = seg - 1;
  }
  return [...adjusted, at];
}

/**
 * Set the value at `path` (undefined deletes it) with a minimal change: equal parts are left
 * alone, maps are diffed key by key (new keys appended, removed keys deleted, the order of the
 * others kept), sequences element by element, and a changed scalar keeps its node (so its
 * comment and quote style stay, unless the type changes).
 */
export function setField(doc: Document, path: DocPath, value: unknown): void {
  if (path.length === 0) throw new EditError("cannot replace the whole flow with setField");
  if (value === undefined) {
    if (doc.hasIn(path)) doc.deleteIn(path);
    return;
  }
  const node = nodeAt(doc, path);
  if (node === undefined || !applyValue(doc, node, value)) {
    doc.setIn(path, doc.createNode(value));
  }
}

/** Update `node` in place to hold `value`; false when it must be replaced instead. */
function applyValue(doc: Document, node: YamlNode, value: unknown): boolean {
  if (isScalar(node)) {
    if (value !== null && typeof value === "object") return false;
    if (node.value === value) return true;
    if (typeof node.value !== typeof value || (typeof value === "string" && node.type?.startsWith("BLOCK") && !value.includes("\n"))) {
      node.type = Scalar.PLAIN; // let the printer pick a style that fits the new type
    }
    node.value = value;
    delete node.format;
    return true;
  }
  if (isMap(node)) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
    const obj = value as Record<string, unknown>;
    for (const pair of [...node.items]) {
      const k = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (k !== undefined && !(k in obj)) node.delete(pair.key);
    }
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined) continue;
      const child = node.get(k, true) as YamlNode | undefined;
      if (child === undefined || !applyValue(doc, child, v)) node.set(doc.createNode(k), doc.createNode(v));
    }
    return true;
  }
  if (isSeq(node)) {
    if (!Array.isArray(value)) return false;
    value.forEach((v, i) => {
      const child = node.items[i] as YamlNode | undefined;
      if (child === undefined) node.items.push(doc.createNode(v));
      else if (!applyValue(doc, child, v)) node.items[i] = doc.createNode(v);
    });
    node.items.splice(value.length);
    return true;
  }
  return false;
}

/** Add `depId` to the `depends_on` list of the step at `stepPath` (no-op if present). */
export function addDependency(doc: Document, stepPath: DocPath, depId: string): void {
  const map = stepMapAt(doc, stepPath);
  if (str(map, "id") === depId) throw new EditError("a step cannot depend on itself");
  if (dependsOn(map).includes(depId)) return;
  const current = map.get("depends_on", true);
  if (isSeq(current)) {
    current.items.push(doc.createNode(depId));
  } else if (isScalar(current) && typeof current.value === "string") {
    const seq = doc.createNode([current.value, depId]) as YAMLSeq;
    seq.flow = true;
    map.set(doc.createNode("depends_on"), seq);
  } else {
    const seq = doc.createNode([depId]) as YAMLSeq;
    seq.flow = true; // `depends_on: [a, b]` reads best inline
    map.set(doc.createNode("depends_on"), seq);
  }
}

/** Remove `depId` from the `depends_on` of the step at `stepPath`; drops the key when empty. */
export function removeDependency(doc: Document, stepPath: DocPath, depId: string): void {
  removeDepFrom(doc, stepMapAt(doc, stepPath), depId);
}

function removeDepFrom(_doc: Document, map: YAMLMap, depId: string): boolean {
  const current = map.get("depends_on", true);
  if (isSeq(current)) {
    const before = current.items.length;
    current.items = current.items.filter((item) => !(isScalar(item) && String(item.value) === depId));
    if (current.items.length === before) return false;
    if (current.items.length === 0) map.delete("depends_on");
    return true;
  }
  if (isScalar(current) && current.value === depId) {
    map.delete("depends_on");
    return true;
  }
  return false;
}

/** Rename a step and every `depends_on` reference to it. */
export function renameStep(doc: Document, stepPath: DocPath, newId: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(newId)) {
    throw new EditError(`'${newId}' is not a valid step id (letters, digits, _ and -, not starting with a digit)`);
  }
  const map = stepMapAt(doc, stepPath);
  const oldId = str(map, "id");
  if (oldId === newId) return;
  if (stepIdCounts(doc).has(newId)) throw new EditError(`step id '${newId}' is already used`);
  setField(doc, [...stepPath, "id"], newId);
  if (oldId === undefined) return;
  walkFlow(doc, {
    step: ({ map: other }) => {
      const deps = other.get("depends_on", true);
      if (isSeq(deps)) {
        for (const item of deps.items) if (isScalar(item) && item.value === oldId) item.value = newId;
      } else if (isScalar(deps) && deps.value === oldId) {
        deps.value = newId;
      }
    },
  });
}
