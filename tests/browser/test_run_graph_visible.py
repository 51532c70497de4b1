"""The run screen's graph never leaves nodes hidden while live statuses arrive.

React Flow hides a node it has not measured. The canvas once handed it fresh node objects
without their measured size on every status change; on a busy machine a run could end with
every node still hidden (the flaky "locator resolved to hidden" of test_ui.py in full runs).
With a 4x slower CPU and ResizeObserver callbacks one task late, this test failed in 3 of 4
runs against that canvas and passed 5 of 5 against the fixed one.
"""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Server, shot

STEPS = ("before", "pause", "middle", "wait", "after")
FLOW = (
    "name: Visible flow\nsteps:\n  - id: before\n    type: log\n    message: start\n"
    "  - id: pause\n    type: delay\n    duration: 400ms\n"
    "  - id: middle\n    type: log\n    message: half way\n"
    "  - id: wait\n    type: delay\n    duration: 400ms\n"
    "  - id: after\n    type: log\n    message: done\n"
)

# Deliver ResizeObserver callbacks one task later, as a slow frame does: it widens the window
# in which a status change and a measurement land in the same render.
LATE_RESIZE_OBSERVER = """(() => {
  const Native = window.ResizeObserver;
  window.ResizeObserver = class extends Native {
    constructor(callback) {
      super((entries, observer) => setTimeout(() => callback(entries, observer), 0));
    }
  };
})()"""

HIDDEN_NODES = """() => [...document.querySelectorAll('.react-flow__node')]
    .filter((n) => getComputedStyle(n).visibility === 'hidden').map((n) => n.dataset.id)"""


def test_nodes_stay_visible_through_live_updates(browser: Any, server: Server) -> None:
    flow = server.api.post("/flows", json={"text": FLOW})
    assert flow.status_code == 201, flow.text
    flow_id = flow.json()["id"]
    # A warm worker: the statuses then race the page's first renders (a cold one is too slow).
    for _ in range(3):
        warm = server.api.post("/runs", json={"flow_id": flow_id})
        server.wait_run(warm.json()["run_id"])
    for attempt in range(8):
        context = browser.new_context(viewport={"width": 1500, "height": 900}, base_url=server.url)
        try:
            context.add_init_script(LATE_RESIZE_OBSERVER)
            page = context.new_page()
            # A slow CPU widens the window between a status change and React Flow's measuring.
            context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": 4})
            run = server.api.post("/runs", json={"flow_id": flow_id})
            assert run.status_code == 202, run.text
            page.goto(f"/runs/{run.json()['run_id']}")
            page.wait_for_selector('.run-title .status-badge[data-status="passed"]', timeout=60_000)
            for step_id in STEPS:
                # Visible, not merely present: wait_for_selector waits for visibility.
                page.wait_for_selector(
                    f'.react-flow__node[data-id="step:{step_id}"] .step-node.run-passed',
                    timeout=10_000,
                )
            hidden = page.evaluate(HIDDEN_NODES)
            if hidden:
                shot(page, f"FAILED-hidden-nodes-{attempt}")
            assert hidden == [], f"page load {attempt}: nodes left hidden: {hidden}"
        finally:
            context.close()
