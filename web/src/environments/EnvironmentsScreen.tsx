// Environments: the variables, named connections and secrets a run gets (`GET/POST/PUT/DELETE
// /environments`, admin to change). Secrets are write-only: the screen shows whether one is
// set, lets the user replace or remove it, and never shows a value (the API never sends one).
import { type ReactNode, useEffect, useMemo, useState } from "react";
import { ApiError } from "../api/client";
import { call, errorText, http } from "../api/typed";
import { ErrorNote, Loading, useLoad, when } from "../common/ui";
import { bodyFrom, type Draft, draftFrom, emptyDraft, type EnvironmentOut, nameProblem, problems, renames } from "./model";
import "./environments.css";

function Rows<T>(props: {
  title: string;
  rows: T[];
  addLabel: string;
  empty: string;
  onAdd: () => void;
  render: (row: T, i: number) => ReactNode;
}) {
  return (
    <fieldset className="env-rows" aria-label={props.title}>
      <legend>{props.title}</legend>
      {props.rows.length === 0 ? <p className="muted">{props.empty}</p> : null}
      {props.rows.map((r, i) => (
        <div className="env-row" key={i}>
          {props.render(r, i)}
        </div>
      ))}
      <button type="button" className="btn" onClick={props.onAdd}>
        {props.addLabel}
      </button>
    </fieldset>
  );
}

function Editor({ initial, creating, onSaved, onDeleted }: { initial: Draft; creating: boolean; onSaved: (env: EnvironmentOut, from: string) => void; onDeleted: () => void }) {
  const [d, setD] = useState<Draft>(initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  // The API's word on the name (409: taken; 422: refused), shown beside the field.
  const [nameRefused, setNameRefused] = useState<string>();
  const [confirmDelete, setConfirmDelete] = useState(false);
  useEffect(() => {
    setD(initial);
    setError(undefined);
    setNameRefused(undefined);
    setConfirmDelete(false);
  }, [initial]);
  // The stored name: the PUT's path. A draft with another name renames the environment.
  const original = creating ? undefined : initial.name;
  const issues = useMemo(() => problems(d, creating, original), [d, creating, original]);
  const nameIssue = nameProblem(d, creating, original) ?? nameRefused;
  const renaming = renames(d, original);

  const update = <K extends keyof Draft>(key: K, rows: Draft[K]) => setD((old) => ({ ...old, [key]: rows }));
  const patchAt = <K extends "variables" | "connections" | "secrets">(key: K, i: number, patch: Partial<Draft[K][number]>) =>
    setD((old) => ({ ...old, [key]: old[key].map((r, j) => (j === i ? { ...r, ...patch } : r)) }));
  const removeAt = (key: "variables" | "connections" | "secrets", i: number) => setD((old) => ({ ...old, [key]: old[key].filter((_, j) => j !== i) }));

  const save = async () => {
    setBusy(true);
    setError(undefined);
    setNameRefused(undefined);
    try {
      const body = bodyFrom(d);
      const env = creating
        ? await call(http.POST("/api/v1/environments", { body }), "creating the environment")
        : await call(http.PUT("/api/v1/environments/{name}", { params: { path: { name: initial.name } }, body }), "saving the environment");
      onSaved(env, initial.name);
    } catch (e) {
      const onName = e instanceof ApiError ? e.diagnostics.find((x) => x.path === "name") : undefined;
      if (onName) setNameRefused(e instanceof ApiError && e.status === 409 ? errorText(e) : onName.message);
      else setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await call(http.DELETE("/api/v1/environments/{name}", { params: { path: { name: initial.name } } }), "deleting the environment");
      onDeleted();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="card env-editor"
      aria-label={creating ? "New environment" : `Environment ${initial.name}`}
      autoComplete="off"
      onSubmit={(e) => {
        e.preventDefault();
        if (issues.length === 0) void save();
      }}
    >
      <header className="card-header">
        <h2>{creating ? "New environment" : initial.name}</h2>
      </header>
      <label>
        Name
        <input
          className="input"
          name="env-name"
          value={d.name}
          onChange={(e) => {
            setD({ ...d, name: e.target.value });
            setNameRefused(undefined);
          }}
          placeholder="staging"
          aria-invalid={Boolean(nameIssue)}
          aria-describedby={nameIssue ? "env-name-error" : renaming ? "env-name-note" : undefined}
        />
      </label>
      {nameIssue ? (
        <p className="field-error" id="env-name-error" role="alert">
          {nameIssue}
        </p>
      ) : renaming ? (
        <p className="env-rename-note muted small" id="env-name-note">
          Saving renames {initial.name} to {d.name}. Secrets move with it, still sealed; suites that run in {initial.name} follow. Past runs keep the name they ran with.
        </p>
      ) : null}
      <label>
        Description
        <input className="input" name="env-description" value={d.description} onChange={(e) => setD({ ...d, description: e.target.value })} />
      </label>

      <Rows
        title="Variables"
        rows={d.variables}
        addLabel="+ Variable"
        empty="No variables. Flows read them as env.NAME."
        onAdd={() => update("variables", [...d.variables, { key: "", value: "" }])}
        render={(v, i) => (
          <>
            <input className="input" aria-label="Variable name" placeholder="NAME" value={v.key} onChange={(e) => patchAt("variables", i, { key: e.target.value })} />
            <input className="input grow" aria-label={`Value of ${v.key || "variable"}`} placeholder='text, or JSON: 5, true, {"a": 1}' value={v.value} onChange={(e) => patchAt("variables", i, { value: e.target.value })} />
            <button type="button" className="btn ghost" aria-label={`Remove variable ${v.key}`} onClick={() => removeAt("variables", i)}>
              ×
            </button>
          </>
        )}
      />

      <Rows
        title="Connections"
        rows={d.connections}
        addLabel="+ Connection"
        empty="No named connections."
        onAdd={() => update("connections", [...d.connections, { name: "", dsn: "", url: "", options: "" }])}
        render={(c, i) => (
          <>
            <input className="input" aria-label="Connection name" placeholder="name" value={c.name} onChange={(e) => patchAt("connections", i, { name: e.target.value })} />
            <input className="input grow" aria-label={`DSN of ${c.name || "connection"}`} placeholder="dsn" value={c.dsn} onChange={(e) => patchAt("connections", i, { dsn: e.target.value })} />
            <input className="input grow" aria-label={`URL of ${c.name || "connection"}`} placeholder="url" value={c.url} onChange={(e) => patchAt("connections", i, { url: e.target.value })} />
            <input className="input grow" aria-label={`Options of ${c.name || "connection"}`} placeholder='options (JSON object)' value={c.options} onChange={(e) => patchAt("connections", i, { options: e.target.value })} />
            <button type="button" className="btn ghost" aria-label={`Remove connection ${c.name}`} onClick={() => removeAt("connections", i)}>
              ×
            </button>
          </>
        )}
      />

      <Rows
        title="Secrets"
        rows={d.secrets}
        addLabel="+ Secret"
        empty="No secrets. Values are write-only: once saved they are never shown again."
        onAdd={() => update("secrets", [...d.secrets, { name: "", stored: false, value: "" }])}
        render={(s, i) => (
          <>
            {s.stored ? (
              <code className="env-secret-name">{s.name}</code>
            ) : (
              <input className="input" aria-label="Secret name" placeholder="NAME" value={s.name} onChange={(e) => patchAt("secrets", i, { name: e.target.value })} />
            )}
            <span className={s.stored ? "status-badge st-passed" : "status-badge st-skipped"} data-testid={`secret-state-${s.name}`}>
              {s.stored ? "set" : "not set"}
            </span>
            <input
              className="input grow"
              type="password"
              autoComplete="new-password"
              aria-label={s.stored ? `Replace secret ${s.name}` : `Value of secret ${s.name || "(new)"}`}
              placeholder={s.stored ? "leave empty to keep the stored value" : "value"}
              value={s.value}
              onChange={(e) => patchAt("secrets", i, { value: e.target.value })}
            />
            {s.stored && s.value !== "" ? <span className="muted small">will be replaced</span> : null}
            <button type="button" className="btn ghost" aria-label={`Remove secret ${s.name}`} onClick={() => removeAt("secrets", i)}>
              ×
            </button>
          </>
        )}
      />

      {issues.some((p) => p !== nameIssue) ? (
        <ul className="problems" aria-label="Problems">
          {issues.filter((p) => p !== nameIssue).map((p) => (
            <li key={p} className="error">
              {p}
            </li>
          ))}
        </ul>
      ) : null}
      {error ? <ErrorNote error={error} /> : null}
      <div className="toolbar">
        <button type="submit" className="btn primary" disabled={busy || issues.length > 0}>
          {creating ? "Create" : renaming ? `Save and rename to ${d.name}` : "Save"}
        </button>
        {!creating ? (
          confirmDelete ? (
            <>
              <button type="button" className="btn danger" disabled={busy} onClick={() => void remove()}>
                Really delete {initial.name}
              </button>
              <button type="button" className="btn" onClick={() => setConfirmDelete(false)}>
                Keep it
              </button>
            </>
          ) : (
            <button type="button" className="btn danger" disabled={busy} onClick={() => setConfirmDelete(true)}>
              Delete
            </button>
          )
        ) : null}
      </div>
      <p className="muted small">Changing environments needs an admin token.</p>
    </form>
  );
}

export function EnvironmentsScreen() {
  const list = useLoad(() => call(http.GET("/api/v1/environments"), "listing environments"), []);
  // undefined: nothing chosen; "": a new one; else the name of the one being edited.
  const [chosen, setChosen] = useState<string>();
  const [saved, setSaved] = useState<string>();
  // The PUT/POST answer, shown until the list is loaded again (a renamed one is not in it yet).
  const [answer, setAnswer] = useState<EnvironmentOut>();
  const envs = list.data ?? [];
  const current = envs.find((e) => e.name === chosen) ?? (answer?.name === chosen ? answer : undefined);
  const initial = useMemo(() => (chosen === "" ? emptyDraft() : current ? draftFrom(current) : undefined), [chosen, current]);

  return (
    <div className="page wide env-page">
      <h1>Environments</h1>
      {list.error ? <ErrorNote error={list.error} onRetry={list.reload} /> : null}
      {saved ? (
        <p className="ok-text" role="status">
          {saved}
        </p>
      ) : null}
      <div className="env-layout">
        <nav className="card env-list" aria-label="Environments">
          <button type="button" className="btn primary" onClick={() => { setChosen(""); setSaved(undefined); }}>
            + New environment
          </button>
          {list.loading && !list.data ? <Loading what="environments" /> : null}
          {list.data && envs.length === 0 ? <p className="muted">No environments yet.</p> : null}
          <ul>
            {envs.map((e) => (
              <li key={e.name}>
                <button type="button" className={e.name === chosen ? "env-item active" : "env-item"} aria-current={e.name === chosen ? "true" : undefined} onClick={() => { setChosen(e.name); setSaved(undefined); }}>
                  <strong>{e.name}</strong>
                  <span className="muted small">
                    {Object.keys(e.variables).length} variables · {Object.keys(e.connections).length} connections · {Object.keys(e.secrets).length} secrets
                  </span>
                  <span className="muted small">updated {when(e.updated_at)}</span>
                </button>
              </li>
            ))}
          </ul>
        </nav>
        {initial ? (
          <Editor
            initial={initial}
            creating={chosen === ""}
            onSaved={(env, from) => {
              setSaved(from && from !== env.name ? `Renamed ${from} to ${env.name}.` : `Saved ${env.name}.`);
              setAnswer(env);
              setChosen(env.name);
              list.reload();
            }}
            onDeleted={() => {
              setSaved(`Deleted ${chosen ?? ""}.`);
              setChosen(undefined);
              list.reload();
            }}
          />
        ) : (
          <p className="muted">Choose an environment, or create one.</p>
        )}
      </div>
    </div>
  );
}
