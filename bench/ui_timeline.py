"""Bench: the run timeline with 10,000 steps, in Debian's Chromium against a real `testflow serve`.

    python bench/ui_timeline.py [--steps 10000] [--floor-steps 100] [--repeat 5] [--rounds 3]

`web/src/run/Timeline.test.tsx` prints the first render of a 10,000-step timeline in jsdom;
this measures it where users see it. The built UI (`cd web && npm run build`) is served by
`python -m testflow serve` (its own process, a temporary home, auth off); Chromium is driven by
Python Playwright as in tests/browser (never a downloaded browser).

The runs: a flow with one `for_each` transform step (one node on the graph, so the graph does
not dominate) of N iterations, started through the server's API (`POST /runs`) and run by its
worker like any run; the bench waits until the index has stored the finished result (every
record, the pages a long run keeps in the artifact store read back), so the screen loads it
with one `GET /runs/{id}` as it does any finished run. Starting the 10,000-step run and waiting
for it takes a few minutes on this machine (progress on stderr); nothing of it is measured.

Per run, in the page (`performance.now()`):

* open: from a client-side navigation to the run (app already loaded) until the run's status
  and its graph node are on screen: the API answer (N records as JSON), folding it into the
  view and building the timeline rows, first paint of the graph;
* timeline first render: from the click on the Timeline tab until its rows are in the DOM
  (a MutationObserver), and until the next frame after that (painted); the first click, then
  the median of `--repeat` more (Graph and back);
* scroll: the timeline scrolled to its middle, until that row is in the DOM and painted.

Each figure is the median over `--rounds` page loads, each in a fresh browser context (so the
first render is the Timeline's first mount in that page). The floor is the same screen with
`--floor-steps` records, measured in the same run, alternating with N; the ratios
N / floor show what the N records cost beyond the screen itself (a virtualized list should stay
near 1x for the render). Numbers only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from tests.browser.conftest import CHROMIUM, STATIC_INDEX, free_port, stop, wait_http  # noqa: E402

FLOW = """\
name: {name}
steps:
  - id: each
    type: transform
    for_each: "{{{{ range({n}) | list }}}}"
    as: i
    set: {{last: "{{{{ i }}}}"}}
"""
RUN_LIMIT_S = 1800.0


def start_runs(api: str, sizes: list[int]) -> list[str]:
    """Start a run of each size through the API; returns their ids."""
    ids = []
    with httpx.Client(base_url=api, timeout=60) as client:
        for n in sizes:
            answer = client.post(
                "/runs", json={"text": FLOW.format(name=f"timeline bench {n}", n=n)}
            )
            if answer.status_code != 202:
                raise SystemExit(f"POST /runs answered {answer.status_code}: {answer.text}")
            ids.append(str(answer.json()["run_id"]))
    return ids


def wait_finished(api: str, run_id: str, n: int) -> None:
    """Until the index holds the run's finished result with its N records."""
    deadline = time.monotonic() + RUN_LIMIT_S
    with httpx.Client(base_url=api, timeout=120) as client:
        while time.monotonic() < deadline:
            # The index row only: the live state of a running run is read from Temporal.
            if client.get(f"/runs/{run_id}/source").json()["status"] != "running":
                break
            time.sleep(1.0)
        else:
            raise SystemExit(f"run {run_id} ({n} steps) did not finish in {RUN_LIMIT_S:.0f} s")
        run = client.get(f"/runs/{run_id}").json()
    if run["status"] != "passed" or len(run["steps"]) != n:
        raise SystemExit(f"run {run_id}: {run['status']} with {len(run['steps'])} of {n} steps")


# In the page: the Timeline tab clicked, until its rows are in the DOM and the next frame.
TAB_RENDER = """async () => {
  const tab = (name) => [...document.querySelectorAll('[role=tab]')].find(t => t.textContent.trim() === name);
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  tab('Graph').click();
  while (document.querySelector('.tl-row')) await frame();
  await frame();
  let inDom;
  const seen = new MutationObserver(() => {
    if (inDom === undefined && document.querySelector('.tl-row')) inDom = performance.now();
  });
  seen.observe(document.body, {childList: true, subtree: true});
  const t0 = performance.now();
  tab('Timeline').click();
  while (!document.querySelector('.tl-row')) await new Promise(r => setTimeout(r, 0));
  seen.disconnect();
  if (inDom === undefined) inDom = performance.now();
  await frame();
  return {dom: inDom - t0, painted: performance.now() - t0,
          rows: document.querySelectorAll('.tl-row').length,
          axis: document.querySelector('.tl-axis')?.textContent ?? ''};
}"""

SCROLL = """async (key) => {
  const body = document.querySelector('.tl-body');
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  const t0 = performance.now();
  body.scrollTop = body.scrollHeight / 2;
  const sel = `.tl-row[data-key="${key}"]`;
  while (!document.querySelector(sel)) {
    if (performance.now() - t0 > 10000) return {dom: -1, painted: -1};
    await new Promise(r => setTimeout(r, 0));
  }
  const dom = performance.now() - t0;
  await frame();
  return {dom, painted: performance.now() - t0};
}"""


def measure(page: Any, run_id: str, n: int, repeat: int) -> dict[str, float]:
    page.goto("/runs")
    page.get_by_role("heading", name="Runs").wait_for()
    began = page.evaluate("() => performance.now()")
    page.evaluate(
        "id => { history.pushState({}, '', '/runs/' + id); dispatchEvent(new PopStateEvent('popstate')); }",
        run_id,
    )
    page.locator(".run-header .status-badge[data-status=passed]").first.wait_for()
    page.locator('.react-flow__node[data-id="step:each"]').wait_for()
    opened = page.evaluate("() => performance.now()") - began
    first = page.evaluate(TAB_RENDER)
    if f"{n} steps" not in first["axis"]:
        raise SystemExit(f"the timeline does not show {n} steps: {first['axis']!r}")
    again = [page.evaluate(TAB_RENDER) for _ in range(repeat)]
    middle = f"each[{n // 2}]"
    scrolled = page.evaluate(SCROLL, middle)
    return {
        "open": opened,
        "first_dom": first["dom"],
        "first_painted": first["painted"],
        "rows": first["rows"],
        "warm_dom": statistics.median(a["dom"] for a in again),
        "warm_painted": statistics.median(a["painted"] for a in again),
        "scroll_painted": scrolled["painted"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--floor-steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="medians over this many page loads")
    args = parser.parse_args()
    if CHROMIUM is None:
        raise SystemExit("Debian's chromium is not installed (apt-get install chromium)")
    if not STATIC_INDEX.exists():
        raise SystemExit("the web UI is not built (cd web && npm ci && npm run build)")
    from playwright.sync_api import sync_playwright

    floors: list[dict[str, float]] = []
    bigs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-ui-timeline-") as tmp:
        home = Path(tmp)
        env = {**os.environ, "TESTFLOW_HOME": str(home), "TESTFLOW_AUTH": "off", "NO_COLOR": "1"}
        env.pop("TESTFLOW_DATABASE_URL", None)
        port, log = free_port(), home / "serve.log"
        with log.open("wb") as out:
            serve = subprocess.Popen(
                [sys.executable, "-m", "testflow", "serve", "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=home,
            )
            try:
                wait_http(f"http://127.0.0.1:{port}/readyz", serve, log)
                api = f"http://127.0.0.1:{port}/api/v1"
                began = time.monotonic()
                floor_id, big_id = start_runs(api, [args.floor_steps, args.steps])
                for run_id, n in ((floor_id, args.floor_steps), (big_id, args.steps)):
                    wait_finished(api, run_id, n)
                    print(
                        f"run {run_id}: {n} steps done after {time.monotonic() - began:.0f} s",
                        file=sys.stderr,
                    )
                with sync_playwright() as p:
                    browser = p.chromium.launch(
                        executable_path=CHROMIUM,
                        headless=True,
                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
                    )
                    try:
                        for _ in range(args.rounds):
                            for name, n, into in (
                                (floor_id, args.floor_steps, floors),
                                (big_id, args.steps, bigs),
                            ):
                                # A fresh context per measurement: the first render is the
                                # Timeline's first mount in that page, for the floor as for N.
                                context = browser.new_context(
                                    viewport={"width": 1500, "height": 900},
                                    base_url=f"http://127.0.0.1:{port}",
                                )
                                page = context.new_page()
                                page.set_default_timeout(120_000)
                                into.append(measure(page, name, n, args.repeat))
                                context.close()
                    finally:
                        browser.close()
            finally:
                stop(serve)

    floor = {k: statistics.median(m[k] for m in floors) for k in floors[0]}
    big = {k: statistics.median(m[k] for m in bigs) for k in bigs[0]}

    def line(what: str, key: str) -> str:
        ratio = big[key] / floor[key] if floor[key] > 0 else float("nan")
        return f"  {what:<38} {big[key]:8.1f} ms   floor {floor[key]:7.1f} ms   ratio {ratio:5.1f}x"

    print(
        f"timeline in Chromium ({CHROMIUM}): {args.steps} steps vs a floor of "
        f"{args.floor_steps}, medians of {args.rounds} page loads"
    )
    print(
        f"  rows in the DOM (virtualized)          {big['rows']:8.0f}      floor {floor['rows']:7.0f}"
    )
    print(line("open the run (API + fold + graph)", "open"))
    print(line("timeline first render: in the DOM", "first_dom"))
    print(line("timeline first render: painted", "first_painted"))
    print(line(f"timeline again (median of {args.repeat}): DOM", "warm_dom"))
    print(line(f"timeline again (median of {args.repeat}): painted", "warm_painted"))
    print(line("scroll to the middle: painted", "scroll_painted"))


if __name__ == "__main__":
    main()
