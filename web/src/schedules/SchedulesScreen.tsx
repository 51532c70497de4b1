// Schedules: the Temporal Schedules the API keeps, each running a stored flow or a stored
// suite (one suite run per firing); create, trigger now, pause/resume, delete.
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { call, errorText, http } from "../api/typed";
import { ErrorNote, Loading, useLoad, when } from "../common/ui";
import { allFlows } from "../suites/SuitesScreen";
import { emptyForm, type Overlap, type ScheduleForm, type ScheduleOut, scheduleBody, targetLabel, timingLabel } from "./model";

const OVERLAPS: Overlap[] = ["skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"];

type Action = "trigger" | "pause" | "resume" | "delete";

async function act(id: string, what: Action): Promise<void> {
  const path = { params: { path: { schedule_id: id } } };
  if (what === "trigger") await call(http.POST("/api/v1/schedules/{schedule_id}/trigger", path), "triggering");
  else if (what === "pause") await call(http.POST("/api/v1/schedules/{schedule_id}/pause", path), "pausing");
  else if (what === "resume") await call(http.POST("/api/v1/schedules/{schedule_id}/resume", path), "resuming");
  else await call(http.DELETE("/api/v1/schedules/{schedule_id}", path), "deleting");
}

export function SchedulesScreen() {
  const list = useLoad(() => call(http.GET("/api/v1/schedules"), "listing schedules"), []);
  const flows = useLoad(allFlows, []);
  const suites = useLoad(() => call(http.GET("/api/v1/suites"), "listing suites"), []);
  const envs = useLoad(() => call(http.GET("/api/v1/environments"), "listing environments"), []);
  const [form, setForm] = useState<ScheduleForm>(emptyForm);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ error: boolean; text: string }>();
  const flowNames = useMemo(() => new Map((flows.data ?? []).map((f) => [f.id, f.name])), [flows.data]);
  const suiteNames = useMemo(() => new Map((suites.data ?? []).map((s) => [s.id, s.name])), [suites.data]);
  const change = (patch: Partial<ScheduleForm>) => setForm((f) => ({ ...f, ...patch }));
  const targets = form.target === "suite" ? [...suiteNames] : [...flowNames];

  const create = async () => {
    const made = scheduleBody(form);
    if ("error" in made) {
      setMessage({ error: true, text: made.error });
      return;
    }
    setBusy(true);
    setMessage(undefined);
    try {
      const out = await call(http.POST("/api/v1/schedules", { body: made.body }), "creating the schedule");
      setMessage({ error: false, text: `Created schedule ${out.name}.` });
      setForm(emptyForm);
      list.reload();
    } catch (e) {
      setMessage({ error: true, text: `Not created: ${errorText(e)}` });
    } finally {
      setBusy(false);
    }
  };

  const run = async (s: ScheduleOut, what: Action) => {
    setMessage(undefined);
    try {
      await act(s.id, what);
      list.reload();
    } catch (e) {
      setMessage({ error: true, text: `${s.name}: ${errorText(e)}` });
    }
  };

  return (
    <div className="page wide">
      <h1>Schedules</h1>
      <form
        className="card"
        aria-label="New schedule"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <label>
          Name
          <input className="input" name="schedule-name" value={form.name} onChange={(e) => change({ name: e.target.value })} />
        </label>
        <fieldset>
          <legend>Runs</legend>
          <label className="inline">
            <input type="radio" name="schedule-target" checked={form.target === "flow"} onChange={() => change({ target: "flow", targetId: "" })} /> a flow
          </label>
          <label className="inline">
            <input type="radio" name="schedule-target" checked={form.target === "suite"} onChange={() => change({ target: "suite", targetId: "" })} /> a suite (one suite run per firing)
          </label>
          <select className="input" aria-label={form.target === "suite" ? "Suite" : "Flow"} value={form.targetId} onChange={(e) => change({ targetId: e.target.value })}>
            <option value="">{form.target === "suite" ? "Pick a suite…" : "Pick a flow…"}</option>
            {targets.map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        </fieldset>
        <fieldset>
          <legend>When</legend>
          <label className="inline">
            <input type="radio" name="schedule-timing" checked={form.timing === "cron"} onChange={() => change({ timing: "cron" })} /> cron
          </label>
          <label className="inline">
            <input type="radio" name="schedule-timing" checked={form.timing === "interval"} onChange={() => change({ timing: "interval" })} /> every
          </label>
          {form.timing === "cron" ? (
            <textarea className="input" aria-label="Cron expressions, one a line" rows={2} placeholder="0 3 * * *" value={form.cron} onChange={(e) => change({ cron: e.target.value })} />
          ) : (
            <input className="input" aria-label="Interval" placeholder="30s, 5m, 1h" value={form.interval} onChange={(e) => change({ interval: e.target.value })} />
          )}
          <input className="input" aria-label="Time zone" placeholder="time zone (UTC)" value={form.timezone} onChange={(e) => change({ timezone: e.target.value })} />
        </fieldset>
        <label>
          Environment
          <select className="input" value={form.environment} onChange={(e) => change({ environment: e.target.value })}>
            <option value="">{form.target === "suite" ? "(the suite's)" : "(none)"}</option>
            {(envs.data ?? []).map((env) => (
              <option key={env.name} value={env.name}>
                {env.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          When a run is still going
          <select className="input" value={form.overlap} onChange={(e) => change({ overlap: e.target.value as Overlap })}>
            {OVERLAPS.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          <input type="checkbox" checked={form.paused} onChange={(e) => change({ paused: e.target.checked })} /> start paused
        </label>
        <div className="toolbar">
          <button type="submit" className="btn primary" disabled={busy}>
            {busy ? "Creating…" : "Create schedule"}
          </button>
        </div>
        <p className="muted small">The schedule keeps a snapshot of the flow or suite and the environment: after editing them, create it again.</p>
      </form>
      {message ? message.error ? <ErrorNote error={message.text} /> : <p className="ok-text" role="status">{message.text}</p> : null}
      {list.error ? <ErrorNote error={list.error} onRetry={list.reload} /> : null}
      {list.loading && !list.data ? <Loading what="schedules" /> : null}
      <ul className="plugin-list" aria-label="Schedules">
        {(list.data ?? []).map((s) => (
          <li key={s.id} className="card" aria-label={`Schedule ${s.name}`}>
            <header className="card-header">
              <h2>{s.name}</h2>
              <span className={s.paused ? "status-badge st-skipped" : "status-badge st-passed"}>{s.paused ? "paused" : "active"}</span>
            </header>
            <p className="muted">
              {targetLabel(s, flowNames, suiteNames)} · {timingLabel(s)} · {s.environment ?? "no environment"} · overlap {s.overlap}
            </p>
            <p className="muted small">Next: {(s.next_runs ?? []).slice(0, 3).map(when).join(", ") || "—"}</p>
            {(s.recent_runs ?? []).length > 0 ? (
              <ul className="chips" aria-label="Recent runs">
                {(s.recent_runs ?? []).map((r) => (
                  <li key={r}>
                    <Link to={`/runs/${encodeURIComponent(r)}`} className="mono">
                      {r}
                    </Link>
                  </li>
                ))}
              </ul>
            ) : null}
            <div className="toolbar">
              <button type="button" className="btn" onClick={() => void run(s, "trigger")}>
                Run now
              </button>
              <button type="button" className="btn" onClick={() => void run(s, s.paused ? "resume" : "pause")}>
                {s.paused ? "Resume" : "Pause"}
              </button>
              <button type="button" className="btn danger" onClick={() => void run(s, "delete")}>
                Delete
              </button>
            </div>
          </li>
        ))}
      </ul>
      {list.data && list.data.length === 0 ? <p className="empty-state">No schedules yet.</p> : null}
    </div>
  );
}
