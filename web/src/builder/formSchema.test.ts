import { describe, expect, it } from "vitest";
import { configChanges, isUntyped, uiSchemaFor, withDefaults } from "./formSchema";

describe("configChanges", () => {
  it("ignores defaults a form fills into untouched fields", () => {
    const before = { request: { method: "POST", url: "u" } };
    const after = { request: { method: "POST", url: "u", body: null, form: null, headers: {}, tls: { verify: null } } };
    expect(configChanges(before, after)).toEqual([]);
  });

  it("lists changed, added and removed leaves only", () => {
    const before = { request: { method: "POST", url: "u", json: { a: 1 } }, topic: "t" };
    const after = { request: { method: "PUT", url: "u", json: { a: 1, b: 2 } } };
    expect(configChanges(before, after)).toEqual([
      [["request", "method"], "PUT"],
      [["request", "json", "b"], 2],
      [["topic"], undefined],
    ]);
  });

  it("replaces lists and scalars whole", () => {
    expect(configChanges({ rows: [1, 2] }, { rows: [1] })).toEqual([[["rows"], [1]]]);
  });
});

describe("uiSchemaFor", () => {
  it("maps untyped properties, nested through $refs, to the YAML field", () => {
    const schema = {
      type: "object",
      properties: { request: { $ref: "#/$defs/Req" }, note: { type: "string" }, anything: { description: "x" } },
      $defs: { Req: { type: "object", properties: { json: { description: "body" }, url: { type: "string" } } } },
    };
    expect(uiSchemaFor(schema as never)).toEqual({ request: { json: { "ui:field": "yamlValue" } }, anything: { "ui:field": "yamlValue" } });
    expect(isUntyped({ type: "string" })).toBe(false);
  });
});

describe("withDefaults", () => {
  const log = {
    type: "object",
    properties: {
      message: { type: "string" },
      level: { type: "string", enum: ["debug", "info", "warning", "error"], default: "info" },
    },
    required: ["message"],
  };

  it("shows a schema default where the YAML sets nothing (log level: info, not debug)", () => {
    expect(withDefaults(log as never, { message: "hi" })).toEqual({ message: "hi", level: "info" });
    expect(withDefaults(log as never, { message: "hi", level: "error" })).toEqual({ message: "hi", level: "error" });
  });

  it("never writes a default into the YAML: diffs against the shown data list only user changes", () => {
    const yaml = { message: "hi" };
    const shown = withDefaults(log as never, yaml);
    expect(configChanges(shown, { ...shown })).toEqual([]);
    expect(configChanges(shown, { ...shown, message: "ho" })).toEqual([[["message"], "ho"]]);
    expect(configChanges(shown, { ...shown, level: "debug" })).toEqual([[["level"], "debug"]]);
  });

  it("follows $refs into objects the YAML has, and skips null and empty defaults", () => {
    const schema = {
      type: "object",
      properties: {
        request: { $ref: "#/$defs/Req" },
        body: { default: null },
        tags: { type: "array", default: [] },
        mode: { $ref: "#/$defs/Mode", default: "fast" },
      },
      $defs: {
        Req: { type: "object", properties: { method: { type: "string", default: "GET" }, url: { type: "string" } } },
        Mode: { type: "string", enum: ["fast", "slow"] },
      },
    };
    expect(withDefaults(schema as never, { request: { url: "u" } })).toEqual({ request: { url: "u", method: "GET" }, mode: "fast" });
    expect(withDefaults(schema as never, {})).toEqual({ mode: "fast" });
  });
});
