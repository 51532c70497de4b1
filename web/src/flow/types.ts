// Shapes shared by the YAML<->graph mapping, the layout and the Builder screen.

/** Path of a YAML node inside the flow document, e.g. ["steps", 2, "branches", 0, "steps", 1]. */
export type DocPath = (string | number)[];

/** The top-level step lists of a flow, in the order they run (hooks run around each step). */
export const SECTIONS = ["setup", "steps", "teardown"] as const;
export const HOOK_SECTIONS = ["before_step", "after_step"] as const;
export type SectionName = (typeof SECTIONS)[number] | `hooks.${(typeof HOOK_SECTIONS)[number]}`;

/** Keys every step has whatever its kind (testflow/dsl/models.py StepBase). */
export const COMMON_STEP_KEYS = [
  "id",
  "type",
  "description",
  "when",
  "depends_on",
  "retry",
  "timeout",
  "continue_on_error",
  "extract",
  "assert",
  "for_each",
  "as",
  "tags",
  "durable",
] as const;

export const CONTROL_KINDS = ["parallel", "group", "call", "poll"] as const;

export type NodeKind = "step" | "call" | "parallel" | "branch" | "group" | "poll" | "section";

/** A 1-based line/column range in the YAML text. */
export interface TextRange {
  line: number;
  col: number;
  endLine: number;
  endCol: number;
}

export interface FlowNode {
  /** Stable key: `step:<id>` when the step id is unique, else `path:<doc path>`. */
  id: string;
  kind: NodeKind;
  /** Path of the YAML node this graph node stands for (a step map, a branch, a section list). */
  path: DocPath;
  /** Enclosing container node, if any. */
  parentId?: string;
  label: string;
  stepId?: string;
  stepType?: string;
  description?: string;
  /** For steps: the list that holds the step and its index there (edits use them). */
  listPath?: DocPath;
  index?: number;
  /** `call` steps: the sub-flow file. */
  subflow?: string;
  range?: TextRange;
}

export type EdgeKind = "sequence" | "depends_on" | "section";

export interface FlowEdge {
  id: string;
  source: string;
  target: string;
  kind: EdgeKind;
}

export type Severity = "error" | "warning";

/** A problem in the flow, shaped like the API's diagnostics (docs/api-contract.md). */
export interface Diagnostic {
  message: string;
  severity: Severity;
  /** Dotted path as the API gives it: `steps[0].request.url`. */
  path?: string;
  line?: number;
  col?: number;
  endLine?: number;
  endCol?: number;
  hint?: string | null;
  source?: "yaml" | "structure" | "server" | "schema";
}

export interface FlowGraph {
  nodes: FlowNode[];
  edges: FlowEdge[];
  /** Problems found while mapping (duplicate ids, unknown depends_on targets...). */
  diagnostics: Diagnostic[];
}
