// Flow Document -> graph: nodes for steps, containers for sections, parallel branches,
// groups and polls; edges for the order of a list, for `depends_on` and between sections.

import { isMap, type Node as YamlNode } from "yaml";
import { formatPath, nodeAt, type ParsedFlow, rangeOf } from "./document";
import type { Diagnostic, DocPath, FlowEdge, FlowGraph, FlowNode, NodeKind } from "./types";
import { dependsOn, SECTION_PATHS, stepIdCounts, str, walkFlow } from "./walk";

const key = (path: DocPath): string => path.join("\u0000");

/** Build the graph of a parsed flow. Never throws: problems become diagnostics. */
export function flowToGraph(parsed: ParsedFlow): FlowGraph {
  const { doc, lineCounter } = parsed;
  const nodes: FlowNode[] = [];
  const edges: FlowEdge[] = [];
  const diagnostics: Diagnostic[] = [];
  if (!isMap(doc.contents)) return { nodes, edges, diagnostics };

  const counts = stepIdCounts(doc);
  const nodeIdByPath = new Map<string, string>();
  const containerOfList = new Map<string, string>();
  const nodeIdByStepId = new Map<string, string>();
  /** Lists in walk order, with the node ids of their items, for sequence edges. */
  const lists: { name: string; container: string; items: string[]; dag: boolean }[] = [];
  const listIndex = new Map<string, number>();
  const deps: { nodeId: string; ids: string[]; map: YamlNode; path: DocPath }[] = [];

  const sectionIds: string[] = [];
  for (const section of SECTION_PATHS) {
    const seq = nodeAt(doc, section.path);
    // `steps` is always shown so an empty flow has a place to drop the first step.
    if (seq === undefined && section.name !== "steps") continue;
    const id = `section:${section.name}`;
    nodes.push({ id, kind: "section", path: section.path, label: section.name, range: rangeOf(seq, lineCounter) });
    containerOfList.set(key(section.path), id);
    if (!section.name.startsWith("hooks")) sectionIds.push(id);
  }

  const diag = (message: string, path: DocPath, node: YamlNode | undefined, severity: "error" | "warning" = "error") => {
    const r = rangeOf(node, lineCounter);
    diagnostics.push({ message, severity, path: formatPath(path), line: r?.line, col: r?.col, endLine: r?.endLine, endCol: r?.endCol, source: "structure" });
  };

  walkFlow(doc, {
    list: (list) => {
      const container = containerOfList.get(key(list.path));
      if (container === undefined) return;
      listIndex.set(key(list.path), lists.length);
      const dag = list.seq.items.some((item) => isMap(item) && dependsOn(item).length > 0);
      lists.push({ name: list.name, container, items: [], dag });
    },
    branch: (parallel, index, branchPath, name) => {
      const parent = nodeIdByPath.get(key(parallel));
      if (parent === undefined) return;
      const id = `${parent}#branch${index}`;
      const branchNode = nodeAt(doc, branchPath);
      nodes.push({ id, kind: "branch", path: branchPath, parentId: parent, label: name ?? `branch ${index + 1}`, range: rangeOf(branchNode, lineCounter) });
      const listPath = isMap(branchNode) ? [...branchPath, "steps"] : branchPath;
      containerOfList.set(key(listPath), id);
    },
    step: (ref) => {
      const stepId = str(ref.map, "id");
      const type = str(ref.map, "type");
      const unique = stepId !== undefined && counts.get(stepId) === 1;
      const id = unique ? `step:${stepId}` : `path:${formatPath(ref.path)}`;
      nodeIdByPath.set(key(ref.path), id);
      if (unique) nodeIdByStepId.set(stepId, id);
      const parentId = ref.list
        ? containerOfList.get(key(ref.list.path))
        : ref.parentStep && nodeIdByPath.get(key(ref.parentStep));
      const kind: NodeKind =
        type === "parallel" || type === "group" || type === "poll" || type === "call" ? type : "step";
      const node: FlowNode = {
        id,
        kind,
        path: ref.path,
        parentId,
        label: stepId ?? `(no id) ${type ?? "step"}`,
        stepId,
        stepType: type,
        description: str(ref.map, "description"),
        listPath: ref.list?.path,
        index: ref.index,
        range: rangeOf(ref.map, lineCounter),
      };
      if (kind === "call") node.subflow = str(ref.map, "flow");
      nodes.push(node);
      if (kind === "group") containerOfList.set(key([...ref.path, "steps"]), id);
      if (ref.list) {
        const li = listIndex.get(key(ref.list.path));
        if (li !== undefined) lists[li]?.items.push(id);
      }
      if (stepId === undefined) diag("step has no `id`", ref.path, ref.map);
      else if (!unique) diag(`duplicate step id '${stepId}'`, [...ref.path, "id"], ref.map.get("id", true) as YamlNode);
      if (type === undefined) diag("step has no `type`", ref.path, ref.map);
      const ids = dependsOn(ref.map);
      if (ids.length > 0) deps.push({ nodeId: id, ids, map: ref.map, path: ref.path });
    },
  });

  for (const list of lists) {
    if (list.dag) continue; // a list with depends_on runs as a DAG: only its depends_on edges
    for (let i = 1; i < list.items.length; i++) {
      const source = list.items[i - 1] as string;
      const target = list.items[i] as string;
      edges.push({ id: `seq:${source}->${target}`, source, target, kind: "sequence" });
    }
  }
  for (let i = 1; i < sectionIds.length; i++) {
    const source = sectionIds[i - 1] as string;
    const target = sectionIds[i] as string;
    edges.push({ id: `section:${source}->${target}`, source, target, kind: "section" });
  }
  for (const dep of deps) {
    for (const depId of dep.ids) {
      const source = nodeIdByStepId.get(depId);
      const where = [...dep.path, "depends_on"];
      const depNode = isMap(dep.map) ? (dep.map.get("depends_on", true) as YamlNode) : undefined;
      if (source === undefined) {
        diag(`depends_on: unknown step '${depId}'`, where, depNode);
      } else if (source === dep.nodeId) {
        diag(`depends_on: step depends on itself`, where, depNode);
      } else {
        edges.push({ id: `dep:${source}->${dep.nodeId}`, source, target: dep.nodeId, kind: "depends_on" });
      }
    }
  }
  for (const cycle of findCycles(edges.filter((e) => e.kind === "depends_on"))) {
    const node = nodes.find((n) => n.id === cycle[0]);
    if (node) diag(`depends_on cycle: ${cycle.map((id) => id.replace(/^step:/, "")).join(" -> ")}`, [...node.path, "depends_on"], nodeAt(doc, [...node.path, "depends_on"]));
  }
  return { nodes, edges, diagnostics };
}

/** Cycles in a directed graph (one per strongly connected cycle found by DFS). */
function findCycles(edges: FlowEdge[]): string[][] {
  const out = new Map<string, string[]>();
  for (const e of edges) out.set(e.source, [...(out.get(e.source) ?? []), e.target]);
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (n: string): void => {
    state.set(n, 1);
    stack.push(n);
    for (const m of out.get(n) ?? []) {
      const s = state.get(m);
      if (s === 1) cycles.push([...stack.slice(stack.indexOf(m)), m]);
      else if (s === undefined) visit(m);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of out.keys()) if (!state.has(n)) visit(n);
  return cycles;
}

/** The graph node a diagnostic belongs to: the deepest step whose path prefixes the
 * diagnostic's path, else the innermost step whose text range holds its line. */
export function nodeForDiagnostic(graph: FlowGraph, d: Diagnostic): FlowNode | undefined {
  const steps = graph.nodes.filter((n) => n.kind !== "section" && n.kind !== "branch");
  if (d.path) {
    const path = d.path;
    let best: FlowNode | undefined;
    for (const n of steps) {
      const p = formatPath(n.path);
      if ((path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`)) && (!best || p.length > formatPath(best.path).length)) best = n;
    }
    if (best) return best;
  }
  if (d.line !== undefined) {
    const line = d.line;
    let best: FlowNode | undefined;
    for (const n of steps) {
      const r = n.range;
      if (r && r.line <= line && line <= r.endLine && (!best?.range || r.line >= best.range.line)) best = n;
    }
    return best;
  }
  return undefined;
}
