// The saved suites: run, select their flows, see their runs, delete, and edit in place.
// A save is optimistic: the card shows the edited suite (marked "saving…") while the PUT is in
// flight, and goes back to the stored suite if the API refuses it, with the editor reopened on
// the user's draft and the API's errors beside their fields. Nothing is shown as saved that
// the server did not store.
import { useEffect, useState } from "react";
import { Link } from "react-router";
import { ErrorNote } from "../common/ui";
import { ApiError, call, errorText, type FlowSummary, http } from "./api";
import { bodyFromDraft, draftFromSuite, type FieldErrors, optimisticSuite, serverErrors, type SuiteDraft, type SuiteOut } from "./edit";
import { SuiteEditor } from "./SuiteEditor";

interface Editing {
  id: string;
  draft: SuiteDraft;
  refused: FieldErrors;
  notice?: string;
}

interface Shown {
  suite: SuiteOut;
  /** The PUT has not answered yet. */
  pending: boolean;
}

export interface SuiteListProps {
  suites: SuiteOut[] | undefined;
  error: string | undefined;
  reload: () => void;
  flows: FlowSummary[];
  environments: string[];
  picked: string[];
  names: Map<string, string>;
  onRun: (id: string, name: string) => void;
  onDelete: (id: string, name: string) => void;
  onSelectFlows: (ids: string[]) => void;
  onSaved: (text: string) => void;
}

export function SuiteList(props: SuiteListProps) {
  const [editing, setEditing] = useState<Editing>();
  const [shown, setShown] = useState<Map<string, Shown>>(new Map());
  // Fresh data from the server replaces what a finished save showed; a pending one stays.
  useEffect(() => setShown((m) => new Map([...m].filter(([, v]) => v.pending))), [props.suites]);

  const setShownFor = (id: string, v: Shown | undefined) =>
    setShown((m) => {
      const n = new Map(m);
      if (v) n.set(id, v);
      else n.delete(id);
      return n;
    });

  const save = async (id: string, before: SuiteOut, draft: SuiteDraft) => {
    const body = bodyFromDraft(draft);
    setShownFor(id, { suite: optimisticSuite(id, draft), pending: true });
    setEditing(undefined);
    try {
      const saved = await call(http.PUT("/api/v1/suites/{suite_id}", { params: { path: { suite_id: id } }, body }), "saving the suite");
      setShownFor(id, { suite: saved, pending: false });
      props.onSaved(`Suite ${saved.name} saved.`);
      props.reload();
    } catch (e) {
      setShownFor(id, undefined); // back to the stored suite
      const refused = serverErrors(e instanceof ApiError ? e.diagnostics : [], body, errorText(e));
      const marked = Object.keys(refused).some((k) => k !== "form");
      setEditing({ id, draft, refused, notice: `Not saved: ${before.name} is as it was.${marked ? " The problems are marked below." : ""}` });
    }
  };

  const suites = (props.suites ?? []).map((s) => shown.get(s.id) ?? { suite: s, pending: false });
  return (
    <aside className="suites-list" aria-label="Suites">
      <h2 className="panel-subtitle">Suites</h2>
      {props.error ? <ErrorNote error={props.error} onRetry={props.reload} /> : null}
      {suites.length === 0 && !props.error ? <p className="muted">No suites yet: select flows and save them as one.</p> : null}
      <ul className="suite-cards">
        {suites.map(({ suite: s, pending }) => {
          const stored = props.suites?.find((x) => x.id === s.id) ?? s;
          const open = editing?.id === s.id;
          return (
            <li key={s.id} className={pending ? "suite-card pending" : "suite-card"} data-suite-id={s.id} aria-busy={pending}>
              <strong className="suite-card-name">{s.name}</strong> {pending ? <span className="status-badge st-running">saving…</span> : null}
              {s.description ? <p className="suite-description">{s.description}</p> : null}
              <div className="muted">
                {s.flow_ids.length} flow{s.flow_ids.length === 1 ? "" : "s"}
                {s.environment ? ` · ${s.environment}` : ""}
                {s.tags.length > 0 ? ` · ${s.tags.map((t) => `#${t}`).join(" ")}` : ""}
              </div>
              <div className="muted small" data-testid="suite-flows">
                {s.flow_ids.map((id) => props.names.get(id) ?? id).join(", ")}
              </div>
              {open && editing ? (
                <SuiteEditor
                  key={s.id}
                  title={`Edit suite ${stored.name}`}
                  initial={editing.draft}
                  refused={editing.refused}
                  notice={editing.notice}
                  flows={props.flows}
                  environments={props.environments}
                  picked={props.picked}
                  onSave={(draft) => void save(s.id, stored, draft)}
                  onCancel={() => setEditing(undefined)}
                />
              ) : (
                <div className="toolbar">
                  <button type="button" className="btn primary" disabled={pending} onClick={() => props.onRun(s.id, s.name)}>
                    Run suite
                  </button>
                  <button type="button" className="btn" disabled={pending} onClick={() => setEditing({ id: s.id, draft: draftFromSuite(stored), refused: {} })}>
                    Edit
                  </button>
                  <button type="button" className="btn" onClick={() => props.onSelectFlows(s.flow_ids)}>
                    Select its flows
                  </button>
                  <Link className="btn" to={`/runs?suite=${encodeURIComponent(s.id)}`}>
                    Runs
                  </Link>
                  <button type="button" className="btn danger" disabled={pending} onClick={() => props.onDelete(s.id, s.name)}>
                    Delete
                  </button>
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </aside>
  );
}
