// The execution view of one run: graph coloured live from the event stream, the timeline,
// the context debugger and all logs, with the selected step's detail beside them.
import { useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { isMap } from "yaml";
import { api, type StepKindInfo } from "../api/client";
import { call, errorText, http } from "../api/typed";
import { Canvas } from "../builder/Canvas";
import { ErrorNote, StatusBadge, useLoad, when } from "../common/ui";
import { parseFlow } from "../flow/document";
import { flowToGraph } from "../flow/graph";
import { ContextDebugger } from "./ContextDebugger";
import { nodeStatuses, recordStatus } from "./state";
import { StepDetail } from "./StepDetail";
import { Timeline } from "./Timeline";
import { buildTimeline, formatMs } from "./timeline";
import { ReportLink } from "./ReportLink";
import { rerunFrom } from "./rerun";
import { useRun } from "./useRun";

type Tab = "graph" | "timeline" | "context" | "logs";
const noop = () => undefined;

export function RunScreen() {
  const { runId = "" } = useParams();
  const navigate = useNavigate();
  const live = useRun(runId);
  const { view, source } = live;
  const [tab, setTab] = useState<Tab>("graph");
  const [selectedKey, setSelectedKey] = useState<string>();
  const [actionError, setActionError] = useState<string>();
  const kinds = useLoad<StepKindInfo[]>(() => api.stepKinds(), []);
  const kindMap = useMemo(() => new Map((kinds.data ?? []).map((k) => [k.name, k])), [kinds.data]);

  const parsed = useMemo(() => (source?.text ? parseFlow(source.text) : undefined), [source?.text]);
  const graph = useMemo(() => (parsed ? flowToGraph(parsed) : undefined), [parsed]);
  const flowContextKeys = useMemo(() => {
    const ctx = parsed?.doc.get("context", true);
    return new Set(isMap(ctx) ? ctx.items.map((p) => String((p.key as { value?: unknown })?.value ?? p.key)) : []);
  }, [parsed]);
  const statuses = useMemo(() => (graph ? nodeStatuses(view, graph.nodes) : new Map()), [graph, view]);
  // While running, the timeline re-computes on every batch of events (its "now" moves too).
  const timeline = useMemo(() => buildTimeline(view), [view]);
  const records = useMemo(() => [...view.steps.values()], [view]);
  const selected = selectedKey ? view.steps.get(selectedKey) : undefined;
  const running = view.status === "running";
  // A failed step of a finished run: offer to re-run from it (or its top-level step).
  const rerunStep = source ? rerunFrom(selected, !running) : undefined;

  const selectNode = (nodeId: string | undefined) => {
    const node = graph?.nodes.find((n) => n.id === nodeId);
    if (!node?.stepId) return;
    // The latest record of that step (a loop has one per iteration).
    const match = records.filter((r) => r.step_id === node.stepId).pop();
    if (match) setSelectedKey(match.key);
  };

  const act = async (what: "cancel" | "rerun", fromStep?: string) => {
    setActionError(undefined);
    try {
      if (what === "cancel") {
        await call(http.POST("/api/v1/runs/{run_id}/cancel", { params: { path: { run_id: runId } } }), "cancelling the run");
      } else {
        const body = fromStep ? { from_step: fromStep } : {};
        const started = await call(http.POST("/api/v1/runs/{run_id}/rerun", { params: { path: { run_id: runId } }, body }), "re-running");
        navigate(`/runs/${encodeURIComponent(started.run_id)}`);
      }
    } catch (e) {
      setActionError(errorText(e));
    }
  };

  const counts = { passed: 0, failed: 0, error: 0, skipped: 0, cancelled: 0 } as Record<string, number>;
  for (const r of records) if (!view.running.has(r.key)) counts[r.status] = (counts[r.status] ?? 0) + 1;
  const duration = live.result && !running ? live.result.duration_ms : undefined;

  return (
    <div className="run-screen">
      <header className="run-header">
        <div className="run-title">
          <h1>
            {view.flow || source?.flow_name || runId} <StatusBadge status={view.status} />
          </h1>
          <p className="muted mono">
            {runId} · started {when(view.startedAt ?? source?.started_at)}
            {duration !== undefined ? ` · ${formatMs(duration)}` : ""}
            {source?.environment ? ` · environment ${source.environment}` : ""}
            {live.streaming ? " · live" : ""}
          </p>
          <p className="counts" aria-label="Step counts">
            {Object.entries(counts)
              .filter(([, n]) => n > 0)
              .map(([s, n]) => (
                <span key={s} className={`count st-${s}`}>
                  {n} {s}
                </span>
              ))}
            {view.running.size > 0 ? <span className="count st-running">{view.running.size} running</span> : null}
          </p>
          {source?.suite_id && !source.parent_run_id ? (
            <p className="muted">
              A suite run: each of its flows is a run of its own —{" "}
              <Link to={`/runs?parent=${encodeURIComponent(runId)}`}>the flows of this suite run</Link>
            </p>
          ) : null}
          {source?.suite_id && source.parent_run_id ? (
            <p className="muted">
              Part of suite run <Link to={`/runs/${encodeURIComponent(source.parent_run_id)}`}>{source.parent_run_id}</Link>
              {source.status === "queued" && !view.startedAt ? " · queued: it starts when the suite's concurrency allows" : ""}
            </p>
          ) : null}
        </div>
        <div className="run-actions">
          {source?.temporal_url ? (
            <a className="btn" href={source.temporal_url} target="_blank" rel="noreferrer" data-testid="temporal-link">
              Open in Temporal UI ↗
            </a>
          ) : (
            <span className="muted" title="Start `testflow serve --temporal-ui`, or set TESTFLOW_TEMPORAL_UI_URL">
              no Temporal UI configured
            </span>
          )}
          {source?.flow_id ? (
            <>
              <Link className="btn" to={`/builder/${encodeURIComponent(source.flow_id)}`}>
                Open flow
              </Link>
              <Link className="btn" to={`/runs?flow=${encodeURIComponent(source.flow_id)}`}>
                Flow history
              </Link>
            </>
          ) : null}
          {running ? (
            <button type="button" className="btn danger" onClick={() => void act("cancel")}>
              Cancel
            </button>
          ) : (
            <>
              <button type="button" className="btn" onClick={() => void act("rerun")} disabled={!source}>
                Re-run
              </button>
              <ReportLink url={`/api/v1/runs/${encodeURIComponent(runId)}/report/html`} label="HTML report" fileName={`${runId}.html`} newTab />
              <ReportLink url={`/api/v1/runs/${encodeURIComponent(runId)}/report/junit`} label="JUnit" fileName={`${runId}.junit.xml`} />
            </>
          )}
        </div>
      </header>
      {live.error ? <ErrorNote error={live.error} onRetry={live.refresh} /> : null}
      {actionError ? <ErrorNote error={actionError} /> : null}
      {live.result?.error ? (
        <div className="error-box" role="alert">
          <strong>{live.result.error.type}</strong>: {live.result.error.message}
        </div>
      ) : null}
      <div className="tabs" role="tablist" aria-label="Run views">
        {(["graph", "timeline", "context", "logs"] as Tab[]).map((t) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} className={tab === t ? "tab active" : "tab"} onClick={() => setTab(t)}>
            {t === "graph" ? "Graph" : t === "timeline" ? "Timeline" : t === "context" ? "Context" : "Logs"}
          </button>
        ))}
      </div>
      <div className="run-body">
        <div className="run-main">
          {tab === "graph" ? (
            graph ? (
              <Canvas
                graph={graph}
                kinds={kindMap}
                diagnostics={[]}
                selectedId={selected ? `step:${selected.step_id}` : undefined}
                onSelect={selectNode}
                direction="TB"
                positions={{}}
                onPositions={noop}
                onDropKind={noop}
                onMoveNode={noop}
                onConnectDep={noop}
                onRemoveDep={noop}
                readOnly
                statuses={statuses}
              />
            ) : (
              <p className="muted pad">{live.sourceError ? `No graph: ${live.sourceError}` : "Loading the flow…"}</p>
            )
          ) : null}
          {tab === "timeline" ? <Timeline timeline={timeline} selectedKey={selectedKey} onSelect={setSelectedKey} /> : null}
          {tab === "context" ? (
            <ContextDebugger
              steps={records.filter((r) => !view.running.has(r.key))}
              finalContext={running ? undefined : (live.result?.context as Record<string, unknown> | undefined)}
              runVariables={(source?.variables as Record<string, unknown> | undefined) ?? {}}
              flowContextKeys={flowContextKeys}
              running={running}
              onSelectStep={setSelectedKey}
            />
          ) : null}
          {tab === "logs" ? (
            <ol className="logs mono pad" aria-label="All logs">
              {records.flatMap((r) =>
                (r.logs ?? []).map((l, i) => (
                  <li key={`${r.key}#${i}`} className={`log-${l.level ?? "info"}`}>
                    <button type="button" className="link" onClick={() => setSelectedKey(r.key)}>
                      {r.key}
                    </button>{" "}
                    <strong>{l.level}</strong> {l.message}
                  </li>
                )),
              )}
              {records.every((r) => (r.logs ?? []).length === 0) ? <li className="muted">No log lines yet.</li> : null}
            </ol>
          ) : null}
        </div>
        <aside className="run-side" aria-label="Step detail">
          {selected && rerunStep ? (
            <button
              type="button"
              className="btn"
              data-testid="rerun-from"
              title="Run the flow again from this step: the steps before it are reused from this run, setup and teardown run again"
              onClick={() => void act("rerun", rerunStep)}
            >
              {rerunStep === selected.key ? "Re-run from here" : `Re-run from ${rerunStep}`}
            </button>
          ) : null}
          {selected ? (
            <StepDetail runId={runId} record={selected} status={recordStatus(view, selected.key) ?? selected.status} />
          ) : (
            <p className="muted">Select a step in the graph, the timeline or the context to see its request, response, assertions and logs.</p>
          )}
        </aside>
      </div>
    </div>
  );
}
