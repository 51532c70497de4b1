// An rjsf field for values of any type: edited as a small YAML snippet.
import type { FieldProps } from "@rjsf/utils";
import { useEffect, useState } from "react";
import { parse, stringify } from "yaml";

const show = (v: unknown): string => (v === undefined ? "" : stringify(v, { lineWidth: 0 }).trimEnd());

export function YamlValueField(props: FieldProps) {
  const { formData, onChange, schema, name, fieldPathId } = props;
  const [draft, setDraft] = useState(show(formData));
  const [error, setError] = useState<string>();
  useEffect(() => {
    setDraft((d) => {
      try {
        return JSON.stringify(parse(d)) === JSON.stringify(formData) ? d : show(formData);
      } catch {
        return d;
      }
    });
  }, [formData]);
  const id = fieldPathId.$id;
  return (
    <div className="yaml-field">
      <label htmlFor={id}>{schema.title ?? name}</label>
      {schema.description ? <p className="muted">{schema.description}</p> : null}
      <textarea
        id={id}
        className="input mono"
        rows={Math.min(8, Math.max(2, draft.split("\n").length))}
        value={draft}
        spellCheck={false}
        onChange={(e) => {
          const text = e.target.value;
          setDraft(text);
          try {
            const value = text.trim() === "" ? undefined : (parse(text) as unknown);
            setError(undefined);
            onChange(value, fieldPathId.path);
          } catch (err) {
            setError(err instanceof Error ? err.message.split("\n")[0] : String(err));
          }
        }}
        aria-invalid={error !== undefined}
      />
      {error ? <p className="error-text">{error}</p> : <p className="muted">YAML: any value.</p>}
    </div>
  );
}
