// The Context Debugger / Variable Inspector: pick a point of the run (before the first step,
// after any step) and see the context there, what that step changed, and where each
// variable came from.
import { useMemo, useState } from "react";
import type { StepRecord } from "../api/typed";
import { contextTimeline, initialContext, originLabel, variableOrigins } from "./context";

interface Props {
  steps: StepRecord[];
  finalContext: Record<string, unknown> | undefined;
  runVariables: Record<string, unknown>;
  flowContextKeys: Set<string>;
  running: boolean;
  onSelectStep: (key: string) => void;
}

const show = (v: unknown): string => {
  const text = typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v);
  return text === undefined ? "undefined" : text.length > 300 ? `${text.slice(0, 300)}…` : text;
};

export function ContextDebugger({ steps, finalContext, runVariables, flowContextKeys, running, onSelectStep }: Props) {
  // While running, the final context is not known yet: start from the run's variables.
  const initial = useMemo(() => (finalContext ? initialContext(finalContext, steps, runVariables) : { ...runVariables }), [finalContext, steps, runVariables]);
  const timeline = useMemo(() => contextTimeline(initial, steps), [initial, steps]);
  const origins = useMemo(
    () => variableOrigins(finalContext ?? timeline[timeline.length - 1]?.after ?? initial, steps, runVariables, flowContextKeys),
    [finalContext, timeline, initial, steps, runVariables, flowContextKeys],
  );
  const [at, setAt] = useState<number>(-1); // -1: the initial context
  const point = at >= 0 ? timeline[Math.min(at, timeline.length - 1)] : undefined;
  const ctx = point?.after ?? initial;
  const changed = new Set([...(point?.added ?? []), ...(point?.modified ?? [])]);

  return (
    <div className="context-debugger">
      <nav className="cd-steps" aria-label="Context after step">
        <h3 className="panel-subtitle">Context after…</h3>
        <ol>
          <li>
            <button type="button" className={at === -1 ? "cd-step active" : "cd-step"} onClick={() => setAt(-1)} aria-current={at === -1}>
              (start of the run)
            </button>
          </li>
          {timeline.map((s, i) => (
            <li key={s.key}>
              <button
                type="button"
                className={at === i ? "cd-step active" : "cd-step"}
                aria-current={at === i}
                onClick={() => {
                  setAt(i);
                  onSelectStep(s.key);
                }}
              >
                <span className={`dot st-${s.status}`} aria-hidden="true" /> {s.key}
                {s.added.length + s.modified.length > 0 ? <span className="badge changed">{s.added.length + s.modified.length} changed</span> : null}
              </button>
            </li>
          ))}
        </ol>
        {running ? <p className="muted">The run is still going: the context grows as steps finish.</p> : null}
      </nav>
      <div className="cd-main">
        <h3 className="panel-subtitle">{point ? `Context after ${point.key}` : "Context at the start of the run"}</h3>
        {point ? (
          <p className="muted">
            {point.added.length > 0 ? `added: ${point.added.join(", ")}. ` : ""}
            {point.modified.length > 0 ? `changed: ${point.modified.join(", ")}. ` : ""}
            {changed.size === 0 ? "This step changed nothing." : ""}
          </p>
        ) : (
          <p className="muted">Variables that a step overwrote had an initial value the run does not record.</p>
        )}
        <table className="grid" aria-label="Context">
          <thead>
            <tr>
              <th scope="col">variable</th>
              <th scope="col">value</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(ctx)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, v]) => (
                <tr key={k} className={changed.has(k) ? (point?.added.includes(k) ? "row-added" : "row-modified") : ""}>
                  <td className="mono">{k}</td>
                  <td className="mono">{show(v)}</td>
                </tr>
              ))}
          </tbody>
        </table>
        <h3 className="panel-subtitle">Where each variable came from</h3>
        <table className="grid" aria-label="Variable origins">
          <thead>
            <tr>
              <th scope="col">variable</th>
              <th scope="col">{finalContext ? "final value" : "value so far"}</th>
              <th scope="col">from</th>
              <th scope="col">history</th>
            </tr>
          </thead>
          <tbody>
            {origins.map((o) => (
              <tr key={o.name}>
                <td className="mono">{o.name}</td>
                <td className="mono">{show(o.value)}</td>
                <td>
                  {o.origin.type === "step" ? (
                    <button type="button" className="link" onClick={() => onSelectStep((o.origin as { key: string }).key)}>
                      {originLabel(o.origin)}
                    </button>
                  ) : (
                    originLabel(o.origin)
                  )}
                </td>
                <td className="muted">{o.history.length > 1 ? o.history.map((h) => `${h.stepId}=${show(h.value)}`).join(" → ") : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
