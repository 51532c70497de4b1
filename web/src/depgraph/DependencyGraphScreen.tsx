// A stored flow's dependency graph (`/flows/:flowId/graph`): the Builder's canvas, read-only,
// with its depends_on (dashed) and order edges, and a table of what each step waits for.
import { useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { api, type StepKindInfo } from "../api/client";
import { Canvas } from "../builder/Canvas";
import { ErrorNote, Loading, useLoad } from "../common/ui";
import { parseFlow } from "../flow/document";
import { flowToGraph } from "../flow/graph";
import { dependencyRows } from "./deps";

const noop = () => undefined;

export function DependencyGraphScreen() {
  const { flowId = "" } = useParams();
  const flow = useLoad(() => api.getFlow(flowId), [flowId]);
  const kinds = useLoad<StepKindInfo[]>(() => api.stepKinds(), []);
  const kindMap = useMemo(() => new Map((kinds.data ?? []).map((k) => [k.name, k])), [kinds.data]);
  const graph = useMemo(() => (flow.data ? flowToGraph(parseFlow(flow.data.text)) : undefined), [flow.data]);
  const rows = useMemo(() => (graph ? dependencyRows(graph) : []), [graph]);
  const [selected, setSelected] = useState<string>();

  return (
    <div className="run-screen depgraph-page">
      <header className="run-header">
        <h1>
          Dependencies of {flow.data?.name ?? flowId} {flow.data ? <span className="muted small">v{flow.data.version}</span> : null}
        </h1>
        <div className="toolbar">
          <Link className="btn" to={`/builder/${encodeURIComponent(flowId)}`}>
            Open in Builder
          </Link>
        </div>
      </header>
      {flow.error ? <ErrorNote error={flow.error} onRetry={flow.reload} /> : null}
      {flow.loading && !flow.data ? <Loading what="the flow" /> : null}
      {graph ? (
        <div className="run-body">
          <div className="run-main">
            <Canvas
              graph={graph}
              kinds={kindMap}
              diagnostics={graph.diagnostics}
              selectedId={selected}
              onSelect={setSelected}
              direction="TB"
              positions={{}}
              onPositions={noop}
              onDropKind={noop}
              onMoveNode={noop}
              onConnectDep={noop}
              onRemoveDep={noop}
              readOnly
            />
          </div>
          <aside className="run-side depgraph-side" aria-label="Dependencies">
            <p className="muted small">Dashed edges: depends_on; solid: list order (a list with any depends_on runs as a DAG).</p>
            <table className="depgraph-table">
              <thead>
                <tr>
                  <th>step</th>
                  <th>waits for</th>
                  <th>needed by</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.stepId} className={selected === `step:${r.stepId}` ? "selected" : undefined} onClick={() => setSelected(`step:${r.stepId}`)}>
                    <td>
                      <code>{r.stepId}</code> <span className="muted small">{r.kind}</span>
                    </td>
                    <td>{r.dependsOn.length > 0 ? r.dependsOn.join(", ") : r.after ? <span className="muted">{r.after} (order)</span> : "—"}</td>
                    <td>{r.dependents.join(", ") || "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </aside>
        </div>
      ) : null}
    </div>
  );
}
