// The suite editor's model, pure and tested without a browser: a saved suite becomes a draft,
// the draft's flows are added, removed and reordered, the problems the UI can see are listed by
// field, and the API's 422 errors (a JSON path each: `name`, `flow_ids[2]`, `environment`) are
// put beside the field they name. A flow's error is keyed by the flow's id, not its index, so
// it stays on the right row when the user reorders after a refused save.
import type { Diagnostic } from "../flow/types";
import type { Schemas } from "../api/typed";

export type SuiteOut = Schemas["SuiteOut"];
export type SuiteIn = Schemas["SuiteIn"];

export interface SuiteDraft {
  name: string;
  description: string;
  /** As typed: names separated by commas (a tag may hold spaces), an optional leading '#'. */
  tags: string;
  /** "" for none. */
  environment: string;
  /** As typed, so a half-typed number is not lost. */
  concurrency: string;
  /** Start no more flows of a run after one did not pass. */
  failFast: boolean;
  flowIds: string[];
}

/** Field -> message. Keys: name, description, tags, environment, concurrency, fail_fast, flows (the list
 * as a whole), `flow:<id>` (one flow), and `form` for what names no field. */
export type FieldErrors = Record<string, string>;

export const NAME_MAX = 200;
export const DESCRIPTION_MAX = 2000;

export function draftFromSuite(s: SuiteOut): SuiteDraft {
  return {
    name: s.name,
    description: s.description ?? "",
    tags: s.tags.join(", "),
    environment: s.environment ?? "",
    concurrency: String(s.concurrency),
    failFast: s.fail_fast,
    flowIds: [...s.flow_ids],
  };
}

export function parseTags(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(",")) {
    const t = raw.trim().replace(/^#+/, "").trim();
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

/** The PUT /suites/{id} body (a PUT replaces the whole suite). */
export function bodyFromDraft(d: SuiteDraft): SuiteIn {
  return {
    name: d.name.trim(),
    description: d.description.trim() === "" ? null : d.description,
    flow_ids: [...d.flowIds],
    tags: parseTags(d.tags),
    environment: d.environment === "" ? null : d.environment,
    concurrency: Number(d.concurrency),
    fail_fast: d.failFast,
  };
}

/** The suite as it will read once saved: what the list shows while the PUT is in flight. */
export function optimisticSuite(id: string, d: SuiteDraft): SuiteOut {
  const b = bodyFromDraft(d);
  return { id, name: b.name, description: b.description ?? null, flow_ids: b.flow_ids, tags: b.tags ?? [], environment: b.environment ?? null, concurrency: b.concurrency ?? 4, fail_fast: b.fail_fast ?? false };
}

/** What keeps the draft from being saved, by field (empty when it can be). `known` are the ids
 * of the flows in the library; a flow missing from it was deleted since the suite was saved. */
export function problems(d: SuiteDraft, known: ReadonlySet<string>): FieldErrors {
  const out: FieldErrors = {};
  const name = d.name.trim();
  if (name === "") out.name = "the suite needs a name";
  else if (name.length > NAME_MAX) out.name = `at most ${NAME_MAX} characters (${name.length})`;
  if (d.description.length > DESCRIPTION_MAX) out.description = `at most ${DESCRIPTION_MAX} characters (${d.description.length})`;
  const c = d.concurrency.trim();
  if (!/^\d+$/.test(c) || Number(c) < 1 || Number(c) > 1000) out.concurrency = "a whole number from 1 to 1000";
  if (d.flowIds.length === 0) out.flows = "a suite runs at least one flow";
  for (const id of d.flowIds) if (!known.has(id)) out[`flow:${id}`] = "this flow does not exist any more: remove it";
  return out;
}

/** The API's errors by field. `sent` is the body the errors are about (its flow_ids give the
 * flow each `flow_ids[i]` means). */
export function serverErrors(diagnostics: Diagnostic[], sent: SuiteIn, fallback: string): FieldErrors {
  const out: FieldErrors = {};
  const add = (key: string, message: string) => {
    out[key] = out[key] ? `${out[key]}; ${message}` : message;
  };
  for (const d of diagnostics) {
    const path = d.path ?? "";
    const flow = /^flow_ids\[(\d+)\]/.exec(path);
    const id = flow ? sent.flow_ids[Number(flow[1])] : undefined;
    if (id !== undefined) add(`flow:${id}`, d.message);
    else if (path === "flow_ids") add("flows", d.message);
    else {
      const field = /^(name|description|tags|environment|concurrency|fail_fast)\b/.exec(path)?.[1];
      add(field ?? "form", field ? d.message : path ? `${path}: ${d.message}` : d.message);
    }
  }
  if (Object.keys(out).length === 0) out.form = fallback;
  return out;
}

/** The errors left once `field` changed (its own goes: the user is fixing it). */
export function without(errors: FieldErrors, ...fields: string[]): FieldErrors {
  const out = { ...errors };
  for (const f of fields) delete out[f];
  return out;
}

/** `ids` with the item at `from` moved to `to` (both clamped; the same list when nothing moves). */
export function move(ids: string[], from: number, to: number): string[] {
  const t = Math.max(0, Math.min(ids.length - 1, to));
  if (from < 0 || from >= ids.length || from === t) return ids;
  const out = [...ids];
  const [item] = out.splice(from, 1);
  out.splice(t, 0, item as string);
  return out;
}

/** `ids` with `more` appended, leaving out the ones already there. */
export function addFlows(ids: string[], more: Iterable<string>): string[] {
  const out = [...ids];
  for (const id of more) if (!out.includes(id)) out.push(id);
  return out;
}

export function sameDraft(a: SuiteDraft, b: SuiteDraft): boolean {
  return JSON.stringify(bodyFromDraft(a)) === JSON.stringify(bodyFromDraft(b));
}
