// The Workflow Builder: palette | canvas | properties, with the YAML editor beside the canvas.
// Every change goes through the flow text (useFlowEditor), so the canvas, the form and the
// editor always show the same flow, and undo/redo covers all three.
import { isMap, isSeq } from "yaml";
import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ApiError, api, type JsonSchema, type StepKindInfo } from "../api/client";
import { call, http } from "../api/typed";
import { useCurrentTheme } from "../app/AppShell";
import { nodeAt, valueAt } from "../flow/document";
import {
  addDependency,
  deleteStep,
  EditError,
  insertStep,
  insertStepAfter,
  moveStep,
  removeDependency,
  renameStep,
  setField,
  uniqueStepId,
} from "../flow/edits";
import { nodeForDiagnostic } from "../flow/graph";
import type { Direction } from "../flow/layout";
import { templateSuggestions } from "../flow/suggest";
import type { Diagnostic, DocPath, FlowNode } from "../flow/types";
import { Canvas, type Positions } from "./Canvas";
import { Palette } from "./Palette";
import { PropertiesPanel } from "./PropertiesPanel";
import { useFlowEditor } from "./useFlowEditor";

const YamlEditor = lazy(() => import("./YamlEditor"));

const STARTER = `# A new flow. Drag steps from the palette, or type here.
name: New flow
steps: []
`;
const DRAFT_KEY = "testflow.builder.draft";

/** Steps that a new or moved step goes after (rather than into). */
const stepLike = (n: FlowNode): boolean => n.kind === "step" || n.kind === "call" || n.kind === "poll";

interface SavedLayout {
  direction: Direction;
  positions: Positions;
}

function loadDraft(): { text: string; layout: SavedLayout } {
  try {
    const raw = localStorage.getItem(DRAFT_KEY);
    if (raw) {
      const d = JSON.parse(raw) as { text?: unknown; layout?: SavedLayout };
      if (typeof d.text === "string") return { text: d.text, layout: d.layout ?? { direction: "TB", positions: {} } };
    }
  } catch {
    // an unreadable draft is dropped
  }
  return { text: STARTER, layout: { direction: "TB", positions: {} } };
}

export function BuilderScreen() {
  const { flowId } = useParams();
  const navigate = useNavigate();
  const theme = useCurrentTheme();
  const [draft] = useState(loadDraft);
  const ed = useFlowEditor(flowId ? "" : draft.text);
  const [layout, setLayout] = useState<SavedLayout>(flowId ? { direction: "TB", positions: {} } : draft.layout);
  const [selectedId, setSelectedId] = useState<string>();
  const [message, setMessage] = useState<{ kind: "error" | "info"; text: string }>();
  const [kinds, setKinds] = useState<StepKindInfo[]>();
  const [kindsError, setKindsError] = useState<string>();
  const [schema, setSchema] = useState<JsonSchema>();
  const [serverDiags, setServerDiags] = useState<Diagnostic[]>([]);
  const [validation, setValidation] = useState<string>("");
  const [loadError, setLoadError] = useState<string>();

  const loadKinds = useCallback(() => {
    setKindsError(undefined);
    setKinds(undefined);
    api.stepKinds().then(setKinds, (e: unknown) => setKindsError(e instanceof Error ? e.message : String(e)));
  }, []);
  useEffect(loadKinds, [loadKinds]);
  useEffect(() => {
    api.flowSchema().then(setSchema, () => setSchema(undefined));
  }, []);

  useEffect(() => {
    if (!flowId) return;
    setLoadError(undefined);
    api.getFlow(flowId).then(
      (f) => {
        performance.mark("tf:flow-loaded");
        ed.reset(f.text);
        const l = f.layout as Partial<SavedLayout> | undefined;
        setLayout({ direction: l?.direction === "LR" ? "LR" : "TB", positions: l?.positions ?? {} });
      },
      (e: unknown) => setLoadError(e instanceof Error ? e.message : String(e)),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [flowId]);

  // Unsaved work on a new flow survives a reload.
  useEffect(() => {
    if (!flowId) localStorage.setItem(DRAFT_KEY, JSON.stringify({ text: ed.text, layout }));
  }, [flowId, ed.text, layout]);

  // Server-side validation (kinds' schemas, templates, plugin kinds), debounced.
  useEffect(() => {
    const t = window.setTimeout(() => {
      api.validate(ed.text, flowId ? `${flowId}.yaml` : "flow.yaml").then(
        (r) => {
          setServerDiags(r.diagnostics.map((d) => ({ ...d, source: "server" as const })));
          setValidation(r.valid ? "valid" : `${r.diagnostics.length} problem(s) found by the server`);
        },
        (e: unknown) => {
          setServerDiags(e instanceof ApiError ? e.diagnostics : []);
          setValidation(`server validation unavailable: ${e instanceof Error ? e.message : String(e)}`);
        },
      );
    }, 700);
    return () => window.clearTimeout(t);
  }, [ed.text, flowId]);

  const kindMap = useMemo(() => new Map((kinds ?? []).map((k) => [k.name, k])), [kinds]);
  const diagnostics = useMemo(() => {
    const seen = new Set<string>();
    return [...ed.localDiagnostics, ...serverDiags].filter((d) => {
      const key = `${d.line}:${d.col}:${d.path}:${d.message}`;
      return seen.has(key) ? false : (seen.add(key), true);
    });
  }, [ed.localDiagnostics, serverDiags]);
  // Server diagnostics that only have a path get the line of their step, for the editor.
  const editorDiagnostics = useMemo(
    () =>
      diagnostics.map((d) => {
        if (d.line !== undefined) return d;
        const n = nodeForDiagnostic(ed.graph, d);
        return n?.range ? { ...d, line: n.range.line, col: n.range.col } : d;
      }),
    [diagnostics, ed.graph],
  );

  const selected = ed.graph.nodes.find((n) => n.id === selectedId);
  const selectedStep = useMemo(() => {
    if (!selected || ed.stale) return undefined;
    const v = valueAt(ed.parsed.doc, selected.path);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  }, [selected, ed.parsed, ed.stale]);

  const run = useCallback(
    (fn: Parameters<typeof ed.edit>[0], group?: string) => {
      const err = ed.edit(fn, group);
      setMessage(err ? { kind: "error", text: err } : undefined);
    },
    [ed],
  );

  /** The list a container holds (where a dropped step goes), or an error. */
  const listOf = useCallback((doc: Parameters<Parameters<typeof ed.edit>[0]>[0], n: FlowNode): DocPath => {
    if (n.kind === "section") return n.path;
    if (n.kind === "group") return [...n.path, "steps"];
    if (n.kind === "branch") return isSeq(nodeAt(doc, n.path)) ? n.path : [...n.path, "steps"];
    if (n.kind === "parallel") {
      const branches = nodeAt(doc, [...n.path, "branches"]);
      const last = isSeq(branches) ? branches.items.length - 1 : -1;
      if (last < 0) throw new EditError("this parallel step has no branch to add to; add one in the YAML");
      const b = [...n.path, "branches", last];
      return isMap(nodeAt(doc, b)) ? [...b, "steps"] : b;
    }
    throw new EditError(`cannot add steps into a ${n.kind}`);
  }, []);

  const addKind = useCallback(
    (kindName: string, target: FlowNode | undefined) => {
      const kind = kindMap.get(kindName);
      run((doc) => {
        const id = uniqueStepId(doc, kindName.split(".").pop() ?? "step");
        const { id: _i, type: _t, ...example } = (kind?.example ?? {}) as Record<string, unknown>;
        const step = { id, type: kindName, ...example };
        if (!target) {
          insertStep(doc, ["steps"], Number.MAX_SAFE_INTEGER, step);
        } else if (stepLike(target)) {
          // After the step; a poll's inner step has no list: then after the poll.
          const anchor = target.listPath ? target : ed.graph.nodes.find((n) => n.id === target.parentId);
          if (!anchor?.listPath) throw new EditError("cannot add a step here");
          insertStepAfter(doc, anchor.path, step);
        } else {
          insertStep(doc, listOf(doc, target), Number.MAX_SAFE_INTEGER, step);
        }
        setSelectedId(`step:${id}`);
      }, "canvas");
    },
    [kindMap, run, ed.graph, listOf],
  );

  const moveNode = useCallback(
    (node: FlowNode, target: FlowNode) => {
      run((doc) => {
        if (stepLike(target) && target.listPath !== undefined && target.index !== undefined) {
          // Dropped on a step: go right after it.
          const same = JSON.stringify(target.listPath) === JSON.stringify(node.listPath);
          const at = same && (node.index ?? 0) < target.index ? target.index : target.index + 1;
          moveStep(doc, node.path, target.listPath, at);
        } else if (!stepLike(target)) {
          const list = listOf(doc, target);
          const seq = nodeAt(doc, list);
          moveStep(doc, node.path, list, isSeq(seq) ? seq.items.length : 0);
        }
      }, "canvas");
      setLayout((l) => {
        const { [node.id]: _drop, ...positions } = l.positions;
        return { ...l, positions };
      });
    },
    [run, listOf],
  );

  const onMoveBy = useCallback(
    (delta: -1 | 1) => {
      if (!selected?.listPath || selected.index === undefined) return;
      const listPath = selected.listPath;
      const index = selected.index;
      run((doc) => {
        const seq = nodeAt(doc, listPath);
        const len = isSeq(seq) ? seq.items.length : 0;
        const to = Math.max(0, Math.min(len - 1, index + delta));
        if (to !== index) moveStep(doc, selected.path, listPath, to);
      }, "canvas");
    },
    [selected, run],
  );

  const onDelete = useCallback(() => {
    if (!selected?.listPath) return;
    const path = selected.path;
    run((doc) => deleteStep(doc, path), "canvas");
    setSelectedId(undefined);
  }, [selected, run]);

  // Keyboard: undo/redo anywhere but in text fields (Monaco keeps its own while focused),
  // Delete removes the selected step when the canvas has focus.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const el = e.target as HTMLElement | null;
      const typing = !!el?.closest("input, textarea, select, .monaco-editor, [contenteditable=true]");
      const mod = e.ctrlKey || e.metaKey;
      if (!typing && mod && e.key.toLowerCase() === "z") {
        e.preventDefault();
        if (e.shiftKey) ed.redo();
        else ed.undo();
      } else if (!typing && mod && e.key.toLowerCase() === "y") {
        e.preventDefault();
        ed.redo();
      } else if (!typing && (e.key === "Delete" || e.key === "Backspace") && el?.closest(".canvas") && selected) {
        e.preventDefault();
        onDelete();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [ed, selected, onDelete]);

  const save = useCallback(async () => {
    try {
      if (flowId) {
        await api.updateFlow(flowId, ed.text, layout);
        setMessage({ kind: "info", text: "Saved." });
      } else {
        const created = await api.createFlow(ed.text, layout);
        localStorage.removeItem(DRAFT_KEY);
        navigate(`/builder/${encodeURIComponent(created.id)}`);
      }
    } catch (e) {
      setMessage({ kind: "error", text: `Not saved: ${e instanceof Error ? e.message : String(e)}` });
    }
  }, [flowId, ed.text, layout, navigate]);

  // Run: a stored flow is saved first and run by id (so the run history belongs to it); a new
  // flow runs from its text.
  const [starting, setStarting] = useState(false);
  const runFlow = useCallback(async () => {
    setStarting(true);
    try {
      let body: { flow_id?: string; text?: string; vars: Record<string, unknown> };
      if (flowId) {
        await api.updateFlow(flowId, ed.text, layout);
        body = { flow_id: flowId, vars: {} };
      } else {
        body = { text: ed.text, vars: {} };
      }
      const started = await call(http.POST("/api/v1/runs", { body }), "starting the run");
      navigate(`/runs/${encodeURIComponent(started.run_id)}`);
    } catch (e) {
      setMessage({ kind: "error", text: `Not started: ${e instanceof Error ? e.message : String(e)}` });
    } finally {
      setStarting(false);
    }
  }, [flowId, ed.text, layout, navigate]);

  const stepIds = useMemo(() => ed.graph.nodes.flatMap((n) => (n.stepId ? [n.stepId] : [])), [ed.graph]);
  const suggestions = useMemo(
    () => (ed.stale ? [] : templateSuggestions(ed.parsed, selected?.stepId)),
    [ed.parsed, ed.stale, selected?.stepId],
  );
  const selectedDiags = useMemo(
    () => (selected ? diagnostics.filter((d) => nodeForDiagnostic(ed.graph, d)?.id === selected.id) : []),
    [diagnostics, ed.graph, selected],
  );
  const errorCount = diagnostics.filter((d) => d.severity === "error").length;

  const onCursorLine = useCallback(
    (line: number) => {
      const n = nodeForDiagnostic(ed.graph, { message: "", severity: "error", line });
      if (n) setSelectedId(n.id);
    },
    [ed.graph],
  );

  if (loadError) {
    return (
      <div className="empty-state page" role="alert">
        <h1>Could not open flow “{flowId}”</h1>
        <p>{loadError}</p>
      </div>
    );
  }

  return (
    <div className="builder">
      <div className="builder-toolbar" role="toolbar" aria-label="Builder">
        <button type="button" className="btn" onClick={ed.undo} disabled={!ed.canUndo} title="Undo (Ctrl+Z)">
          ↶ Undo
        </button>
        <button type="button" className="btn" onClick={ed.redo} disabled={!ed.canRedo} title="Redo (Ctrl+Shift+Z)">
          ↷ Redo
        </button>
        <label className="inline">
          Layout
          <select
            className="input"
            value={layout.direction}
            onChange={(e) => setLayout({ direction: e.target.value === "LR" ? "LR" : "TB", positions: {} })}
          >
            <option value="TB">top to bottom</option>
            <option value="LR">left to right</option>
          </select>
        </label>
        <button type="button" className="btn" onClick={() => setLayout((l) => ({ ...l, positions: {} }))} disabled={Object.keys(layout.positions).length === 0}>
          Auto-layout
        </button>
        <button type="button" className="btn primary" onClick={() => void save()}>
          {flowId ? "Save" : "Save as new flow"}
        </button>
        <button type="button" className="btn" onClick={() => void runFlow()} disabled={starting} title={flowId ? "Save and run" : "Run this text without saving"}>
          ▶ {starting ? "Starting…" : flowId ? "Save & run" : "Run"}
        </button>
        {flowId ? (
          <Link className="btn ghost" to={`/runs?flow=${encodeURIComponent(flowId)}`}>
            History
          </Link>
        ) : null}
        {flowId ? (
          <Link className="btn ghost" to={`/flows/${encodeURIComponent(flowId)}/graph`} title="The saved version's steps and what each waits for">
            Dependencies
          </Link>
        ) : null}
        <span className={errorCount > 0 ? "status error-text" : "status"} role="status" aria-live="polite">
          {ed.stale ? "YAML has syntax errors: the canvas shows the last valid version. " : ""}
          {errorCount > 0 ? `${errorCount} error(s). ` : "No local errors. "}
          <span className="muted">{validation}</span>
        </span>
        {message ? (
          <span className={message.kind === "error" ? "error-text" : "muted"} role={message.kind === "error" ? "alert" : "status"}>
            {message.text}
          </span>
        ) : null}
      </div>
      <div className="builder-body">
        <Palette kinds={kinds} error={kindsError} onRetry={loadKinds} onAdd={(k) => addKind(k, selected)} />
        <Canvas
          graph={ed.graph}
          kinds={kindMap}
          diagnostics={diagnostics}
          selectedId={selectedId}
          onSelect={setSelectedId}
          direction={layout.direction}
          positions={layout.positions}
          onPositions={(positions) => setLayout((l) => ({ ...l, positions }))}
          onDropKind={addKind}
          onMoveNode={moveNode}
          onConnectDep={(s, t) => s.stepId && run((doc) => addDependency(doc, t.path, s.stepId as string), "canvas")}
          onRemoveDep={(s, t) => s.stepId && run((doc) => removeDependency(doc, t.path, s.stepId as string), "canvas")}
        />
        <section className="editor-pane" aria-label="YAML">
          <Suspense fallback={<p className="muted">Loading the editor…</p>}>
            <YamlEditor
              value={ed.text}
              onChange={(t) => ed.setText(t, "editor")}
              diagnostics={editorDiagnostics}
              theme={theme}
              schema={schema}
              reveal={selected?.range}
              onCursorLine={onCursorLine}
            />
          </Suspense>
        </section>
        <PropertiesPanel
          node={selected}
          step={selectedStep}
          kind={selected?.stepType ? kindMap.get(selected.stepType) : undefined}
          kindsLoaded={kinds !== undefined}
          allStepIds={stepIds}
          suggestions={suggestions}
          diagnostics={selectedDiags}
          error={message?.kind === "error" ? message.text : undefined}
          onField={(key, value) => selected && run((doc) => setField(doc, [...selected.path, key], value), `field:${selected.id}:${key}`)}
          onConfig={(changes) =>
            selected &&
            run((doc) => {
              for (const [path, value] of changes) setField(doc, [...selected.path, ...path], value);
            }, `form:${selected.id}`)
          }
          onRename={(id) => {
            if (!selected) return;
            run((doc) => renameStep(doc, selected.path, id), "canvas");
            if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(id)) setSelectedId(`step:${id}`);
          }}
          onAddDep={(id) => selected && run((doc) => addDependency(doc, selected.path, id), "canvas")}
          onRemoveDep={(id) => selected && run((doc) => removeDependency(doc, selected.path, id), "canvas")}
          onDelete={onDelete}
          onMove={onMoveBy}
        />
      </div>
    </div>
  );
}
