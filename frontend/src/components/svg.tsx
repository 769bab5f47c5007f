// Small inline-SVG charts: horizontal bars (parameter importances) and step lines
// (best-so-far objective per fold across trials).

import type { HistoryPoint } from "../lib/api";
import { fmtNum } from "../lib/format";

export function HBars({ values, width = 360 }: { values: Record<string, number>; width?: number }) {
  const entries = Object.entries(values).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return <p className="muted">No importances.</p>;
  const max = Math.max(...entries.map(([, v]) => v), 1e-12);
  const row = 22, label = 110, bar = width - label - 50;
  return (
    <svg width={width} height={entries.length * row + 4} role="img" aria-label="parameter importances" data-testid="importances">
      {entries.map(([k, v], i) => (
        <g key={k} transform={`translate(0, ${i * row + 2})`}>
          <text x={label - 6} y={14} textAnchor="end" fontSize={12}>{k}</text>
          <rect x={label} y={3} width={Math.max(1, (v / max) * bar)} height={14} fill="#7e57c2" rx={2} />
          <text x={label + (v / max) * bar + 4} y={14} fontSize={11} fill="#546e7a">{fmtNum(v)}</text>
        </g>
      ))}
    </svg>
  );
}

const FOLD_COLORS = ["#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41"];

export function HistoryLines({ folds, width = 420, height = 180 }: {
  folds: { fold: number; history?: HistoryPoint[] }[];
  width?: number;
  height?: number;
}) {
  const series = folds
    .map((f) => ({
      fold: f.fold,
      pts: (f.history ?? []).filter((p) => p.best_so_far != null && Number.isFinite(p.best_so_far)),
    }))
    .filter((s) => s.pts.length);
  if (!series.length) return <p className="muted">No optimization history.</p>;
  const all = series.flatMap((s) => s.pts.map((p) => p.best_so_far as number));
  const maxN = Math.max(...series.flatMap((s) => s.pts.map((p) => p.number)), 1);
  let lo = Math.min(...all), hi = Math.max(...all);
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const pad = { l: 40, r: 10, t: 10, b: 22 };
  const x = (n: number) => pad.l + (n / maxN) * (width - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - (v - lo) / (hi - lo)) * (height - pad.t - pad.b);
  return (
    <svg width={width} height={height} role="img" aria-label="optimization history" data-testid="history">
      <line x1={pad.l} x2={pad.l} y1={pad.t} y2={height - pad.b} stroke="#b0bec5" />
      <line x1={pad.l} x2={width - pad.r} y1={height - pad.b} y2={height - pad.b} stroke="#b0bec5" />
      <text x={pad.l - 4} y={pad.t + 8} fontSize={10} textAnchor="end">{fmtNum(hi)}</text>
      <text x={pad.l - 4} y={height - pad.b} fontSize={10} textAnchor="end">{fmtNum(lo)}</text>
      <text x={width - pad.r} y={height - 6} fontSize={10} textAnchor="end">trial {maxN}</text>
      {series.map((s) => {
        const c = FOLD_COLORS[s.fold % FOLD_COLORS.length];
        // a step line: best-so-far holds until the next improvement
        let d = "";
        s.pts.forEach((p, i) => {
          const px = x(p.number), py = y(p.best_so_far as number);
          d += i === 0 ? `M${px},${py}` : `H${px}V${py}`;
        });
        return (
          <g key={s.fold}>
            <path d={d} fill="none" stroke={c} strokeWidth={2} />
            <text x={x(s.pts[s.pts.length - 1].number) - 2} y={y(s.pts[s.pts.length - 1].best_so_far as number) - 4} fontSize={10} fill={c} textAnchor="end">
              fold {s.fold}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
