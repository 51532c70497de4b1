// Two small SVG charts (no chart library: a stacked bar chart and a line chart are a few
// dozen lines, and they use the theme's colour tokens like everything else).
import { type DayCounts, dayTotal, niceMax, OUTCOMES } from "./series";

const W = 640;
const H = 180;
const PAD = { l: 44, r: 10, t: 10, b: 24 };

function Axis({ max, format }: { max: number; format: (v: number) => string }) {
  return (
    <g className="chart-axis">
      {[0, 0.5, 1].map((f) => {
        const y = PAD.t + (1 - f) * (H - PAD.t - PAD.b);
        return (
          <g key={f}>
            <line x1={PAD.l} x2={W - PAD.r} y1={y} y2={y} className="chart-grid" />
            <text x={PAD.l - 4} y={y + 4} textAnchor="end">
              {format(f * max)}
            </text>
          </g>
        );
      })}
    </g>
  );
}

function DayLabels({ days, x }: { days: string[]; x: (i: number) => number }) {
  const every = Math.max(1, Math.ceil(days.length / 8));
  return (
    <g className="chart-axis">
      {days.map((d, i) =>
        i % every === 0 ? (
          <text key={d} x={x(i)} y={H - 6} textAnchor="middle">
            {d.slice(5)}
          </text>
        ) : null,
      )}
    </g>
  );
}

export function StackedBars({ days, label }: { days: DayCounts[]; label: string }) {
  const max = niceMax(Math.max(0, ...days.map(dayTotal)));
  const inner = W - PAD.l - PAD.r;
  const step = inner / Math.max(1, days.length);
  const bw = Math.max(2, Math.min(28, step * 0.7));
  const y = (v: number) => (v / max) * (H - PAD.t - PAD.b);
  const x = (i: number) => PAD.l + step * i + step / 2;
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="chart" role="img" aria-label={label}>
      <Axis max={max} format={(v) => String(Math.round(v))} />
      {days.map((d, i) => {
        let base = H - PAD.b;
        return (
          <g key={d.day}>
            <title>{`${d.day}: ${OUTCOMES.map((s) => `${Number(d[s]) || 0} ${s}`).join(", ")}`}</title>
            {OUTCOMES.map((s) => {
              const h = y(Number(d[s]) || 0);
              base -= h;
              return h > 0 ? <rect key={s} x={x(i) - bw / 2} y={base} width={bw} height={h} className={`fill-${s}`} /> : null;
            })}
          </g>
        );
      })}
      <DayLabels days={days.map((d) => d.day)} x={x} />
    </svg>
  );
}

export interface LineSeries {
  name: string;
  className: string;
  values: (number | null)[];
}

export function Lines({ days, series, max, format, label }: { days: string[]; series: LineSeries[]; max?: number; format: (v: number) => string; label: string }) {
  const top = max ?? niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null))));
  const inner = W - PAD.l - PAD.r;
  const step = inner / Math.max(1, days.length);
  const x = (i: number) => PAD.l + step * i + step / 2;
  const y = (v: number) => PAD.t + (1 - v / top) * (H - PAD.t - PAD.b);
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="chart" role="img" aria-label={label}>
      <Axis max={top} format={format} />
      {series.map((s) => {
        // Gaps (null) break the line instead of dropping to zero.
        const segments: string[] = [];
        let cur = "";
        s.values.forEach((v, i) => {
          if (v === null) {
            if (cur) segments.push(cur);
            cur = "";
          } else cur += `${cur ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
        });
        if (cur) segments.push(cur);
        return (
          <g key={s.name} className={s.className}>
            {segments.map((d, i) => (
              <path key={i} d={d} className="chart-line" />
            ))}
            {s.values.map((v, i) =>
              v === null ? null : (
                <circle key={i} cx={x(i)} cy={y(v)} r={3} className="chart-dot">
                  <title>{`${days[i]}: ${s.name} ${format(v)}`}</title>
                </circle>
              ),
            )}
          </g>
        );
      })}
      <DayLabels days={days} x={x} />
    </svg>
  );
}
