// Edit a saved suite in place: name, description, tags, environment, concurrency, fail-fast and its flows
// (add from a list or from the library's selection, remove, reorder by buttons or by dragging).
// Problems the screen can see block the save and show beside their field; the API's 422 errors
// come back (from the screen, which saves) and show the same way.
import { type ReactNode, useMemo, useState } from "react";
import type { FlowSummary } from "./api";
import { addFlows, type FieldErrors, move, problems, type SuiteDraft, without } from "./edit";
import "./suites.css";

function FieldError({ id, message }: { id: string; message: string | undefined }) {
  return message ? (
    <p className="field-error" id={id} role="alert">
      {message}
    </p>
  ) : null;
}

function Field({ label, name, error, children }: { label: string; name: string; error: string | undefined; children: (a11y: { id: string; "aria-invalid": boolean; "aria-describedby"?: string }) => ReactNode }) {
  const id = `suite-${name}`;
  const a11y = { id, "aria-invalid": Boolean(error), ...(error ? { "aria-describedby": `${id}-error` } : {}) };
  return (
    <div className="suite-field">
      <label htmlFor={id}>{label}</label>
      {children(a11y)}
      <FieldError id={`${id}-error`} message={error} />
    </div>
  );
}

export interface SuiteEditorProps {
  title: string;
  initial: SuiteDraft;
  /** Errors of a save the API refused (by field), shown until the user changes that field. */
  refused: FieldErrors;
  /** Why the editor came back (a refused save), shown above the buttons. */
  notice?: string;
  flows: FlowSummary[];
  environments: string[];
  /** Flows selected in the library table. */
  picked: string[];
  onSave: (draft: SuiteDraft) => void;
  onCancel: () => void;
}

export function SuiteEditor(props: SuiteEditorProps) {
  const [d, setD] = useState<SuiteDraft>(props.initial);
  const [refused, setRefused] = useState<FieldErrors>(props.refused);
  const [toAdd, setToAdd] = useState("");
  const [dragging, setDragging] = useState<number>();
  const byId = useMemo(() => new Map(props.flows.map((f) => [f.id, f])), [props.flows]);
  const local = useMemo(() => problems(d, new Set(byId.keys())), [d, byId]);
  const blocked = Object.keys(local).length > 0;
  const error = (key: string): string | undefined => [local[key], refused[key]].filter(Boolean).join("; ") || undefined;

  const change = (patch: Partial<SuiteDraft>, ...fields: string[]) => {
    setD((old) => ({ ...old, ...patch }));
    setRefused((r) => without(r, ...fields, "form"));
  };
  const setFlows = (flowIds: string[]) => {
    // A flow that left the suite takes its error with it; the list's own error goes too.
    const gone = d.flowIds.filter((id) => !flowIds.includes(id)).map((id) => `flow:${id}`);
    change({ flowIds }, "flows", ...gone);
  };
  const label = (id: string) => byId.get(id)?.name ?? id;
  const addable = props.flows.filter((f) => !d.flowIds.includes(f.id)).sort((a, b) => a.name.localeCompare(b.name));
  const pickedNew = props.picked.filter((id) => !d.flowIds.includes(id) && byId.has(id));
  const envs = d.environment && !props.environments.includes(d.environment) ? [...props.environments, d.environment] : props.environments;

  return (
    <form
      className="suite-editor"
      aria-label={props.title}
      onSubmit={(e) => {
        e.preventDefault();
        if (!blocked) props.onSave(d);
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") props.onCancel();
      }}
    >
      {props.notice ? (
        <p className="field-error suite-notice" role="alert">
          {props.notice}
        </p>
      ) : null}
      <Field label="Name" name="name" error={error("name")}>
        {(a) => <input className="input" name="suite-name" value={d.name} onChange={(e) => change({ name: e.target.value }, "name")} {...a} />}
      </Field>
      <Field label="Description" name="description" error={error("description")}>
        {(a) => <textarea className="input" name="suite-description" rows={2} value={d.description} onChange={(e) => change({ description: e.target.value }, "description")} {...a} />}
      </Field>
      <Field label="Tags (comma-separated)" name="tags" error={error("tags")}>
        {(a) => <input className="input" name="suite-tags" placeholder="orders, nightly" value={d.tags} onChange={(e) => change({ tags: e.target.value }, "tags")} {...a} />}
      </Field>
      <div className="suite-field-row">
        <Field label="Environment" name="environment" error={error("environment")}>
          {(a) => (
            <select className="input" name="suite-environment" value={d.environment} onChange={(e) => change({ environment: e.target.value }, "environment")} {...a}>
              <option value="">(none)</option>
              {envs.map((n) => (
                <option key={n} value={n}>
                  {props.environments.includes(n) ? n : `${n} (missing)`}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Concurrency" name="concurrency" error={error("concurrency")}>
          {(a) => <input className="input" name="suite-concurrency" type="number" min={1} max={1000} value={d.concurrency} onChange={(e) => change({ concurrency: e.target.value }, "concurrency")} {...a} />}
        </Field>
      </div>
      <div className="suite-field">
        <label className="suite-check">
          <input type="checkbox" name="suite-fail-fast" checked={d.failFast} aria-describedby={error("fail_fast") ? "suite-fail_fast-error" : undefined} onChange={(e) => change({ failFast: e.target.checked }, "fail_fast")} />{" "}
          Fail fast: start no more flows after one does not pass
        </label>
        <FieldError id="suite-fail_fast-error" message={error("fail_fast")} />
      </div>

      <fieldset className="suite-flows-box" aria-label="Flows in the suite">
        <legend>
          Flows ({d.flowIds.length}), run in this order
        </legend>
        <FieldError id="suite-flows-error" message={error("flows")} />
        <ol className="suite-flows">
          {d.flowIds.map((id, i) => {
            const problem = error(`flow:${id}`);
            const name = label(id);
            return (
              <li
                key={id}
                data-flow-id={id}
                className={[problem ? "invalid" : "", dragging === i ? "dragging" : ""].join(" ").trim() || undefined}
                draggable
                onDragStart={(e) => {
                  setDragging(i);
                  e.dataTransfer.effectAllowed = "move";
                  e.dataTransfer.setData("text/plain", id);
                }}
                onDragOver={(e) => e.preventDefault()}
                onDrop={(e) => {
                  e.preventDefault();
                  if (dragging !== undefined) setFlows(move(d.flowIds, dragging, i));
                  setDragging(undefined);
                }}
                onDragEnd={() => setDragging(undefined)}
              >
                <span className="drag-handle" aria-hidden="true" title="Drag to reorder">
                  ⠿
                </span>
                <span className="suite-flow-n">{i + 1}.</span>
                <span className="suite-flow-name">
                  {name}
                  {byId.get(id)?.folder ? <span className="muted small"> {byId.get(id)?.folder}</span> : null}
                </span>
                <button type="button" className="btn ghost" aria-label={`Move ${name} up`} disabled={i === 0} onClick={() => setFlows(move(d.flowIds, i, i - 1))}>
                  ↑
                </button>
                <button type="button" className="btn ghost" aria-label={`Move ${name} down`} disabled={i === d.flowIds.length - 1} onClick={() => setFlows(move(d.flowIds, i, i + 1))}>
                  ↓
                </button>
                <button type="button" className="btn ghost" aria-label={`Remove ${name} from the suite`} onClick={() => setFlows(d.flowIds.filter((x) => x !== id))}>
                  ×
                </button>
                {problem ? <p className="field-error" role="alert">{problem}</p> : null}
              </li>
            );
          })}
        </ol>
        <div className="suite-add">
          <select className="input" aria-label="Flow to add" value={toAdd} onChange={(e) => setToAdd(e.target.value)}>
            <option value="">Add a flow…</option>
            {addable.map((f) => (
              <option key={f.id} value={f.id}>
                {f.name}
                {f.folder ? ` (${f.folder})` : ""}
              </option>
            ))}
          </select>
          <button
            type="button"
            className="btn"
            disabled={!toAdd}
            onClick={() => {
              setFlows(addFlows(d.flowIds, [toAdd]));
              setToAdd("");
            }}
          >
            Add
          </button>
          <button type="button" className="btn" disabled={pickedNew.length === 0} onClick={() => setFlows(addFlows(d.flowIds, pickedNew))} title="The flows ticked in the library">
            Add selected ({pickedNew.length})
          </button>
        </div>
      </fieldset>

      <FieldError id="suite-form-error" message={refused.form} />
      <div className="toolbar">
        <button type="submit" className="btn primary" disabled={blocked}>
          Save
        </button>
        <button type="button" className="btn" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
