// What each step waits for, read off the flow graph: its `depends_on` edges, else the step
// before it in its list (order). Shown beside the read-only dependency graph.
import type { FlowGraph } from "../flow/types";

export interface DependencyRow {
  stepId: string;
  kind: string;
  /** The steps it declares in depends_on. */
  dependsOn: string[];
  /** The step it follows in list order (no depends_on in its list). */
  after: string | undefined;
  /** The steps that wait for it (depends_on or order). */
  dependents: string[];
}

export function dependencyRows(graph: FlowGraph): DependencyRow[] {
  const steps = graph.nodes.filter((n) => n.stepId !== undefined);
  const label = new Map(steps.map((n) => [n.id, n.stepId as string]));
  const rows = new Map<string, DependencyRow>(
    steps.map((n) => [n.id, { stepId: n.stepId as string, kind: n.stepType ?? n.kind, dependsOn: [], after: undefined, dependents: [] }]),
  );
  for (const e of graph.edges) {
    const source = label.get(e.source);
    const target = rows.get(e.target);
    if (source === undefined || target === undefined) continue;
    if (e.kind === "depends_on") target.dependsOn.push(source);
    else if (e.kind === "sequence") target.after = source;
    else continue;
    rows.get(e.source)?.dependents.push(target.stepId);
  }
  return [...rows.values()];
}
