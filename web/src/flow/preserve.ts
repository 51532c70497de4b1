// Applying a Document edit to the user's text without touching the lines the edit did not
// change.
//
// The `yaml` printer keeps comments, key order, blank lines and quote styles, but it still
// re-prints: aligned end-of-line comments lose their padding, `-   id:` becomes `- id:`, a
// folded scalar is joined onto one line. So after an edit we do a three-way line merge:
//   ours   = the user's text,
//   base   = the user's text as the printer prints it (before the edit),
//   theirs = the edited Document as the printer prints it.
// Lines the edit did not change come from the user's text byte for byte; changed lines come
// from the printer. The merged text is parsed again and must print exactly like `theirs`
// (same data, same comments); if not, the printed text is used, so an edit is never lost.

import { LCS } from "node-diff3";
import type { Document } from "yaml";
import { EditError } from "./edits";
import { type ParsedFlow, parseFlow, printFlow } from "./document";

export interface EditOutcome {
  text: string;
  /** The parse of `text` (callers reuse it rather than parsing again). */
  parsed: ParsedFlow;
  /** False when the edit changed nothing. */
  changed: boolean;
  /** True when the three-way merge was used; false when the printed text had to be taken. */
  preserved: boolean;
}

/** For each line of `x`, the index of the line of `y` it is matched to by an LCS, or -1. */
function matchLines(x: string[], y: string[]): Int32Array {
  const match = new Int32Array(x.length).fill(-1);
  for (let c: ReturnType<typeof LCS> | null = LCS(x, y); c !== null; c = c.chain) {
    if (c.buffer1index >= 0 && c.buffer2index >= 0) match[c.buffer1index] = c.buffer2index;
  }
  return match;
}

/** A line with its whitespace runs collapsed: how the printer's version is matched to the user's. */
const looseKey = (line: string): string => line.trim().replace(/\s+/g, " ");
const indentOf = (line: string): number => line.length - line.trimStart().length;

/**
 * Merge an edit (base -> theirs) into the user's text (ours). `base` is `ours` as the printer
 * prints it, so the two are matched loosely (ignoring whitespace differences); the regions
 * that the edit changed between `base` and `theirs` replace the matching regions of `ours`,
 * re-indented to the user's indentation where it differs from the printer's.
 */
export function mergeLines(ours: string, base: string, theirs: string): string {
  if (ours === base) return theirs;
  const a = ours.split("\n");
  const o = base.split("\n");
  const b = theirs.split("\n");
  const oToA = matchLines(o.map(looseKey), a.map(looseKey));
  const oToB = matchLines(o, b);
  // Indentation of the printer -> indentation of the user, learnt from the matched lines.
  const votes = new Map<number, Map<number, number>>();
  o.forEach((line, i) => {
    const j = oToA[i] ?? -1;
    if (j < 0 || line.trim() === "") return;
    const from = indentOf(line);
    const to = indentOf(a[j] ?? "");
    const v = votes.get(from) ?? new Map<number, number>();
    v.set(to, (v.get(to) ?? 0) + 1);
    votes.set(from, v);
  });
  const indentMap = new Map<number, number>();
  for (const [from, v] of votes) indentMap.set(from, [...v.entries()].sort((x, y) => y[1] - x[1])[0]?.[0] ?? from);
  // Spaces after the dash of a list item holding a map (`-   id: x` vs `- id: x`).
  const dashGap = (line: string): number | undefined => {
    const m = /^\s*-( +)[^\s#-][^:]*:(?: |$)/.exec(line);
    return m?.[1]?.length;
  };
  const gapVotes = new Map<number, number>();
  o.forEach((line, i) => {
    const j = oToA[i] ?? -1;
    const g = j >= 0 && dashGap(line) !== undefined ? dashGap(a[j] ?? "") : undefined;
    if (g !== undefined) gapVotes.set(g, (gapVotes.get(g) ?? 0) + 1);
  });
  const gap = [...gapVotes.entries()].sort((x, y) => y[1] - x[1])[0]?.[0] ?? 1;
  const reindent = (line: string): string => {
    if (line.trim() === "") return line;
    const n = indentOf(line);
    const to = indentMap.get(n) ?? n;
    let body = line.trimStart();
    if (gap !== 1 && dashGap(line) === 1) body = `-${" ".repeat(gap)}${body.slice(2)}`;
    return " ".repeat(to) + body;
  };

  // An anchor is a base line that the edit kept and that has a counterpart in the user's text.
  const aAt = (i: number): number => (i < 0 ? -1 : i >= o.length ? a.length : (oToA[i] ?? -1));
  const bAt = (i: number): number => (i < 0 ? -1 : i >= o.length ? b.length : (oToB[i] ?? -1));
  const isAnchor = (i: number): boolean => i < 0 || i >= o.length || (aAt(i) >= 0 && bAt(i) >= 0);
  // Hunks of the edit: gaps between consecutive base lines that `theirs` kept.
  const kept: number[] = [-1];
  o.forEach((_l, i) => {
    if (bAt(i) >= 0) kept.push(i);
  });
  kept.push(o.length);
  // Each region replaces a[aFrom, aTo) by b[bFrom, bTo).
  const regions: { aFrom: number; aTo: number; bFrom: number; bTo: number }[] = [];
  for (let k = 1; k < kept.length; k++) {
    const i1 = kept[k - 1] as number;
    const i2 = kept[k] as number;
    if (i2 === i1 + 1 && bAt(i2) === bAt(i1) + 1) continue; // nothing changed between them
    let region: { aFrom: number; aTo: number; bFrom: number; bTo: number };
    let inner = true;
    for (let i = i1 + 1; i < i2; i++) if (aAt(i) < 0) inner = false;
    if (isAnchor(i1) && inner) {
      // Tight: the changed base lines all have counterparts; replace just those.
      const aFrom = aAt(i1) + 1;
      region = { aFrom, aTo: i2 > i1 + 1 ? aAt(i2 - 1) + 1 : aFrom, bFrom: bAt(i1) + 1, bTo: bAt(i2) };
    } else {
      // Loose: widen to the nearest lines both sides agree on.
      let p = i1;
      while (!isAnchor(p)) p--;
      let q = i2;
      while (!isAnchor(q)) q++;
      region = { aFrom: aAt(p) + 1, aTo: aAt(q), bFrom: bAt(p) + 1, bTo: bAt(q) };
    }
    const last = regions[regions.length - 1];
    if (last && region.aFrom < last.aTo) {
      last.aTo = Math.max(last.aTo, region.aTo);
      last.bTo = Math.max(last.bTo, region.bTo);
    } else {
      regions.push(region);
    }
  }

  const out: string[] = [];
  let aPos = 0;
  for (const r of regions) {
    out.push(...a.slice(aPos, r.aFrom), ...b.slice(r.bFrom, r.bTo).map(reindent));
    aPos = r.aTo;
  }
  out.push(...a.slice(aPos));
  return out.join("\n");
}

/**
 * Parse `text`, run `edit` on its Document, and return the new text with every line the edit
 * did not touch kept as it was. Throws {@link EditError} when the text has syntax errors (an
 * edit of a half-parsed document could drop the user's text).
 */
export function editFlowText(
  text: string,
  edit: (doc: Document, parsed: ParsedFlow) => void,
  /** The parse of `text`, if the caller has it: its Document is cloned, not re-parsed. */
  current?: ParsedFlow,
): EditOutcome {
  const parsed = current ?? parseFlow(text);
  if (parsed.doc.errors.length > 0) {
    const first = parsed.diagnostics[0];
    throw new EditError(
      `fix the YAML syntax first${first?.line ? ` (line ${first.line}: ${first.message})` : ""}`,
    );
  }
  const base = printedBase(parsed);
  const doc = parsed.doc.clone();
  edit(doc, parsed);
  const theirs = printFlow(doc, parsed.style);
  if (theirs === base) return { text, parsed, changed: false, preserved: true };
  const merged = mergeLines(text, base, theirs);
  const check = parseFlow(merged);
  if (merged !== theirs && (check.doc.errors.length > 0 || printFlow(check.doc, parsed.style) !== theirs)) {
    return { text: theirs, parsed: parseFlow(theirs), changed: true, preserved: false };
  }
  return { text: merged, parsed: check, changed: true, preserved: true };
}

const basePrints = new WeakMap<ParsedFlow, string>();

/** The printer's version of a parsed text, computed once per parse. */
function printedBase(parsed: ParsedFlow): string {
  let base = basePrints.get(parsed);
  if (base === undefined) {
    base = printFlow(parsed.doc, parsed.style);
    basePrints.set(parsed, base);
  }
  return base;
}
