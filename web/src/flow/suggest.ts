// Template suggestions for the properties form: the context variables and the values that
// steps before the selected one extract, offered as `{{ name }}` completions.

import { isMap } from "yaml";
import type { ParsedFlow } from "./document";
import { str, walkFlow } from "./walk";

export interface Suggestion {
  /** What is inserted, e.g. `{{ orderId }}`. */
  value: string;
  /** Where it comes from: `context`, `step createOrder`, `builtin`. */
  origin: string;
}

const BUILTINS = ["env.NAME", "secret('NAME')", "uuid()", "now()", "random.int(1, 100)", "random.string(8)"];

/**
 * Suggestions for the step with id `stepId`: context keys, extractions of the steps walked
 * before it (in document order; with depends_on the order is only a hint), the step results
 * (`<id>.status`...), and the built-in functions.
 */
export function templateSuggestions(parsed: ParsedFlow, stepId: string | undefined): Suggestion[] {
  const out: Suggestion[] = [];
  const ctx = parsed.doc.get("context", true);
  if (isMap(ctx)) {
    for (const pair of ctx.items) out.push({ value: `{{ ${String((pair.key as { value?: unknown })?.value ?? pair.key)} }}`, origin: "context" });
  }
  let reached = false;
  walkFlow(parsed.doc, {
    step: ({ map }) => {
      const id = str(map, "id");
      if (reached || id === undefined) return;
      if (id === stepId) {
        reached = true;
        return;
      }
      const extract = map.get("extract", true);
      if (isMap(extract)) {
        for (const pair of extract.items) {
          out.push({ value: `{{ ${String((pair.key as { value?: unknown })?.value ?? pair.key)} }}`, origin: `step ${id}` });
        }
      }
      out.push({ value: `{{ ${id}.status }}`, origin: `step ${id}` });
    },
  });
  for (const b of BUILTINS) out.push({ value: `{{ ${b} }}`, origin: "builtin" });
  const seen = new Set<string>();
  return out.filter((s) => (seen.has(s.value) ? false : (seen.add(s.value), true)));
}
