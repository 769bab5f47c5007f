// Pure data shaping for a study's validation: the bootstrap fan, the cpcv paths and their
// Sharpe distribution, the parameter heatmap, the engine cross-check and the verdict filter.

import type { CpcvGroup, CrossCheck, Equity, Fan, Heatmap, HeatmapAxis, Num, PathEquity } from "./api";
import { COLORS, msToTime, type HistogramPoint, type LinePoint, type Time, type Whitespace } from "./series";

const finite = (v: Num | undefined): v is number => v != null && Number.isFinite(v);

export interface FanBands {
  /** Quantile levels, ascending (0.05, 0.25, 0.5, ...). */
  levels: number[];
  /** One series per level, on the fan's times (growth of 1). */
  series: Record<string, (LinePoint | Whitespace)[]>;
  /** The median level's key, if the fan has one. */
  median: string | null;
  /** Outer and inner band: [low key, high key] pairs, widest first. */
  bands: [string, string][];
}

/** The bootstrap fan as one line per quantile, and the bands between symmetric quantiles
 * (5-95 %, 25-75 %), widest first: what a chart stacks to draw the bands. */
export function fanBands(fan: Fan): FanBands {
  const keys = Object.keys(fan.quantiles).sort((a, b) => Number(a) - Number(b));
  const times = fan.timestamp.map(msToTime);
  const series: FanBands["series"] = {};
  for (const k of keys) {
    series[k] = times.map((time, i) => {
      const v = fan.quantiles[k][i];
      return finite(v) ? { time, value: v } : { time };
    });
  }
  const bands: [string, string][] = [];
  for (let i = 0, j = keys.length - 1; i < j; i++, j--) bands.push([keys[i], keys[j]]);
  const median = keys.find((k) => Number(k) === 0.5) ?? null;
  return { levels: keys.map(Number), series, median, bands };
}

/** The OOS equity as growth of 1 (what the fan shows): each value over the curve's starting
 * capital, which is the first bar's equity before its return. */
export function equityGrowth(eq: Pick<Equity, "timestamp" | "equity" | "returns">): LinePoint[] {
  const first = eq.equity.findIndex(finite);
  if (first < 0) return [];
  const r = eq.returns[first];
  const start = (eq.equity[first] as number) / (1 + (finite(r) ? r : 0));
  const out: LinePoint[] = [];
  for (let i = 0; i < eq.timestamp.length; i++) {
    const v = eq.equity[i];
    if (finite(v) && start > 0) out.push({ time: msToTime(eq.timestamp[i]), value: v / start });
  }
  return out;
}

/** Every cpcv path's equity as a line (bars without a value skipped). */
export function pathLines(eq: PathEquity): LinePoint[][] {
  const times = eq.timestamp.map(msToTime);
  return eq.equity.map((values) => {
    const out: LinePoint[] = [];
    values.forEach((v, i) => {
      if (finite(v)) out.push({ time: times[i], value: v });
    });
    return out;
  });
}

export interface Bin {
  lo: number;
  hi: number;
  count: number;
}

/** Equal-width histogram of the finite values over [lo, hi] (the last bin closed). */
export function histogram(values: Num[], nBins: number, lo?: number, hi?: number): Bin[] {
  const xs = values.filter(finite);
  if (!xs.length || nBins < 1) return [];
  let a = lo ?? Math.min(...xs);
  let b = hi ?? Math.max(...xs);
  if (b - a < 1e-12) {
    a -= 0.5;
    b += 0.5;
  }
  const width = (b - a) / nBins;
  const bins: Bin[] = Array.from({ length: nBins }, (_, i) => ({ lo: a + i * width, hi: a + (i + 1) * width, count: 0 }));
  for (const x of xs) {
    if (x < a || x > b) continue;
    bins[Math.min(Math.floor((x - a) / width), nBins - 1)].count++;
  }
  return bins;
}

/** A scale's domain covering the values and 0, padded by a tenth of its span. */
export function domainWithZero(values: Num[]): [number, number] {
  const xs = values.filter(finite);
  let lo = Math.min(0, ...xs);
  let hi = Math.max(0, ...xs);
  if (hi - lo < 1e-12) {
    lo -= 1;
    hi += 1;
  }
  const pad = (hi - lo) * 0.1;
  return [lo - pad, hi + pad];
}

/** The bin of a parameter value on a heatmap axis, binned as the engine bins it (categories
 * by position; numbers by the last edge at or below them, clamped to the grid). */
export function axisCell(axis: HeatmapAxis, value: unknown): number {
  if (axis.kind === "categorical") return (axis.categories ?? []).findIndex((c) => c === value);
  const edges = axis.edges ?? [];
  if (edges.length < 2 || typeof value !== "number") return -1;
  let i = 0;
  while (i < edges.length - 1 && edges[i + 1] <= value) i++;
  return Math.min(i, edges.length - 2);
}

/** Labels of an axis's bins: category names, or bin centres to 3 significant digits. */
export function axisLabels(axis: HeatmapAxis): string[] {
  if (axis.kind === "categorical") return (axis.categories ?? []).map(String);
  return (axis.centers ?? []).map((c) => (Math.abs(c) >= 1000 || Number.isInteger(c) ? String(Math.round(c)) : c.toPrecision(3)));
}

/** A colour for a value on [lo, hi]: red below 0 and green above when the domain spans 0
 * (white at 0), else light to dark blue. */
export function heatColor(value: number, lo: number, hi: number): string {
  const mix = (t: number, from: [number, number, number], to: [number, number, number]) => {
    const c = from.map((f, i) => Math.round(f + (to[i] - f) * Math.max(0, Math.min(1, t))));
    return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
  };
  const white: [number, number, number] = [255, 255, 255];
  if (lo < 0 && hi > 0) {
    return value < 0 ? mix(value / lo, white, [198, 40, 40]) : mix(value / hi, white, [46, 125, 50]);
  }
  if (hi - lo < 1e-12) return mix(0.5, [227, 242, 253], [21, 101, 192]);
  return mix((value - lo) / (hi - lo), [227, 242, 253], [21, 101, 192]);
}

export interface HeatCell {
  row: number;
  col: number;
  value: number | null;
  count: number;
  color: string | null;
}

export interface HeatGrid {
  xLabels: string[];
  yLabels: string[];
  cells: HeatCell[];
  domain: [number, number] | null;
  /** Cells where searches chose their parameters, with those searches' numbers. */
  chosen: { row: number; col: number; folds: number[] }[];
}

/** The heatmap as cells with colours, and the chosen points on their cells. */
export function heatGrid(h: Heatmap): HeatGrid {
  const all = h.values.flat().filter(finite);
  const domain: [number, number] | null = all.length ? [Math.min(...all), Math.max(...all)] : null;
  const cells: HeatCell[] = [];
  h.values.forEach((row, i) =>
    row.forEach((v, j) => {
      const value = finite(v) ? v : null;
      cells.push({
        row: i,
        col: j,
        value,
        count: h.counts[i]?.[j] ?? 0,
        color: value == null || !domain ? null : heatColor(value, domain[0], domain[1]),
      });
    }),
  );
  const byCell = new Map<string, { row: number; col: number; folds: number[] }>();
  for (const c of h.chosen) {
    const row = axisCell(h.y, c.y);
    const col = axisCell(h.x, c.x);
    if (row < 0 || col < 0) continue;
    const key = `${row}:${col}`;
    const entry = byCell.get(key) ?? { row, col, folds: [] };
    entry.folds.push(c.fold);
    byCell.set(key, entry);
  }
  return { xLabels: axisLabels(h.x), yLabels: axisLabels(h.y), cells, domain, chosen: [...byCell.values()] };
}

export interface CrossCheckRow {
  fold: number;
  sharpe: [Num, Num];
  totalReturn: [Num, Num];
  trades: [Num, Num];
  deviation: { sharpe: Num; total_return: Num; trade_count: Num };
  /** Whether each deviation stays within the tolerance (null: not measured). */
  within: { sharpe: boolean | null; total_return: boolean | null; trade_count: boolean | null };
}

/** The cross-check's folds with each deviation judged against the tolerance. */
export function crossCheckRows(check: CrossCheck): CrossCheckRow[] {
  const tol = finite(check.tolerance) ? check.tolerance : null;
  const judge = (d: Num) => (tol == null || !finite(d) ? null : Math.abs(d) <= tol + 1e-12);
  return check.folds.map((f) => ({
    fold: f.fold,
    sharpe: [f.sharpe_v2, f.sharpe_v1],
    totalReturn: [f.return_v2, f.return_v1],
    trades: [f.trades_v2, f.trades_v1],
    deviation: f.deviation,
    within: {
      sharpe: judge(f.deviation.sharpe),
      total_return: judge(f.deviation.total_return),
      trade_count: judge(f.deviation.trade_count),
    },
  }));
}

/** One word for the cross-check's outcome. */
export function crossCheckStatus(check: CrossCheck): "passed" | "failed" | "unsupported" | "not judged" {
  if (check.unsupported) return "unsupported";
  if (check.passed == null) return "not judged";
  return check.passed ? "passed" : "failed";
}

/** A band under the candles marking the cpcv groups (alternating colours), one value per
 * candle time, whitespace outside every group. */
export function groupBand(times: ArrayLike<Time>, groups: CpcvGroup[]): (HistogramPoint | Whitespace)[] {
  const windows = groups
    .filter((g) => g.start != null && g.end != null)
    .map((g) => ({ group: g.group, start: msToTime(g.start as number), end: msToTime(g.end as number) }))
    .sort((a, b) => a.start - b.start);
  const out: (HistogramPoint | Whitespace)[] = new Array(times.length);
  let w = 0;
  for (let i = 0; i < times.length; i++) {
    const t = times[i];
    while (w < windows.length && t > windows[w].end) w++;
    out[i] =
      w < windows.length && t >= windows[w].start
        ? { time: t, value: 1, color: COLORS.oos[windows[w].group % 2] }
        : { time: t };
  }
  return out;
}

/** The verdicts a leaderboard URL selects (`verdict=robust,fragile`), kept to known ones. */
export function parseVerdicts(param: string | undefined, known: string[]): string[] {
  if (!param) return [];
  const wanted = new Set(param.split(",").map((v) => v.trim()));
  return known.filter((v) => wanted.has(v));
}

/** The selection after clicking a verdict: toggled in or out, in the known order. */
export function toggleVerdict(selected: string[], verdict: string, known: string[]): string[] {
  const next = new Set(selected);
  if (next.has(verdict)) next.delete(verdict);
  else next.add(verdict);
  return known.filter((v) => next.has(v));
}

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of 10). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo) || count < 1) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toFixed(12)) + 0); // + 0: no "-0" label
  return out;
}
