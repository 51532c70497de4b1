// The diff viewer's model: expected vs actual of an assertion as line diffs, or the unified
// diff the server computed (AssertionOutcome.diff).
import { diffComm } from "node-diff3";

export type DiffOp = "same" | "del" | "add" | "meta";
export interface DiffLine {
  op: DiffOp;
  text: string;
}

/** How a value shows in the diff: strings as they are, everything else as indented JSON. */
export function showValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "(nothing)";
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Line diff of expected (`-`) against actual (`+`). */
export function lineDiff(expected: unknown, actual: unknown): DiffLine[] {
  const a = showValue(expected).split("\n");
  const b = showValue(actual).split("\n");
  const out: DiffLine[] = [];
  for (const part of diffComm(a, b) as { common?: string[]; buffer1?: string[]; buffer2?: string[] }[]) {
    if (part.common) for (const text of part.common) out.push({ op: "same", text });
    else {
      for (const text of part.buffer1 ?? []) out.push({ op: "del", text });
      for (const text of part.buffer2 ?? []) out.push({ op: "add", text });
    }
  }
  return out;
}

/** Lines of a unified diff, classified by their first character. */
export function parseUnified(diff: string): DiffLine[] {
  return diff
    .replace(/\n$/, "")
    .split("\n")
    .map((text) => {
      if (text.startsWith("+++") || text.startsWith("---") || text.startsWith("@@")) return { op: "meta" as const, text };
      if (text.startsWith("+")) return { op: "add" as const, text: text.slice(1) };
      if (text.startsWith("-")) return { op: "del" as const, text: text.slice(1) };
      return { op: "same" as const, text: text.startsWith(" ") ? text.slice(1) : text };
    });
}
