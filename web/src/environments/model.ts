// The Environments screen's editing model, pure and tested without a browser: an environment
// from the API becomes a draft of rows (variables, connections, secrets) and a draft becomes
// the PUT/POST body. Secrets are write-only: the API answers "***" for each, so a stored
// secret is only ever "set" here; the body keeps it (null) unless the user typed a new value,
// and a secret removed from the draft is left out of the body (the API deletes it).
import type { Schemas } from "../api/typed";

export type EnvironmentOut = Schemas["EnvironmentOut"];
export type EnvironmentIn = Schemas["EnvironmentIn"];

export interface VariableRow {
  key: string;
  /** The value as typed: JSON (numbers, true/false/null, objects, lists, "quoted") or plain text. */
  value: string;
}

export interface ConnectionRow {
  name: string;
  dsn: string;
  url: string;
  /** JSON object text; "" for none. */
  options: string;
}

export interface SecretRow {
  name: string;
  /** Whether the server holds a value for this name (it never tells which). */
  stored: boolean;
  /** A new value to set; "" keeps the stored one (for a stored secret). */
  value: string;
}

export interface Draft {
  name: string;
  description: string;
  variables: VariableRow[];
  connections: ConnectionRow[];
  secrets: SecretRow[];
}

export const emptyDraft = (): Draft => ({ name: "", description: "", variables: [], connections: [], secrets: [] });

/** How a variable's value is shown in its text field. */
export function showValue(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** The value a variable's text stands for: JSON when it parses as JSON, else the text itself. */
export function parseValue(text: string): unknown {
  const t = text.trim();
  if (t === "") return "";
  if (/^(-?\d|true$|false$|null$|[[{"])/.test(t)) {
    try {
      return JSON.parse(t);
    } catch {
      return text;
    }
  }
  return text;
}

export function draftFrom(env: EnvironmentOut): Draft {
  const connections = Object.entries(env.connections ?? {}).map(([name, raw]): ConnectionRow => {
    const c = (raw ?? {}) as { dsn?: string | null; url?: string | null; options?: Record<string, unknown> };
    const options = c.options && Object.keys(c.options).length > 0 ? JSON.stringify(c.options) : "";
    return { name, dsn: c.dsn ?? "", url: c.url ?? "", options };
  });
  return {
    name: env.name,
    description: env.description ?? "",
    variables: Object.entries(env.variables ?? {}).map(([key, v]) => ({ key, value: showValue(v) })),
    connections,
    // Only the names: whatever the answer holds in place of a value ("***") is dropped here.
    secrets: Object.keys(env.secrets ?? {}).map((name) => ({ name, stored: true, value: "" })),
  };
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/** Whether the draft renames the environment it was made from (`original`, its stored name). */
export const renames = (d: Draft, original: string | undefined): boolean => original !== undefined && original !== "" && d.name !== original;

/** What is wrong with the draft's name, when it is new or renamed (the Name field shows it). */
export function nameProblem(d: Draft, creating: boolean, original?: string): string | undefined {
  if (!creating && !renames(d, original)) return undefined;
  if (!NAME.test(d.name)) return "the name is letters, digits, '_', '.' and '-' (and not empty)";
  if (d.name.length > 200) return "the name is at most 200 characters";
  return undefined;
}

/** The problems that keep a draft from being saved (empty when it can be). `original` is the
 * stored name of the environment being edited: a draft with another name renames it. */
export function problems(d: Draft, creating: boolean, original?: string): string[] {
  const out: string[] = [];
  const name = nameProblem(d, creating, original);
  if (name) out.push(name);
  const dupes = (what: string, names: string[]) => {
    const seen = new Set<string>();
    for (const n of names) {
      if (n.trim() === "") out.push(`a ${what} has no name`);
      else if (seen.has(n)) out.push(`${what} "${n}" is there twice`);
      seen.add(n);
    }
  };
  dupes("variable", d.variables.map((v) => v.key));
  dupes("connection", d.connections.map((c) => c.name));
  dupes("secret", d.secrets.map((s) => s.name));
  for (const c of d.connections) {
    if (c.options.trim() === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(c.options);
    } catch {
      out.push(`the options of connection "${c.name}" are not JSON`);
      continue;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) out.push(`the options of connection "${c.name}" must be a JSON object`);
  }
  for (const s of d.secrets) {
    if (!s.stored && s.value === "") out.push(`secret "${s.name}" needs a value`);
    if (s.value === "***") out.push(`secret "${s.name}": "***" means "keep the stored value" to the API; choose another value`);
  }
  return out;
}

/** The body of POST /environments (creating) or PUT /environments/{name} (the path holds the
 * stored name; a different `name` here renames the environment). */
export function bodyFrom(d: Draft): EnvironmentIn {
  const variables: Record<string, unknown> = {};
  for (const v of d.variables) variables[v.key] = parseValue(v.value);
  const connections: Record<string, Record<string, unknown>> = {};
  for (const c of d.connections) {
    const out: Record<string, unknown> = {};
    if (c.dsn.trim()) out.dsn = c.dsn.trim();
    if (c.url.trim()) out.url = c.url.trim();
    if (c.options.trim()) out.options = JSON.parse(c.options) as Record<string, unknown>;
    connections[c.name] = out;
  }
  const secrets: Record<string, string | null> = {};
  for (const s of d.secrets) secrets[s.name] = s.value !== "" ? s.value : s.stored ? null : "";
  return { name: d.name, description: d.description.trim() === "" ? null : d.description, variables, connections, secrets };
}
