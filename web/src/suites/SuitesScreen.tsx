// Test Suite Manager: the flow library by folder and tag with search, a selection that runs
// at once or becomes a suite, saved suites to run, edit or delete (SuiteList), and the
// environment they run in.
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { call, errorText, type FlowSummary, http, type StartedRunLike } from "./api";
import { ErrorNote, Loading, StatusBadge, useLoad } from "../common/ui";
import { type FolderNode, filterFlows, folderTree, tagCounts } from "./library";
import { SuiteList } from "./SuiteList";

function Folder({ node, current, onPick, depth = 0 }: { node: FolderNode; current: string; onPick: (p: string) => void; depth?: number }) {
  return (
    <li>
      <button type="button" className={current === node.path ? "folder active" : "folder"} style={{ paddingLeft: 6 + depth * 12 }} onClick={() => onPick(node.path)} aria-current={current === node.path}>
        {depth === 0 ? "▤" : "▸"} {node.name} <span className="muted">{node.count}</span>
      </button>
      {node.children.length > 0 ? (
        <ul>
          {node.children.map((c) => (
            <Folder key={c.path} node={c} current={current} onPick={onPick} depth={depth + 1} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}

export async function allFlows(): Promise<FlowSummary[]> {
  const out: FlowSummary[] = [];
  for (let page = 1; page <= 20; page++) {
    const p = await call(http.GET("/api/v1/flows", { params: { query: { page, page_size: 500 } } }), "listing flows");
    out.push(...p.items);
    if (out.length >= p.total || p.items.length === 0) break;
  }
  return out;
}

export function SuitesScreen() {
  const flows = useLoad(allFlows, []);
  const suites = useLoad(() => call(http.GET("/api/v1/suites"), "listing suites"), []);
  const envs = useLoad(() => call(http.GET("/api/v1/environments"), "listing environments"), []);
  const [folder, setFolder] = useState("");
  const [tags, setTags] = useState<string[]>([]);
  const [q, setQ] = useState("");
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [environment, setEnvironment] = useState("");
  const [suiteName, setSuiteName] = useState("");
  const [started, setStarted] = useState<StartedRunLike[]>([]);
  const [message, setMessage] = useState<{ error: boolean; text: string }>();

  const tree = useMemo(() => folderTree(flows.data ?? []), [flows.data]);
  const allTags = useMemo(() => tagCounts(flows.data ?? []), [flows.data]);
  const shown = useMemo(() => filterFlows(flows.data ?? [], { folder, tags, q }), [flows.data, folder, tags, q]);
  const names = useMemo(() => new Map((flows.data ?? []).map((f) => [f.id, f.name])), [flows.data]);

  const toggle = (id: string) =>
    setPicked((p) => {
      const n = new Set(p);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  const allShownPicked = shown.length > 0 && shown.every((f) => picked.has(f.id));

  const guard = async (what: string, fn: () => Promise<void>) => {
    setMessage(undefined);
    try {
      await fn();
    } catch (e) {
      setMessage({ error: true, text: `${what}: ${errorText(e)}` });
    }
  };

  const runFlows = (ids: string[]) =>
    guard("Could not start", async () => {
      const runs: StartedRunLike[] = [];
      for (const id of ids) {
        const r = await call(http.POST("/api/v1/runs", { body: { flow_id: id, environment: environment || undefined, vars: {} } }), `starting ${names.get(id) ?? id}`);
        runs.push({ run_id: r.run_id, label: names.get(id) ?? id });
      }
      setStarted(runs);
      setMessage({ error: false, text: `Started ${runs.length} run(s).` });
    });

  const runSuite = (suiteId: string, name: string) =>
    guard(`Could not run suite ${name}`, async () => {
      const r = await call(http.POST("/api/v1/runs", { body: { suite_id: suiteId, environment: environment || undefined, vars: {} } }), `running suite ${name}`);
      // One suite run (r.run_id) whose flows are runs of their own, in the suite's order; the
      // ones past the suite's concurrency are queued until it starts them.
      const flowIds = suites.data?.find((s) => s.id === suiteId)?.flow_ids ?? [];
      const children = (r.runs ?? []).map((x, i) => ({ run_id: x.run_id, label: names.get(flowIds[i] ?? "") ?? x.run_id }));
      setStarted([{ run_id: r.run_id, label: `suite run ${name}` }, ...children]);
      setMessage({ error: false, text: `Suite ${name}: ${children.length} flow(s) queued in suite run ${r.run_id}.` });
    });

  const saveSuite = () =>
    guard("Suite not saved", async () => {
      const name = suiteName.trim();
      if (!name) throw new Error("give the suite a name");
      if (picked.size === 0) throw new Error("select at least one flow");
      await call(http.POST("/api/v1/suites", { body: { name, flow_ids: [...picked], tags, environment: environment || null, concurrency: 4, fail_fast: false } }), "saving the suite");
      setSuiteName("");
      setMessage({ error: false, text: `Suite ${name} saved.` });
      suites.reload();
    });

  const deleteSuite = (id: string, name: string) =>
    guard(`Could not delete ${name}`, async () => {
      await call(http.DELETE("/api/v1/suites/{suite_id}", { params: { path: { suite_id: id } } }), "deleting the suite");
      suites.reload();
    });

  return (
    <div className="suites">
      <aside className="suites-side" aria-label="Folders and tags">
        <h2 className="panel-subtitle">Folders</h2>
        <ul className="folders">
          <Folder node={tree} current={folder} onPick={setFolder} />
        </ul>
        <h2 className="panel-subtitle">Tags</h2>
        <ul className="chips">
          {allTags.map(([t, n]) => (
            <li key={t}>
              <button type="button" className={tags.includes(t) ? "chip-btn active" : "chip-btn"} aria-pressed={tags.includes(t)} onClick={() => setTags((cur) => (cur.includes(t) ? cur.filter((x) => x !== t) : [...cur, t]))}>
                #{t} <span className="muted">{n}</span>
              </button>
            </li>
          ))}
          {allTags.length === 0 ? <li className="muted">No tags yet.</li> : null}
        </ul>
      </aside>
      <section className="suites-main" aria-label="Flows">
        <div className="builder-toolbar" role="toolbar" aria-label="Selection">
          <input className="input search" type="search" placeholder="Search flows by name, folder or tag" value={q} onChange={(e) => setQ(e.target.value)} aria-label="Search flows" />
          <label className="inline">
            Environment
            <select className="input" value={environment} onChange={(e) => setEnvironment(e.target.value)} aria-label="Environment">
              <option value="">(none)</option>
              {(envs.data ?? []).map((e) => (
                <option key={e.name} value={e.name}>
                  {e.name}
                </option>
              ))}
            </select>
          </label>
          <button type="button" className="btn primary" disabled={picked.size === 0} onClick={() => void runFlows([...picked])}>
            Run selected ({picked.size})
          </button>
          <input className="input narrow" placeholder="suite name" value={suiteName} onChange={(e) => setSuiteName(e.target.value)} aria-label="Suite name" />
          <button type="button" className="btn" disabled={picked.size === 0} onClick={() => void saveSuite()}>
            Save selection as suite
          </button>
        </div>
        {envs.error ? <ErrorNote error={`Environments: ${envs.error}`} onRetry={envs.reload} /> : null}
        {message ? message.error ? <ErrorNote error={message.text} /> : <p className="ok-text" role="status">{message.text}</p> : null}
        {started.length > 0 ? (
          <ul className="started" aria-label="Started runs">
            {started.map((r) => (
              <li key={r.run_id}>
                <Link to={`/runs/${encodeURIComponent(r.run_id)}`}>{r.label}</Link> <span className="muted mono">{r.run_id}</span>
              </li>
            ))}
          </ul>
        ) : null}
        {flows.error ? <ErrorNote error={flows.error} onRetry={flows.reload} /> : null}
        {flows.loading && !flows.data ? <Loading what="flows" /> : null}
        <table className="grid" aria-label="Flows">
          <thead>
            <tr>
              <th scope="col">
                <input
                  type="checkbox"
                  aria-label="Select all shown"
                  checked={allShownPicked}
                  onChange={() =>
                    setPicked((p) => {
                      const n = new Set(p);
                      for (const f of shown) if (allShownPicked) n.delete(f.id);
                        else n.add(f.id);
                      return n;
                    })
                  }
                />
              </th>
              <th scope="col">flow</th>
              <th scope="col">folder</th>
              <th scope="col">tags</th>
              <th scope="col">last run</th>
              <th scope="col" />
            </tr>
          </thead>
          <tbody>
            {shown.map((f) => (
              <tr key={f.id}>
                <td>
                  <input type="checkbox" checked={picked.has(f.id)} onChange={() => toggle(f.id)} aria-label={`Select ${f.name}`} />
                </td>
                <td>
                  <Link to={`/builder/${encodeURIComponent(f.id)}`}>{f.name}</Link> <span className="muted">v{f.version}</span>
                </td>
                <td className="muted">{f.folder ?? "—"}</td>
                <td>{f.tags.map((t) => `#${t}`).join(" ")}</td>
                <td>
                  {f.last_run ? (
                    <Link to={`/runs/${encodeURIComponent(f.last_run.run_id)}`}>
                      <StatusBadge status={f.last_run.status} />
                    </Link>
                  ) : (
                    <span className="muted">never</span>
                  )}{" "}
                  <Link className="muted" to={`/runs?flow=${encodeURIComponent(f.id)}`}>
                    history
                  </Link>
                </td>
                <td>
                  <button type="button" className="btn" onClick={() => void runFlows([f.id])}>
                    Run
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {flows.data && shown.length === 0 ? <p className="empty-state">No flow matches. Save flows from the Builder; give them folders and tags.</p> : null}
      </section>
      <SuiteList
        suites={suites.data}
        error={suites.error}
        reload={suites.reload}
        flows={flows.data ?? []}
        environments={(envs.data ?? []).map((e) => e.name)}
        picked={[...picked]}
        names={names}
        onRun={(id, name) => void runSuite(id, name)}
        onDelete={(id, name) => void deleteSuite(id, name)}
        onSelectFlows={(ids) => setPicked(new Set(ids))}
        onSaved={(text) => setMessage({ error: false, text })}
      />
    </div>
  );
}
