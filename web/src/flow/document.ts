// Parsing and printing a flow with the `yaml` Document API.
//
// The Builder never regenerates the YAML from a model: it parses the user's text into a
// Document (a concrete tree that keeps comments, blank lines, key order and scalar styles),
// edits that tree in place and prints it again. Printing options are detected from the source
// so that an unedited document prints back byte for byte.

import {
  Document,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Node as YamlNode,
  type ToStringOptions,
  visit,
} from "yaml";
import type { Diagnostic, DocPath, TextRange } from "./types";

export interface ParsedFlow {
  doc: Document;
  lineCounter: LineCounter;
  /** YAML syntax errors and warnings, with line/column. */
  diagnostics: Diagnostic[];
  /** Print options detected from the source text. */
  style: ToStringOptions;
}

/** Parse flow text; syntax problems come back as diagnostics rather than exceptions. */
export function parseFlow(text: string): ParsedFlow {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, keepSourceTokens: false, uniqueKeys: true });
  const diagnostics: Diagnostic[] = [];
  for (const [list, severity] of [
    [doc.errors, "error"],
    [doc.warnings, "warning"],
  ] as const) {
    for (const err of list) {
      const start = err.linePos?.[0];
      const end = err.linePos?.[1];
      diagnostics.push({
        message: err.message.split("\n")[0] ?? err.message,
        severity,
        line: start?.line,
        col: start?.col,
        endLine: end?.line ?? start?.line,
        endCol: end?.col ?? start?.col,
        source: "yaml",
      });
    }
  }
  if (doc.errors.length === 0 && doc.contents !== null && !isMap(doc.contents)) {
    diagnostics.push({
      message: "a flow must be a mapping with at least `name` and `steps`",
      severity: "error",
      line: 1,
      col: 1,
      source: "structure",
    });
  }
  if (doc.errors.length === 0) attachLeadingComments(doc);
  return { doc, lineCounter, diagnostics, style: detectStyle(text) };
}

/**
 * The parser hangs a comment written just above the first item of a list on the list; the
 * Builder treats it as the first step's comment (it moves and goes with that step). Both
 * print the same.
 */
function attachLeadingComments(doc: Document): void {
  visit(doc, {
    Seq(_key, seq) {
      const first = seq.items[0];
      if (seq.commentBefore && isNode(first) && !first.commentBefore && !seq.flow) {
        first.commentBefore = seq.commentBefore;
        seq.commentBefore = undefined;
      }
    },
  });
}

/**
 * Print options that reproduce the source's layout: indentation width, whether block
 * sequences under a key are indented, padding inside flow collections (`{ a: 1 }` or
 * `{a: 1}`). Long lines are never folded (lineWidth 0): folding would rewrite lines the user
 * did not touch.
 */
export function detectStyle(text: string): ToStringOptions {
  let indent = 2;
  const indented = /^( +)\S/m.exec(text);
  if (indented?.[1] !== undefined && indented[1].length <= 8) indent = indented[1].length;
  // "key:\n- item" means sequences are not indented under their key.
  const unindentedSeq = /^([ ]*)[^\s#-][^\n]*:[ \t]*(?:#[^\n]*)?\n\1- /m.test(text);
  const indentedSeq = /^([ ]*)[^\s#-][^\n]*:[ \t]*(?:#[^\n]*)?\n\1[ ]+- /m.test(text);
  const padded = (text.match(/[[{] [^\s\]}]/g) ?? []).length;
  const tight = (text.match(/[[{][^\s\]}]/g) ?? []).length;
  return {
    indent,
    indentSeq: indentedSeq || !unindentedSeq,
    flowCollectionPadding: padded > tight,
    lineWidth: 0,
    minContentWidth: 0,
  };
}

/** Print a (possibly edited) document with the style of its source. */
export function printFlow(doc: Document, style: ToStringOptions): string {
  return doc.toString(style);
}

/** The YAML node at `path`, or undefined. */
export function nodeAt(doc: Document, path: DocPath): YamlNode | undefined {
  if (path.length === 0) return (doc.contents as YamlNode | null) ?? undefined;
  const found = doc.getIn(path, true);
  return found && typeof found === "object" ? (found as YamlNode) : undefined;
}

/** A plain JS value of the node at `path`. */
export function valueAt(doc: Document, path: DocPath): unknown {
  const node = nodeAt(doc, path);
  if (node === undefined) return undefined;
  if (isScalar(node)) return node.value;
  return node.toJSON();
}

/** The 1-based text range of a node, when it came from the source. */
export function rangeOf(node: YamlNode | undefined, lc: LineCounter): TextRange | undefined {
  const r = node?.range;
  if (!r) return undefined;
  const start = lc.linePos(r[0]);
  const end = lc.linePos(r[1]);
  return { line: start.line, col: start.col, endLine: end.line, endCol: end.col };
}

/** `["steps", 0, "request", "url"]` -> `steps[0].request.url` (the API's path style). */
export function formatPath(path: DocPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? seg : `.${seg}`;
  }
  return out;
}

/** The inverse of {@link formatPath}: `steps[0].request.url` -> `["steps", 0, "request", "url"]`. */
export function parsePath(text: string): DocPath {
  const out: DocPath = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[1] !== undefined) out.push(/^\d+$/.test(m[1]) ? Number(m[1]) : m[1]);
  }
  return out;
}

/** Is the node at `path` a YAML sequence (a step list)? */
export function isSeqAt(doc: Document, path: DocPath): boolean {
  return isSeq(nodeAt(doc, path));
}
