// The YAML side of the Builder: a Monaco editor kept in sync with the flow text.
// Outside changes (canvas, form, undo) are applied as one minimal edit of the model, so the
// cursor and scroll position stay put; typing reports the new text upward.
import { useEffect, useRef } from "react";
import type { Diagnostic } from "../flow/types";
import { FLOW_MODEL_URI, monaco, setFlowSchema } from "./monaco";

export interface YamlEditorProps {
  value: string;
  onChange: (text: string) => void;
  diagnostics: Diagnostic[];
  theme: "light" | "dark";
  /** Lines to highlight and reveal (the selected step). */
  reveal?: { line: number; endLine: number };
  onCursorLine?: (line: number) => void;
  /** The flow JSON Schema (GET /schema/flow); without it only YAML syntax is checked. */
  schema?: Record<string, unknown>;
}

/** The smallest single replacement turning `a` into `b`. */
export function minimalChange(a: string, b: string): { start: number; endA: number; text: string } {
  let start = 0;
  const max = Math.min(a.length, b.length);
  while (start < max && a.charCodeAt(start) === b.charCodeAt(start)) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a.charCodeAt(endA - 1) === b.charCodeAt(endB - 1)) {
    endA--;
    endB--;
  }
  return { start, endA, text: b.slice(start, endB) };
}

export default function YamlEditor({ value, onChange, diagnostics, theme, reveal, onCursorLine, schema }: YamlEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const editorRef = useRef<monaco.editor.IStandaloneCodeEditor | null>(null);
  const applying = useRef(false);
  const decorations = useRef<monaco.editor.IEditorDecorationsCollection | null>(null);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  const onCursorRef = useRef(onCursorLine);
  onCursorRef.current = onCursorLine;

  useEffect(() => {
    if (!host.current) return;
    const uri = monaco.Uri.parse(FLOW_MODEL_URI);
    const model = monaco.editor.getModel(uri) ?? monaco.editor.createModel(value, "yaml", uri);
    model.setValue(value);
    const editor = monaco.editor.create(host.current, {
      model,
      automaticLayout: true,
      minimap: { enabled: false },
      fontSize: 13,
      tabSize: 2,
      insertSpaces: true,
      scrollBeyondLastLine: false,
      renderWhitespace: "boundary",
      ariaLabel: "Flow YAML",
      // A plain <textarea> input: screen readers and keyboard handlers outside Monaco know it.
      editContext: false,
    });
    editorRef.current = editor;
    decorations.current = editor.createDecorationsCollection();
    const sub = model.onDidChangeContent(() => {
      if (!applying.current) onChangeRef.current(model.getValue());
    });
    const cursor = editor.onDidChangeCursorPosition((e) => {
      if (e.source !== "api" && editor.hasTextFocus()) onCursorRef.current?.(e.position.lineNumber);
    });
    return () => {
      sub.dispose();
      cursor.dispose();
      editor.dispose();
      model.dispose();
      editorRef.current = null;
    };
    // The editor is created once; `value` changes are applied by the effect below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const model = editorRef.current?.getModel();
    if (!model) return;
    const current = model.getValue();
    if (current === value) return;
    const { start, endA, text } = minimalChange(current, value);
    const from = model.getPositionAt(start);
    const to = model.getPositionAt(endA);
    applying.current = true;
    try {
      model.pushEditOperations([], [{ range: new monaco.Range(from.lineNumber, from.column, to.lineNumber, to.column), text }], () => null);
    } finally {
      applying.current = false;
    }
  }, [value]);

  useEffect(() => setFlowSchema(schema), [schema]);

  useEffect(() => {
    monaco.editor.setTheme(theme === "dark" ? "vs-dark" : "vs");
  }, [theme]);

  useEffect(() => {
    const model = editorRef.current?.getModel();
    if (!model) return;
    const lines = model.getLineCount();
    const markers = diagnostics
      .filter((d) => d.line !== undefined)
      .map((d) => {
        const line = Math.min(Math.max(d.line ?? 1, 1), lines);
        const endLine = Math.min(Math.max(d.endLine ?? line, line), lines);
        const col = Math.max(d.col ?? 1, 1);
        const endCol = d.endLine === d.line && d.endCol && d.endCol > col ? d.endCol : model.getLineMaxColumn(endLine);
        return {
          severity: d.severity === "error" ? monaco.MarkerSeverity.Error : monaco.MarkerSeverity.Warning,
          message: d.hint ? `${d.message}\n${d.hint}` : d.message,
          startLineNumber: line,
          startColumn: col,
          endLineNumber: endLine,
          endColumn: endCol,
          source: d.source ?? "testflow",
        };
      });
    monaco.editor.setModelMarkers(model, "testflow", markers);
  }, [diagnostics, value]);

  useEffect(() => {
    const editor = editorRef.current;
    if (!editor || !reveal || editor.hasTextFocus()) {
      decorations.current?.clear();
      return;
    }
    const range = new monaco.Range(reveal.line, 1, Math.max(reveal.line, reveal.endLine - 1), 1);
    decorations.current?.set([{ range, options: { isWholeLine: true, className: "yaml-selected-step" } }]);
    editor.revealLinesInCenterIfOutsideViewport(range.startLineNumber, range.endLineNumber);
  }, [reveal]);

  return <div className="yaml-editor" ref={host} />;
}
