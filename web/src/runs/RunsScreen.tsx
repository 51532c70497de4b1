// Run history: every run in the index, newest first, filtered by flow, status, tag and
// environment (a flow's history is /runs?flow=<id>, a suite run's flows /runs?parent=<run id>).
import { Link, useSearchParams } from "react-router";
import { call, http } from "../api/typed";
import { ErrorNote, Loading, StatusBadge, useLoad, when } from "../common/ui";
import { formatMs } from "../run/timeline";

// "queued": a flow of a suite run that waits for the suite's concurrency to start it.
const STATUSES = ["", "queued", "running", "passed", "failed", "error", "cancelled"];
const PAGE_SIZE = 50;

export function RunsScreen() {
  const [params, setParams] = useSearchParams();
  const flow = params.get("flow") ?? "";
  const status = params.get("status") ?? "";
  const tag = params.get("tag") ?? "";
  const environment = params.get("environment") ?? "";
  const suite = params.get("suite") ?? "";
  const parent = params.get("parent") ?? "";
  const page = Math.max(1, Number(params.get("page") ?? "1") || 1);
  const runs = useLoad(
    () =>
      call(
        http.GET("/api/v1/runs", {
          params: { query: { flow: flow || undefined, status: status || undefined, tag: tag || undefined, environment: environment || undefined, suite: suite || undefined, parent: parent || undefined, page, page_size: PAGE_SIZE } },
        }),
        "listing runs",
      ),
    [flow, status, tag, environment, suite, parent, page],
  );
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== "page") next.delete("page");
    setParams(next);
  };
  const total = runs.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));

  return (
    <div className="page wide">
      <h1>Runs</h1>
      <form className="filters" role="search" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <label className="inline">
          Flow
          <input className="input" value={flow} onChange={(e) => set("flow", e.target.value)} placeholder="flow id or name" />
        </label>
        <label className="inline">
          Status
          <select className="input" value={status} onChange={(e) => set("status", e.target.value)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || "any"}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          Tag
          <input className="input" value={tag} onChange={(e) => set("tag", e.target.value)} />
        </label>
        <label className="inline">
          Environment
          <input className="input" value={environment} onChange={(e) => set("environment", e.target.value)} />
        </label>
        {suite ? (
          <button type="button" className="btn" onClick={() => set("suite", "")}>
            suite {suite} ✕
          </button>
        ) : null}
        {parent ? (
          <button type="button" className="btn" onClick={() => set("parent", "")}>
            flows of {parent} ✕
          </button>
        ) : null}
        <button type="button" className="btn" onClick={runs.reload}>
          Refresh
        </button>
      </form>
      {runs.error ? <ErrorNote error={runs.error} onRetry={runs.reload} /> : null}
      {runs.loading && !runs.data ? <Loading what="runs" /> : null}
      {runs.data ? (
        <>
          <table className="grid runs-table" aria-label="Runs">
            <thead>
              <tr>
                <th scope="col">status</th>
                <th scope="col">flow</th>
                <th scope="col">started</th>
                <th scope="col">duration</th>
                <th scope="col">steps</th>
                <th scope="col">environment</th>
                <th scope="col">trigger</th>
                <th scope="col">run</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.items.map((r) => (
                <tr key={r.run_id}>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>
                    {r.flow_id ? <Link to={`/runs?flow=${encodeURIComponent(r.flow_id)}`}>{r.flow_name}</Link> : r.flow_name}
                    {r.tags.length > 0 ? <span className="muted"> {r.tags.map((t) => `#${t}`).join(" ")}</span> : null}
                  </td>
                  <td>{when(r.started_at)}</td>
                  <td>{r.status === "running" ? "…" : formatMs(r.duration_ms)}</td>
                  <td className="mono">
                    {Object.entries(r.counts)
                      .filter(([, n]) => n > 0)
                      .map(([s, n]) => `${n} ${s}`)
                      .join(", ")}
                  </td>
                  <td>{r.environment ?? "—"}</td>
                  <td>{r.trigger}</td>
                  <td>
                    <Link to={`/runs/${encodeURIComponent(r.run_id)}`} className="mono">
                      {r.run_id}
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {runs.data.items.length === 0 ? <p className="empty-state">No runs match. Start one from the Builder or the Suites screen.</p> : null}
          <nav className="pager" aria-label="Pages">
            <button type="button" className="btn" disabled={page <= 1} onClick={() => set("page", String(page - 1))}>
              ← Newer
            </button>
            <span className="muted">
              page {page} of {pages} · {total} run{total === 1 ? "" : "s"}
            </span>
            <button type="button" className="btn" disabled={page >= pages} onClick={() => set("page", String(page + 1))}>
              Older →
            </button>
          </nav>
        </>
      ) : null}
    </div>
  );
}
