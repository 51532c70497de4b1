// The palette: step kinds from the API (the registry, plugin actions included), grouped by
// category and searchable. Drag a kind onto the canvas, or press its button to add it after
// the selected step.
import { type DragEvent, useMemo, useState } from "react";
import type { StepKindInfo } from "../api/client";
import { KIND_MIME } from "./Canvas";
import { kindColorVar, kindIcon } from "./kinds";

export interface PaletteProps {
  kinds: StepKindInfo[] | undefined;
  error: string | undefined;
  onRetry: () => void;
  onAdd: (kind: string) => void;
}

export function Palette({ kinds, error, onRetry, onAdd }: PaletteProps) {
  const [query, setQuery] = useState("");
  const byName = useMemo(() => new Map((kinds ?? []).map((k) => [k.name, k])), [kinds]);
  const groups = useMemo(() => {
    const q = query.trim().toLowerCase();
    const out = new Map<string, StepKindInfo[]>();
    for (const k of kinds ?? []) {
      if (q && !`${k.name} ${k.description} ${k.category}`.toLowerCase().includes(q)) continue;
      out.set(k.category, [...(out.get(k.category) ?? []), k]);
    }
    return [...out.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [kinds, query]);

  const onDragStart = (e: DragEvent, name: string) => {
    e.dataTransfer.setData(KIND_MIME, name);
    e.dataTransfer.effectAllowed = "copy";
  };

  return (
    <aside className="palette" aria-label="Step kinds">
      <h2 className="panel-title">Steps</h2>
      {error ? (
        <div className="empty-state" role="alert">
          <p>
            <strong>Step kinds unavailable.</strong>
          </p>
          <p className="muted">{error}</p>
          <button type="button" className="btn" onClick={onRetry}>
            Retry
          </button>
        </div>
      ) : kinds === undefined ? (
        <p className="muted" role="status">
          Loading step kinds…
        </p>
      ) : (
        <>
          <input
            type="search"
            className="input"
            placeholder="Search steps"
            aria-label="Search step kinds"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
          {groups.length === 0 ? <p className="muted">No step kind matches “{query}”.</p> : null}
          {groups.map(([category, list]) => (
            <section key={category} className="palette-group" aria-label={category}>
              <h3>{category}</h3>
              <ul>
                {list.map((k) => (
                  <li key={k.name}>
                    <button
                      type="button"
                      className="palette-item"
                      draggable
                      onDragStart={(e) => onDragStart(e, k.name)}
                      onClick={() => onAdd(k.name)}
                      title={`${k.description}\n(drag onto the canvas, or press to add after the selected step)`}
                      style={{ ["--kind-color" as string]: kindColorVar(k.name, byName) }}
                    >
                      <span aria-hidden="true">{kindIcon(k.name, byName)}</span> {k.name}
                      {k.source !== "builtin" ? <span className="tag">{k.source}</span> : null}
                    </button>
                  </li>
                ))}
              </ul>
            </section>
          ))}
        </>
      )}
    </aside>
  );
}
