// The Builder's state: the flow text with undo/redo, its parse and graph, and the edits.
// The text is the source of truth: canvas and form edits are applied to the YAML Document
// and merged into the text (src/flow/preserve.ts); editor typing replaces the text.
import { useCallback, useMemo, useReducer, useRef } from "react";
import type { Document } from "yaml";
import { type ParsedFlow, parseFlow } from "../flow/document";
import { EditError } from "../flow/edits";
import { flowToGraph } from "../flow/graph";
import { canRedo, canUndo, createHistory, type HistoryState, push, redo, undo } from "../flow/history";
import { editFlowText } from "../flow/preserve";
import type { Diagnostic, FlowGraph } from "../flow/types";

type Action =
  | { type: "set"; text: string; group?: string }
  | { type: "reset"; text: string }
  | { type: "undo" }
  | { type: "redo" };

function reducer(state: HistoryState<string>, action: Action): HistoryState<string> {
  switch (action.type) {
    case "set":
      return push(state, action.text, { group: action.group, coalesceMs: 800 });
    case "reset":
      return createHistory(action.text);
    case "undo":
      return undo(state);
    case "redo":
      return redo(state);
  }
}

export interface FlowEditor {
  text: string;
  parsed: ParsedFlow;
  /** The graph of the text, or of the last text that parsed, while the YAML is broken. */
  graph: FlowGraph;
  /** True when `graph` is stale because the current text has syntax errors. */
  stale: boolean;
  localDiagnostics: Diagnostic[];
  setText: (text: string, group?: string) => void;
  reset: (text: string) => void;
  /** Apply a Document edit; returns an error message for the user, or undefined. */
  edit: (fn: (doc: Document) => void, group?: string) => string | undefined;
  undo: () => void;
  redo: () => void;
  canUndo: boolean;
  canRedo: boolean;
}

export function useFlowEditor(initial: string): FlowEditor {
  const [history, dispatch] = useReducer(reducer, initial, createHistory);
  const text = history.present;
  // Parses by text; edits hand in the parse of their result, so it is not parsed twice.
  const parses = useRef(new Map<string, ParsedFlow>());
  const parsed = useMemo(() => {
    const cached = parses.current.get(text) ?? parseFlow(text);
    parses.current = new Map([[text, cached]]);
    return cached;
  }, [text]);

  const lastGood = useRef<FlowGraph>({ nodes: [], edges: [], diagnostics: [] });
  const broken = parsed.doc.errors.length > 0;
  const graph = useMemo(() => {
    if (broken) return lastGood.current;
    const g = flowToGraph(parsed);
    lastGood.current = g;
    return g;
  }, [parsed, broken]);
  const localDiagnostics = useMemo(
    () => [...parsed.diagnostics, ...(broken ? [] : graph.diagnostics)],
    [parsed, graph, broken],
  );

  const textRef = useRef(text);
  textRef.current = text;
  const setText = useCallback((t: string, group?: string) => dispatch({ type: "set", text: t, group }), []);
  const reset = useCallback((t: string) => dispatch({ type: "reset", text: t }), []);
  const edit = useCallback((fn: (doc: Document) => void, group?: string): string | undefined => {
    try {
      const out = editFlowText(textRef.current, fn, parses.current.get(textRef.current));
      if (out.changed) {
        textRef.current = out.text;
        parses.current.set(out.text, out.parsed);
        dispatch({ type: "set", text: out.text, group });
      }
      return undefined;
    } catch (err) {
      if (err instanceof EditError) return err.message;
      throw err;
    }
  }, []);

  return {
    text,
    parsed,
    graph,
    stale: broken,
    localDiagnostics,
    setText,
    reset,
    edit,
    undo: useCallback(() => dispatch({ type: "undo" }), []),
    redo: useCallback(() => dispatch({ type: "redo" }), []),
    canUndo: canUndo(history),
    canRedo: canRedo(history),
  };
}
