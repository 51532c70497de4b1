import { describe, expect, it } from "vitest";
import { addFlows, bodyFromDraft, draftFromSuite, move, optimisticSuite, parseTags, problems, serverErrors, type SuiteOut, without } from "./edit";

const suite: SuiteOut = { id: "s1", name: "nightly", description: null, flow_ids: ["a", "b", "c"], tags: ["orders", "smoke test"], environment: "staging", concurrency: 4, fail_fast: true };
const known = new Set(["a", "b", "c", "d"]);

describe("suite editor model", () => {
  it("round-trips a saved suite through a draft unchanged", () => {
    const d = draftFromSuite(suite);
    expect(d.tags).toBe("orders, smoke test");
    expect(bodyFromDraft(d)).toEqual({ name: "nightly", description: null, flow_ids: ["a", "b", "c"], tags: ["orders", "smoke test"], environment: "staging", concurrency: 4, fail_fast: true });
    expect(optimisticSuite("s1", d)).toEqual(suite);
    expect(bodyFromDraft({ ...d, failFast: false }).fail_fast).toBe(false);
  });

  it("reads tags separated by commas, with or without '#', once each", () => {
    expect(parseTags(" #orders,, smoke test ,#orders, #x")).toEqual(["orders", "smoke test", "x"]);
    expect(parseTags("")).toEqual([]);
  });

  it("moves, adds and keeps the order of flows", () => {
    expect(move(["a", "b", "c"], 0, 1)).toEqual(["b", "a", "c"]);
    expect(move(["a", "b", "c"], 2, 0)).toEqual(["c", "a", "b"]);
    expect(move(["a", "b", "c"], 2, 9)).toEqual(["a", "b", "c"]);
    expect(move(["a", "b", "c"], 0, -1)).toEqual(["a", "b", "c"]);
    expect(addFlows(["a", "b"], ["b", "d", "a", "c"])).toEqual(["a", "b", "d", "c"]);
  });

  it("lists what blocks a save by field", () => {
    const d = { ...draftFromSuite(suite), name: "  ", concurrency: "0", flowIds: ["a", "gone"] };
    expect(problems(d, known)).toEqual({ name: "the suite needs a name", concurrency: "a whole number from 1 to 1000", "flow:gone": "this flow does not exist any more: remove it" });
    expect(problems({ ...d, name: "x".repeat(201), concurrency: "2.5", flowIds: [] }, known)).toMatchObject({ name: "at most 200 characters (201)", concurrency: "a whole number from 1 to 1000", flows: "a suite runs at least one flow" });
    expect(problems(draftFromSuite(suite), known)).toEqual({});
  });

  it("puts the API's 422 errors beside their field, a flow's on that flow", () => {
    const sent = bodyFromDraft({ ...draftFromSuite(suite), flowIds: ["c", "a", "x"] });
    const errors = serverErrors(
      [
        { path: "flow_ids[2]", message: "flow 'x' does not exist", severity: "error" },
        { path: "environment", message: "environment 'staging' does not exist", severity: "error" },
        { path: "tags[1]", message: "Input should be a valid string", severity: "error" },
        { path: "colour", message: "Extra inputs are not permitted", severity: "error" },
        { path: "flow_ids", message: "too short", severity: "error" },
        { path: "fail_fast", message: "Input should be a valid boolean", severity: "error" },
      ],
      sent,
      "refused",
    );
    expect(errors).toEqual({
      "flow:x": "flow 'x' does not exist",
      environment: "environment 'staging' does not exist",
      tags: "Input should be a valid string",
      form: "colour: Extra inputs are not permitted",
      flows: "too short",
      fail_fast: "Input should be a valid boolean",
    });
    expect(serverErrors([], sent, "HTTP 500")).toEqual({ form: "HTTP 500" });
    expect(without(errors, "environment", "flow:x")).not.toHaveProperty("environment");
  });
});
