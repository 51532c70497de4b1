// Report Dashboard: runs over time, pass rate and duration trends, slowest and flaky steps,
// failures grouped by error signature; filtered by flow, tag, environment and period.
import { useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { call, http } from "../api/typed";
import { ErrorNote, Loading, Section, useLoad } from "../common/ui";
import { formatMs } from "../run/timeline";
import { Lines, StackedBars } from "./charts";
import { type DayCounts, durationByDay, fillDays, passRateByDay } from "./series";

interface Dashboard {
  runs_over_time: DayCounts[];
  pass_rate: number | null;
  durations: { flow: string; runs: number; p50_ms: number; p95_ms: number }[];
  slowest_steps: { step: string; mean_ms: number; runs: number }[];
  flaky_steps: { step: string; passed: number; failed: number }[];
  failure_clusters: { type: string; message: string; count: number }[];
}

const pct = (v: number) => `${Math.round(v * 100)}%`;

export function DashboardScreen() {
  const [params, setParams] = useSearchParams();
  const flow = params.get("flow") ?? "";
  const tag = params.get("tag") ?? "";
  const environment = params.get("environment") ?? "";
  const days = Number(params.get("days") ?? "14") || 14;
  const query = { flow: flow || undefined, tag: tag || undefined, environment: environment || undefined };
  const stats = useLoad(() => call(http.GET("/api/v1/stats/dashboard", { params: { query: { ...query, days } } }), "loading the dashboard").then((d) => d as unknown as Dashboard), [flow, tag, environment, days]);
  // Duration trends come from the runs themselves (the newest 500 in the filter).
  const runs = useLoad(() => call(http.GET("/api/v1/runs", { params: { query: { ...query, page_size: 500 } } }), "listing runs"), [flow, tag, environment]);
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next);
  };

  const today = new Date().toISOString().slice(0, 10);
  const from = new Date(Date.now() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
  const daily = useMemo(() => fillDays(stats.data?.runs_over_time ?? [], from, today, (day): DayCounts => ({ day })), [stats.data, from, today]);
  const rate = useMemo(() => passRateByDay(daily), [daily]);
  const durations = useMemo(() => {
    const by = new Map(durationByDay((runs.data?.items ?? []).filter((r) => r.started_at.slice(0, 10) >= from)).map((d) => [d.day, d]));
    return daily.map((d) => by.get(d.day));
  }, [runs.data, daily, from]);
  const s = stats.data;
  const totalRuns = daily.reduce((n, d) => n + ["passed", "failed", "error", "cancelled"].reduce((m, k) => m + (Number(d[k]) || 0), 0), 0);

  return (
    <div className="page wide dashboard">
      <h1>Report dashboard</h1>
      <form className="filters" role="search" aria-label="Filter the dashboard" onSubmit={(e) => e.preventDefault()}>
        <label className="inline">
          Flow
          <input className="input" value={flow} onChange={(e) => set("flow", e.target.value)} placeholder="flow id or name" />
        </label>
        <label className="inline">
          Tag
          <input className="input" value={tag} onChange={(e) => set("tag", e.target.value)} />
        </label>
        <label className="inline">
          Environment
          <input className="input" value={environment} onChange={(e) => set("environment", e.target.value)} />
        </label>
        <label className="inline">
          Period
          <select className="input" value={days} onChange={(e) => set("days", e.target.value)}>
            {[1, 7, 14, 30, 90].map((d) => (
              <option key={d} value={d}>
                {d === 1 ? "today" : `${d} days`}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="btn" onClick={() => (stats.reload(), runs.reload())}>
          Refresh
        </button>
      </form>
      {stats.error ? <ErrorNote error={stats.error} onRetry={stats.reload} /> : null}
      {stats.loading && !s ? <Loading what="the dashboard" /> : null}
      {s ? (
        <>
          <div className="kpis">
            <div className="kpi">
              <span className="kpi-value">{totalRuns}</span> finished runs
            </div>
            <div className="kpi">
              <span className="kpi-value" data-testid="pass-rate">{s.pass_rate === null ? "—" : pct(s.pass_rate)}</span> pass rate
            </div>
            <div className="kpi">
              <span className="kpi-value">{s.flaky_steps.length}</span> flaky steps
            </div>
            <div className="kpi">
              <span className="kpi-value">{s.failure_clusters.reduce((n, c) => n + c.count, 0)}</span> step failures
            </div>
          </div>
          <div className="chart-grid-2">
            <Section title="Runs over time">
              <StackedBars days={daily} label="Runs per day by outcome" />
              <p className="legend">
                <span className="sw fill-passed" /> passed <span className="sw fill-failed" /> failed <span className="sw fill-error" /> error <span className="sw fill-cancelled" /> cancelled
              </p>
            </Section>
            <Section title="Pass rate">
              <Lines days={daily.map((d) => d.day)} series={[{ name: "pass rate", className: "line-passed", values: rate.map((r) => r.value) }]} max={1} format={pct} label="Pass rate per day" />
            </Section>
            <Section title="Duration trend">
              {runs.error ? <ErrorNote error={runs.error} onRetry={runs.reload} /> : null}
              <Lines
                days={daily.map((d) => d.day)}
                series={[
                  { name: "median", className: "line-p50", values: durations.map((d) => d?.p50 ?? null) },
                  { name: "p95", className: "line-p95", values: durations.map((d) => d?.p95 ?? null) },
                ]}
                format={formatMs}
                label="Run duration per day, median and p95"
              />
              <p className="legend">
                <span className="sw line-p50" /> median <span className="sw line-p95" /> p95
              </p>
            </Section>
            <Section title="Durations by flow">
              <table className="grid" aria-label="Durations by flow">
                <thead>
                  <tr>
                    <th scope="col">flow</th>
                    <th scope="col">runs</th>
                    <th scope="col">median</th>
                    <th scope="col">p95</th>
                  </tr>
                </thead>
                <tbody>
                  {s.durations.map((d) => (
                    <tr key={d.flow}>
                      <td>
                        <Link to={`/runs?flow=${encodeURIComponent(d.flow)}`}>{d.flow}</Link>
                      </td>
                      <td>{d.runs}</td>
                      <td>{formatMs(d.p50_ms)}</td>
                      <td>{formatMs(d.p95_ms)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Section>
          </div>
          <div className="chart-grid-3">
            <Section title="Slowest steps">
              <ol className="ranked" aria-label="Slowest steps">
                {s.slowest_steps.map((x) => (
                  <li key={x.step}>
                    <span className="mono">{x.step}</span> <span className="muted">{formatMs(x.mean_ms)} mean over {x.runs}</span>
                  </li>
                ))}
                {s.slowest_steps.length === 0 ? <li className="muted">No finished steps in this period.</li> : null}
              </ol>
            </Section>
            <Section title="Flaky steps">
              <ul className="ranked" aria-label="Flaky steps">
                {s.flaky_steps.map((x) => (
                  <li key={x.step}>
                    <span className="mono">{x.step}</span> <span className="ok-text">{x.passed} passed</span> / <span className="error-text">{x.failed} failed</span>
                  </li>
                ))}
                {s.flaky_steps.length === 0 ? <li className="muted">No step both passed and failed in this period.</li> : null}
              </ul>
            </Section>
            <Section title="Failures by error signature">
              <ul className="ranked" aria-label="Failure clusters">
                {s.failure_clusters.map((c, i) => (
                  <li key={i}>
                    <span className="badge error">{c.count}×</span> <strong>{c.type}</strong> <span className="mono">{c.message}</span>
                  </li>
                ))}
                {s.failure_clusters.length === 0 ? <li className="muted">No failures in this period.</li> : null}
              </ul>
            </Section>
          </div>
        </>
      ) : null}
    </div>
  );
}
