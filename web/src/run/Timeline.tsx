// The waterfall: one row per step on the run's time axis. Virtualized: only the rows in view
// (plus a few) are in the DOM, so a run of 10,000 steps renders as fast as one of 30.
import { memo, useEffect, useLayoutEffect, useRef, useState } from "react";
import { barGeometry, formatMs, type Timeline as TimelineData, type TimelineRow, visibleRange } from "./timeline";

export const ROW_HEIGHT = 26;

interface Props {
  timeline: TimelineData;
  selectedKey?: string;
  onSelect: (key: string) => void;
}

const Row = memo(function Row({ row, total, top, selected, onSelect }: { row: TimelineRow; total: number; top: number; selected: boolean; onSelect: (k: string) => void }) {
  const { left, width } = barGeometry(row, total);
  const retries = row.retries > 0 ? `, ${row.retries} retr${row.retries === 1 ? "y" : "ies"}` : "";
  const title = `${row.key} (${row.kind}): ${row.status}, ${formatMs(row.duration)}${retries}${row.wait ? ", waiting" : ""}${row.summary ? `\n${row.summary}` : ""}`;
  return (
    <div
      className={selected ? "tl-row selected" : "tl-row"}
      style={{ top, height: ROW_HEIGHT }}
      role="row"
      aria-selected={selected}
      data-key={row.key}
      data-status={row.status}
      onClick={() => onSelect(row.key)}
      onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && onSelect(row.key)}
      tabIndex={0}
      title={title}
    >
      <span className="tl-label" role="cell" style={{ paddingLeft: 6 + row.depth * 14 }}>
        <span className={`dot st-${row.status}`} aria-hidden="true" />
        {row.label}
        <span className="muted"> {row.kind}</span>
      </span>
      <span className="tl-track" role="cell">
        <span className={`tl-bar st-${row.status}${row.wait ? " wait" : ""}`} style={{ left: `${left}%`, width: `${width}%` }}>
          {Array.from({ length: Math.min(row.retries, 20) }, (_, i) => (
            <span key={i} className="tl-retry" style={{ left: `${((i + 1) / (row.retries + 1)) * 100}%` }} aria-hidden="true" />
          ))}
        </span>
        <span className="tl-time" style={{ left: `min(calc(${left + width}% + 4px), calc(100% - 70px))` }}>
          {formatMs(row.duration)}
          {row.retries > 0 ? ` ↻${row.retries}` : ""}
        </span>
      </span>
    </div>
  );
});

export function Timeline({ timeline, selectedKey, onSelect }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (el.clientHeight > 0) setHeight(el.clientHeight);
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => el.clientHeight > 0 && setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Keep the selected row in view when it is chosen elsewhere (graph, context debugger).
  useEffect(() => {
    const el = box.current;
    const i = selectedKey ? timeline.rows.findIndex((r) => r.key === selectedKey) : -1;
    if (!el || i < 0) return;
    const top = i * ROW_HEIGHT;
    if (top < el.scrollTop || top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = Math.max(0, top - el.clientHeight / 2);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [selectedKey]);

  const { rows, total } = timeline;
  const { first, last } = visibleRange(scrollTop, height, ROW_HEIGHT, rows.length);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <div className="timeline" role="table" aria-label="Timeline" aria-rowcount={rows.length}>
      <div className="tl-axis" role="row">
        <span className="tl-label" role="columnheader">
          {rows.length} step{rows.length === 1 ? "" : "s"}
        </span>
        <span className="tl-track" role="columnheader">
          {ticks.map((t) => (
            <span key={t} className="tl-tick" style={{ left: `${t * 100}%` }}>
              {formatMs(t * total)}
            </span>
          ))}
        </span>
      </div>
      <div className="tl-body" ref={box} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
        <div className="tl-spacer" style={{ height: rows.length * ROW_HEIGHT }} role="rowgroup">
          {rows.slice(first, last).map((row, i) => (
            <Row key={row.key} row={row} total={total} top={(first + i) * ROW_HEIGHT} selected={row.key === selectedKey} onSelect={onSelect} />
          ))}
        </div>
        {rows.length === 0 ? <p className="muted pad">No step has started yet.</p> : null}
      </div>
    </div>
  );
}
