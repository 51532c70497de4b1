// One step of a run: status, error and retries, assertions with their diffs, what it
// extracted and changed, its request/response (from the artifact store) and its logs.
import { useState } from "react";
import { call, http, type StepRecord } from "../api/typed";
import { ErrorNote, JsonBlock, Loading, StatusBadge, useLoad } from "../common/ui";
import { DiffView } from "./DiffView";
import type { LiveStatus } from "./state";
import { formatMs } from "./timeline";

interface Detail {
  request?: unknown;
  response?: unknown;
  fields?: unknown;
  logs?: { level?: string; message: string; at?: string | null }[];
}

type Tab = "overview" | "request" | "logs";

export function StepDetail({ runId, record, status }: { runId: string; record: StepRecord; status: LiveStatus }) {
  const [tab, setTab] = useState<Tab>("overview");
  const finished = status !== "running";
  const detail = useLoad<Detail | undefined>(
    () =>
      finished
        ? call(http.GET("/api/v1/runs/{run_id}/steps/{key}/detail", { params: { path: { run_id: runId, key: record.key } } }), "loading the step's detail").then((d) => d as Detail)
        : Promise.resolve(undefined),
    [runId, record.key, finished],
  );
  const assertions = record.assertions ?? [];
  const failed = assertions.filter((a) => !a.passed);
  const logs = detail.data?.logs ?? record.logs ?? [];
  return (
    <div className="step-detail" aria-label={`Step ${record.key}`}>
      <header className="sd-header">
        <h2 className="panel-title">
          {record.key} <span className="muted">{record.kind}</span>
        </h2>
        <StatusBadge status={status} />
      </header>
      <p className="muted">
        {formatMs(record.duration_ms ?? 0)} · {record.attempts ?? 0} attempt{record.attempts === 1 ? "" : "s"}
        {record.worker ? ` · ${record.worker}` : ""}
        {record.summary ? ` · ${record.summary}` : ""}
      </p>
      <div className="tabs" role="tablist" aria-label="Step detail">
        {(["overview", "request", "logs"] as Tab[]).map((t) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} className={tab === t ? "tab active" : "tab"} onClick={() => setTab(t)}>
            {t === "overview" ? `Assertions (${assertions.length})` : t === "request" ? "Request / response" : `Logs (${logs.length})`}
          </button>
        ))}
      </div>
      {tab === "overview" ? (
        <div>
          {record.error ? (
            <div className="error-box" role="alert">
              <strong>{record.error.type}</strong>: {record.error.message}
            </div>
          ) : null}
          {record.skip_reason ? <p className="muted">Skipped: {record.skip_reason}</p> : null}
          {(record.attempt_errors ?? []).length > 0 ? (
            <>
              <h3 className="panel-subtitle">Retries</h3>
              <ol className="retries">
                {(record.attempt_errors ?? []).map((a) => (
                  <li key={a.attempt}>
                    attempt {a.attempt}: <span className="error-text">{a.error}</span>
                  </li>
                ))}
              </ol>
            </>
          ) : null}
          <h3 className="panel-subtitle">Assertions</h3>
          {assertions.length === 0 ? <p className="muted">This step has no assertions.</p> : null}
          <ul className="assertions">
            {assertions.map((a, i) => (
              <li key={i} className={a.passed ? "passed" : "failed"}>
                <span className={`dot st-${a.passed ? "passed" : "failed"}`} aria-hidden="true" />
                <code>{a.path}</code> <span className="muted">{a.matcher}</span> {a.message}
                {!a.passed ? <DiffView assertion={a} /> : null}
              </li>
            ))}
          </ul>
          {failed.length === 0 && assertions.length > 0 ? <p className="ok-text">All {assertions.length} assertion(s) held.</p> : null}
          {Object.keys(record.extracted ?? {}).length > 0 ? (
            <>
              <h3 className="panel-subtitle">Extracted</h3>
              <JsonBlock value={record.extracted} label="extracted values" />
            </>
          ) : null}
          {Object.keys(record.context_changes ?? {}).length > 0 ? (
            <>
              <h3 className="panel-subtitle">Context changes</h3>
              <JsonBlock value={record.context_changes} label="context changes" />
            </>
          ) : null}
        </div>
      ) : null}
      {tab === "request" ? (
        !finished ? (
          <p className="muted">The request and response come when the step finishes.</p>
        ) : detail.loading ? (
          <Loading what="the step's detail" />
        ) : detail.error ? (
          <ErrorNote error={detail.error} onRetry={detail.reload} />
        ) : (
          <div>
            <h3 className="panel-subtitle">Request</h3>
            {detail.data?.request ? <JsonBlock value={detail.data.request} label="request" /> : <p className="muted">This step sent no request.</p>}
            <h3 className="panel-subtitle">Response</h3>
            {detail.data?.response ? <JsonBlock value={detail.data.response} label="response" /> : <p className="muted">No response recorded.</p>}
            {detail.data?.fields && Object.keys(detail.data.fields as object).length > 0 ? (
              <>
                <h3 className="panel-subtitle">Result fields</h3>
                <JsonBlock value={detail.data.fields} label="result fields" />
              </>
            ) : null}
          </div>
        )
      ) : null}
      {tab === "logs" ? (
        logs.length === 0 ? (
          <p className="muted">No log lines.</p>
        ) : (
          <ol className="logs mono">
            {logs.map((l, i) => (
              <li key={i} className={`log-${l.level ?? "info"}`}>
                <span className="muted">{l.at ? new Date(l.at).toLocaleTimeString() : ""}</span> <strong>{l.level ?? "info"}</strong> {l.message}
              </li>
            ))}
          </ol>
        )
      ) : null}
    </div>
  );
}
