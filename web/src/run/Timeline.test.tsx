// @vitest-environment jsdom
import { cleanup, fireEvent, render } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { applyEvents, emptyView } from "./state";
import { at, event, record, resetSeq } from "./test/records";
import { ROW_HEIGHT, Timeline } from "./Timeline";
import { buildTimeline } from "./timeline";

afterEach(cleanup);

function bigTimeline(n: number) {
  resetSeq();
  const events = [event("run_started")];
  for (let i = 0; i < n; i++) {
    const r = record(`s${i}`, { started_at: at(i * 2), finished_at: at(i * 2 + 1), attempts: i % 100 === 0 ? 3 : 1, attempt_errors: i % 100 === 0 ? [{ attempt: 1, error: "503" }, { attempt: 2, error: "503" }] : [] });
    events.push(event("step_started", r), event("step_finished", r));
  }
  return buildTimeline(applyEvents(emptyView("r"), events), Date.parse(at(n * 2)));
}

describe("Timeline (virtualized)", () => {
  it("renders a 10,000-step run with only the rows in view in the DOM", () => {
    const timeline = bigTimeline(10_000);
    const began = performance.now();
    const { container } = render(<Timeline timeline={timeline} onSelect={() => undefined} />);
    const took = performance.now() - began;
    console.log(`Timeline: first render of 10,000 steps in jsdom: ${took.toFixed(1)} ms`);
    const rows = container.querySelectorAll(".tl-row");
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThan(100);
    expect((container.querySelector(".tl-spacer") as HTMLElement).style.height).toBe(`${10_000 * ROW_HEIGHT}px`);
    expect(container.querySelector(".tl-axis")?.textContent).toContain("10000 steps");
    // Retries are drawn on the bar.
    expect(container.querySelector('.tl-row[data-key="s0"] .tl-retry')).not.toBeNull();
  });

  it("shows the rows at the scroll position and reports clicks", () => {
    const timeline = bigTimeline(10_000);
    const picked: string[] = [];
    const { container } = render(<Timeline timeline={timeline} onSelect={(k) => picked.push(k)} />);
    const body = container.querySelector(".tl-body") as HTMLElement;
    body.scrollTop = 5000 * ROW_HEIGHT;
    fireEvent.scroll(body);
    const row = container.querySelector('.tl-row[data-key="s5003"]') as HTMLElement;
    expect(row).not.toBeNull();
    expect(container.querySelector('.tl-row[data-key="s0"]')).toBeNull();
    fireEvent.click(row);
    expect(picked).toEqual(["s5003"]);
  });
});
