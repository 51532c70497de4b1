// Adapting step-kind JSON Schemas (from pydantic) to react-jsonschema-form: values typed
// `Any` (no `type`) have no widget in rjsf, so they get a YAML text field instead.
import type { RJSFSchema, UiSchema } from "@rjsf/utils";

type Schema = Record<string, unknown>;

function resolve(root: Schema, s: Schema): Schema {
  const ref = s.$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/$defs/")) return s;
  const defs = (root.$defs ?? {}) as Record<string, Schema>;
  return defs[ref.slice("#/$defs/".length)] ?? s;
}

/** A schema that accepts any value: rjsf cannot render it. */
export function isUntyped(s: Schema): boolean {
  return !("type" in s) && !("$ref" in s) && !("anyOf" in s) && !("oneOf" in s) && !("allOf" in s) && !("enum" in s) && !("const" in s);
}

/** The uiSchema mapping every untyped property (nested objects included) to the YAML field. */
export function uiSchemaFor(root: RJSFSchema, depth = 0): UiSchema {
  const ui: UiSchema = {};
  const walk = (s: Schema, out: UiSchema, level: number): void => {
    const props = resolve(root as Schema, s).properties as Record<string, Schema> | undefined;
    if (!props || level > 4) return;
    for (const [name, prop] of Object.entries(props)) {
      const target = resolve(root as Schema, prop);
      if (isUntyped(prop)) {
        out[name] = { "ui:field": "yamlValue" };
      } else if (target.type === "object" && target.properties) {
        const child: UiSchema = {};
        walk(target, child, level + 1);
        if (Object.keys(child).length > 0) out[name] = child;
      }
    }
  };
  walk(root as Schema, ui, depth);
  return ui;
}

/** Does a value carry nothing (what a form puts in for a field the user never touched)? */
function blank(v: unknown): boolean {
  if (v === undefined || v === null || v === "") return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.values(v as Record<string, unknown>).every(blank);
  return false;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Form data to show: `data` (what the YAML sets) with every property the YAML leaves out
 * filled with its JSON Schema `default`, so a form shows the value the step will run with
 * (log's `level: info`, not the first option of the list). Recurses into objects the YAML
 * has; `null` and empty defaults ("unset") are left out. Diff the form's answers against
 * this (not against `data`) so a default is only written when the user changes it.
 */
export function withDefaults(root: RJSFSchema, data: Record<string, unknown>, schema?: Schema, depth = 0): Record<string, unknown> {
  const target = resolve(root as Schema, schema ?? (root as Schema));
  const props = target.properties as Record<string, Schema> | undefined;
  if (!props || depth > 8) return data;
  const out: Record<string, unknown> = { ...data };
  for (const [name, raw] of Object.entries(props)) {
    const prop = resolve(root as Schema, raw);
    const value = data[name];
    if (value === undefined) {
      // pydantic puts `default` beside a `$ref`, so look on the property before resolving it.
      const dflt = "default" in raw ? raw.default : prop.default;
      if (dflt !== undefined && !blank(dflt)) out[name] = structuredClone(dflt);
    } else if (isPlainObject(value) && prop.properties) {
      out[name] = withDefaults(root, value, prop, depth + 1);
    }
  }
  return out;
}

/**
 * The edits that turn form data `before` into `after`, as [path, value] pairs (value
 * undefined = delete). Only what changed is listed, and empty values appearing where there
 * was nothing (defaults a form fills in) are ignored, so opening a step's form never writes
 * into the YAML.
 */
export function configChanges(before: unknown, after: unknown, path: (string | number)[] = []): [(string | number)[], unknown][] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  if (before === undefined && blank(after)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObj(before) && isObj(after)) {
    const out: [(string | number)[], unknown][] = [];
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      out.push(...configChanges(before[key], after[key], [...path, key]));
    }
    return out;
  }
  return [[path, after === null && before === undefined ? undefined : after]];
}
