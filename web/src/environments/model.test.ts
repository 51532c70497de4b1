import { describe, expect, it } from "vitest";
import { bodyFrom, draftFrom, emptyDraft, type EnvironmentOut, nameProblem, parseValue, problems, renames, showValue } from "./model";

const stored: EnvironmentOut = {
  name: "staging",
  description: "the staging stack",
  variables: { baseUrl: "https://s.example", retries: 3, flags: { a: true } },
  secrets: { API_KEY: "***", DB_PASSWORD: "***" },
  connections: { db: { dsn: "postgresql://db/app", options: { pool: 2 } }, kafka: { url: "kafka:9092" } },
  updated_at: "2024-01-01T00:00:00Z",
};

describe("environment drafts", () => {
  it("never carries a secret's answer value: only names, all stored", () => {
    const d = draftFrom(stored);
    expect(d.secrets).toEqual([
      { name: "API_KEY", stored: true, value: "" },
      { name: "DB_PASSWORD", stored: true, value: "" },
    ]);
    expect(JSON.stringify(d)).not.toContain("***");
  });

  it("round-trips an untouched environment, keeping every stored secret (null)", () => {
    expect(bodyFrom(draftFrom(stored))).toEqual({
      name: "staging",
      description: "the staging stack",
      variables: stored.variables,
      connections: stored.connections,
      secrets: { API_KEY: null, DB_PASSWORD: null },
    });
  });

  it("replaces a secret given a value, deletes one removed, sets a new one", () => {
    const d = draftFrom(stored);
    d.secrets[0] = { ...d.secrets[0]!, value: "new-key" };
    d.secrets.splice(1, 1);
    d.secrets.push({ name: "TOKEN", stored: false, value: "t0k" });
    expect(bodyFrom(d).secrets).toEqual({ API_KEY: "new-key", TOKEN: "t0k" });
  });

  it("parses variable values as JSON when they are JSON, else keeps the text", () => {
    expect(parseValue("5")).toBe(5);
    expect(parseValue("true")).toBe(true);
    expect(parseValue('{"a": [1]}')).toEqual({ a: [1] });
    expect(parseValue('"007"')).toBe("007");
    expect(parseValue("https://x/y")).toBe("https://x/y");
    expect(parseValue("1.2.3")).toBe("1.2.3");
    expect(parseValue("{not json")).toBe("{not json");
    for (const v of ["text", 5, false, null, { a: 1 }, [1, "b"]]) expect(parseValue(showValue(v))).toEqual(v);
  });

  it("lists what keeps a draft from being saved", () => {
    const d = emptyDraft();
    d.name = "bad name";
    d.variables = [{ key: "A", value: "1" }, { key: "A", value: "2" }];
    d.connections = [{ name: "db", dsn: "", url: "", options: "[1]" }];
    d.secrets = [{ name: "S", stored: false, value: "" }, { name: "T", stored: false, value: "***" }];
    expect(problems(d, true)).toEqual([
      "the name is letters, digits, '_', '.' and '-' (and not empty)",
      'variable "A" is there twice',
      'the options of connection "db" must be a JSON object',
      'secret "S" needs a value',
      'secret "T": "***" means "keep the stored value" to the API; choose another value',
    ]);
    expect(problems(draftFrom(stored), false)).toEqual([]);
  });

  it("checks the name of a renamed environment, not of one that keeps its stored name", () => {
    const d = draftFrom(stored);
    expect(renames(d, "staging")).toBe(false);
    expect(nameProblem(d, false, "staging")).toBeUndefined();
    // A stored name the rules would refuse now (made by a file, say) does not block other edits.
    expect(problems({ ...d, name: "old name" }, false, "old name")).toEqual([]);
    const renamed = { ...d, name: "staging 2" };
    expect(renames(renamed, "staging")).toBe(true);
    expect(problems(renamed, false, "staging")).toEqual(["the name is letters, digits, '_', '.' and '-' (and not empty)"]);
    expect(nameProblem({ ...d, name: "" }, false, "staging")).toContain("not empty");
    expect(nameProblem({ ...d, name: "x".repeat(201) }, false, "staging")).toBe("the name is at most 200 characters");
    expect(bodyFrom({ ...d, name: "staging-eu" }).name).toBe("staging-eu");
  });
});
