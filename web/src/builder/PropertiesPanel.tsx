// The properties of the selected step: the common fields, its depends_on, and a form built
// from its kind's JSON Schema (react-jsonschema-form). String inputs offer `{{ ... }}`
// completions of context variables and earlier steps' extractions.
import Form from "@rjsf/core";
import type { RJSFSchema, WidgetProps } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { useEffect, useMemo, useState } from "react";
import type { StepKindInfo } from "../api/client";
import type { Suggestion } from "../flow/suggest";
import { configChanges, uiSchemaFor, withDefaults } from "./formSchema";
import { YamlValueField } from "./YamlValueField";
import { COMMON_STEP_KEYS, type Diagnostic, type FlowNode } from "../flow/types";

/** Keys of control steps that the canvas edits (nested steps), kept out of the form. */
const STRUCTURE_KEYS = ["steps", "branches", "step"];
const SUGGESTIONS_ID = "tf-template-suggestions";

function TemplateTextWidget(props: WidgetProps) {
  const { id, value, required, disabled, readonly, placeholder, onChange, onBlur, onFocus, schema } = props;
  return (
    <input
      id={id}
      className="input"
      type="text"
      list={SUGGESTIONS_ID}
      value={value === undefined || value === null ? "" : String(value)}
      required={required}
      disabled={disabled || readonly}
      placeholder={placeholder}
      onChange={(e) => {
        const v = e.target.value;
        if (v === "") return onChange(undefined);
        // A number field holding a number stays a number; a template stays a string.
        if ((schema.type === "integer" || schema.type === "number") && /^-?\d+(\.\d+)?$/.test(v)) return onChange(Number(v));
        onChange(v);
      }}
      onBlur={(e) => onBlur(id, e.target.value)}
      onFocus={(e) => onFocus(id, e.target.value)}
    />
  );
}

export interface PropertiesPanelProps {
  node: FlowNode | undefined;
  step: Record<string, unknown> | undefined;
  kind: StepKindInfo | undefined;
  kindsLoaded: boolean;
  allStepIds: string[];
  suggestions: Suggestion[];
  diagnostics: Diagnostic[];
  error: string | undefined;
  onField: (key: string, value: unknown) => void;
  /** Changes of the kind-specific settings, as [path inside the step, value] pairs. */
  onConfig: (changes: [(string | number)[], unknown][]) => void;
  onRename: (id: string) => void;
  onAddDep: (id: string) => void;
  onRemoveDep: (id: string) => void;
  onDelete: () => void;
  onMove: (delta: -1 | 1) => void;
}

export function PropertiesPanel(props: PropertiesPanelProps) {
  const { node, step, kind } = props;
  const [idDraft, setIdDraft] = useState("");
  useEffect(() => setIdDraft(node?.stepId ?? ""), [node?.stepId]);

  const config = useMemo(() => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(step ?? {})) {
      if (!(COMMON_STEP_KEYS as readonly string[]).includes(k) && !STRUCTURE_KEYS.includes(k)) out[k] = v;
    }
    return out;
  }, [step]);

  const schema = useMemo((): RJSFSchema | undefined => {
    if (!kind) return undefined;
    const s = structuredClone(kind.schema) as RJSFSchema;
    if (s.properties) for (const k of STRUCTURE_KEYS) delete s.properties[k];
    if (Array.isArray(s.required)) s.required = s.required.filter((k) => !STRUCTURE_KEYS.includes(k));
    return s;
  }, [kind]);

  // What the form shows: the YAML's values, and schema defaults where the YAML sets nothing.
  const shown = useMemo(() => (schema ? withDefaults(schema, config) : config), [schema, config]);

  if (!node || node.kind === "section" || node.kind === "branch" || !step) {
    return (
      <aside className="properties" aria-label="Properties">
        <h2 className="panel-title">Properties</h2>
        <p className="muted">Select a step on the canvas (or put the cursor in it in the YAML) to edit it.</p>
        {props.error ? (
          <p className="error-text" role="alert">
            {props.error}
          </p>
        ) : null}
      </aside>
    );
  }

  const deps = Array.isArray(step.depends_on) ? (step.depends_on as unknown[]).map(String) : typeof step.depends_on === "string" ? [step.depends_on] : [];
  const candidates = props.allStepIds.filter((id) => id !== node.stepId && !deps.includes(id));
  const text = (key: string) => (typeof step[key] === "string" || typeof step[key] === "number" ? String(step[key]) : "");

  return (
    <aside className="properties" aria-label="Properties">
      <h2 className="panel-title">
        {node.label} <span className="muted">{node.stepType}</span>
      </h2>
      {props.error ? (
        <p className="error-text" role="alert">
          {props.error}
        </p>
      ) : null}
      {props.diagnostics.length > 0 ? (
        <ul className="problems" aria-label="Problems in this step">
          {props.diagnostics.map((d, i) => (
            <li key={i} className={d.severity}>
              {d.line ? `line ${d.line}: ` : ""}
              {d.message}
            </li>
          ))}
        </ul>
      ) : null}
      <div className="toolbar">
        <button type="button" className="btn" onClick={() => props.onMove(-1)} disabled={node.listPath === undefined || node.index === 0}>
          ↑ Up
        </button>
        <button type="button" className="btn" onClick={() => props.onMove(1)} disabled={node.listPath === undefined}>
          ↓ Down
        </button>
        <button type="button" className="btn danger" onClick={props.onDelete} disabled={node.listPath === undefined}>
          Delete
        </button>
      </div>
      <datalist id={SUGGESTIONS_ID}>
        {props.suggestions.map((s) => (
          <option key={s.value} value={s.value}>
            {s.origin}
          </option>
        ))}
      </datalist>
      <form className="common-fields" onSubmit={(e) => e.preventDefault()}>
        <label>
          id
          <input
            className="input"
            value={idDraft}
            onChange={(e) => setIdDraft(e.target.value)}
            onBlur={() => idDraft !== node.stepId && props.onRename(idDraft)}
            onKeyDown={(e) => e.key === "Enter" && idDraft !== node.stepId && props.onRename(idDraft)}
          />
        </label>
        {(["description", "when", "timeout"] as const).map((key) => (
          <label key={key}>
            {key}
            <input
              className="input"
              list={key === "when" ? SUGGESTIONS_ID : undefined}
              value={text(key)}
              placeholder={key === "timeout" ? "e.g. 30s (default from the kind)" : undefined}
              onChange={(e) => props.onField(key, e.target.value === "" ? undefined : e.target.value)}
            />
          </label>
        ))}
        <label className="check">
          <input
            type="checkbox"
            checked={step.continue_on_error === true}
            onChange={(e) => props.onField("continue_on_error", e.target.checked ? true : undefined)}
          />
          continue on error
        </label>
        <fieldset>
          <legend>depends_on</legend>
          {deps.length === 0 ? <p className="muted">Runs in list order.</p> : null}
          <ul className="chips">
            {deps.map((d) => (
              <li key={d} className="chip">
                {d}
                <button type="button" aria-label={`Remove dependency on ${d}`} onClick={() => props.onRemoveDep(d)}>
                  ×
                </button>
              </li>
            ))}
          </ul>
          {candidates.length > 0 ? (
            <select
              className="input"
              aria-label="Add a dependency"
              value=""
              onChange={(e) => e.target.value && props.onAddDep(e.target.value)}
            >
              <option value="">+ depends on…</option>
              {candidates.map((id) => (
                <option key={id} value={id}>
                  {id}
                </option>
              ))}
            </select>
          ) : null}
        </fieldset>
      </form>
      <h3 className="panel-subtitle">{node.stepType} settings</h3>
      {schema ? (
        <Form
          key={node.id}
          schema={schema}
          formData={shown}
          validator={validator}
          widgets={{ TextWidget: TemplateTextWidget }}
          uiSchema={{ ...uiSchemaFor(schema), "ui:submitButtonOptions": { norender: true } }}
          fields={{ yamlValue: YamlValueField }}
          onChange={(e) => {
            const changes = configChanges(shown, e.formData ?? {});
            if (changes.length > 0) props.onConfig(changes);
          }}
          experimental_defaultFormStateBehavior={{ emptyObjectFields: "skipDefaults", arrayMinItems: { populate: "never" } }}
          liveValidate={false}
          noHtml5Validate
          showErrorList={false}
        />
      ) : props.kindsLoaded ? (
        <p className="muted">
          No schema for step kind “{node.stepType}”: it is not in the registry (a plugin that is not installed?). Edit it in
          the YAML.
        </p>
      ) : (
        <p className="muted">The form appears once the step kinds are loaded from the API; the YAML stays editable.</p>
      )}
    </aside>
  );
}
