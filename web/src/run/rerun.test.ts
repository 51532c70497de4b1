import { describe, expect, it } from "vitest";
import { rerunFrom, topStepOf } from "./rerun";
import { record } from "./test/records";

describe("re-run from a failed step", () => {
  it("names the top-level step of a failed step once the run is over", () => {
    expect(rerunFrom(record("check", { status: "failed" }), true)).toBe("check");
    expect(rerunFrom(record("grp.inner", { status: "error" }), true)).toBe("grp");
    expect(rerunFrom(record("loop[2]", { step_id: "loop", status: "failed" }), true)).toBe("loop");
    expect(rerunFrom(record("create@before.hook", { phase: "hooks", status: "failed" }), true)).toBe("create");
  });

  it("offers nothing for passed or skipped steps, setup and teardown, or a running run", () => {
    expect(rerunFrom(record("check"), true)).toBeUndefined();
    expect(rerunFrom(record("check", { status: "skipped" }), true)).toBeUndefined();
    expect(rerunFrom(record("prep", { phase: "setup", status: "failed" }), true)).toBeUndefined();
    expect(rerunFrom(record("bye", { phase: "teardown", status: "failed" }), true)).toBeUndefined();
    expect(rerunFrom(record("check", { status: "failed" }), false)).toBeUndefined();
    expect(rerunFrom(undefined, true)).toBeUndefined();
  });

  it("splits keys like the interpreter builds them", () => {
    expect(topStepOf("par.branch0.get")).toBe("par");
    expect(topStepOf("plain")).toBe("plain");
  });
});
