// Pure data shaping for the charts: API columns -> lightweight-charts series and markers.
// Chart times are UTC seconds (UTCTimestamp); the API gives epoch ms or ISO 8601 UTC.

import type { Bars, Equity, Fold, Num, Trade } from "./api";

export type Time = number; // UTC seconds, lightweight-charts' UTCTimestamp

export interface Candle {
  time: Time;
  open: number;
  high: number;
  low: number;
  close: number;
}

export interface LinePoint {
  time: Time;
  value: number;
}

export interface Whitespace {
  time: Time;
}

export interface HistogramPoint {
  time: Time;
  value: number;
  color: string;
}

export interface Marker {
  time: Time;
  position: "aboveBar" | "belowBar" | "inBar";
  shape: "arrowUp" | "arrowDown" | "circle" | "square";
  color: string;
  text?: string;
}

export const COLORS = {
  up: "#26a69a",
  down: "#ef5350",
  long: "#2e7d32",
  short: "#c62828",
  exit: "#546e7a",
  fold: "#7e57c2",
  equity: "#1e88e5",
  drawdown: "rgba(239, 83, 80, 0.45)",
  inSample: "rgba(120, 144, 156, 0.35)",
  oos: ["rgba(126, 87, 194, 0.55)", "rgba(255, 167, 38, 0.55)"],
} as const;

export const msToTime = (ms: number): Time => Math.floor(ms / 1000);
export const isoToTime = (iso: string): Time => Math.floor(Date.parse(iso) / 1000);

/** Columnar bars -> candles, oldest first (bars with a missing price are skipped). */
export function barsToCandles(bars: Pick<Bars, "timestamp" | "open" | "high" | "low" | "close">): Candle[] {
  const n = bars.timestamp.length;
  const out: Candle[] = new Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const o = bars.open[i], h = bars.high[i], l = bars.low[i], c = bars.close[i];
    if (o == null || h == null || l == null || c == null) continue;
    out[k++] = { time: Math.floor(bars.timestamp[i] / 1000), open: o, high: h, low: l, close: c };
  }
  out.length = k;
  return out;
}

/** Index of the last time <= t in sorted `times` (-1 when t precedes them all). */
export function floorIndex(times: ArrayLike<Time>, t: Time): number {
  let lo = 0, hi = times.length - 1, ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] <= t) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/** The bar time holding instant t (the last bar opened at or before t); t itself without bars
 * or before the first bar, so markers always land on a candle. */
export function snapTime(times: ArrayLike<Time>, t: Time): Time {
  const i = floorIndex(times, t);
  return i < 0 ? (times.length ? times[0] : t) : times[i];
}

const byTime = (a: Marker, b: Marker) => a.time - b.time;

/** Trades -> entry and exit markers (long entries: green up arrows below the bar; short
 * entries: red down arrows above; exits: grey circles on the opposite side), sorted by time. */
export function tradesToMarkers(trades: Trade[], barTimes?: ArrayLike<Time>): Marker[] {
  const snap = (t: Time) => (barTimes && barTimes.length ? snapTime(barTimes, t) : t);
  const out: Marker[] = [];
  for (const tr of trades) {
    const long = tr.side === "long";
    out.push({
      time: snap(isoToTime(tr.entry_time)),
      position: long ? "belowBar" : "aboveBar",
      shape: long ? "arrowUp" : "arrowDown",
      color: long ? COLORS.long : COLORS.short,
      text: long ? "L" : "S",
    });
    if (tr.exit_time) {
      const ret = tr.return;
      out.push({
        time: snap(isoToTime(tr.exit_time)),
        position: long ? "aboveBar" : "belowBar",
        shape: "circle",
        color: ret != null && ret < 0 ? COLORS.down : COLORS.exit,
        text: ret != null ? `${(ret * 100).toFixed(1)}%` : "x",
      });
    }
  }
  return out.sort(byTime);
}

/** One marker per fold at the start of its out-of-sample window. */
export function foldsToMarkers(folds: Fold[], barTimes?: ArrayLike<Time>): Marker[] {
  const snap = (t: Time) => (barTimes && barTimes.length ? snapTime(barTimes, t) : t);
  return folds
    .map((f) => ({
      time: snap(isoToTime(f.oos_start)),
      position: "aboveBar" as const,
      shape: "square" as const,
      color: COLORS.fold,
      text: `F${f.fold}`,
    }))
    .sort(byTime);
}

/** Merge already-sorted marker lists into one sorted list (what the series wants). */
export function mergeMarkers(...lists: Marker[][]): Marker[] {
  return lists.flat().sort(byTime);
}

/** A band under the candles: grey for in-sample-only history, alternating colours for each
 * fold's OOS window, nothing outside the study. One value per candle time. */
export function foldBand(times: ArrayLike<Time>, folds: Fold[]): (HistogramPoint | Whitespace)[] {
  const windows = folds
    .map((f) => ({ fold: f.fold, start: isoToTime(f.oos_start), end: isoToTime(f.oos_end) }))
    .sort((a, b) => a.start - b.start);
  const isStart = folds.length ? Math.min(...folds.map((f) => isoToTime(f.is_start))) : Infinity;
  const out: (HistogramPoint | Whitespace)[] = new Array(times.length);
  let w = 0;
  for (let i = 0; i < times.length; i++) {
    const t = times[i];
    while (w < windows.length && t > windows[w].end) w++;
    if (w < windows.length && t >= windows[w].start) {
      out[i] = { time: t, value: 1, color: COLORS.oos[windows[w].fold % 2] };
    } else if (t >= isStart && (w < windows.length || windows.length === 0)) {
      out[i] = { time: t, value: 1, color: COLORS.inSample };
    } else {
      out[i] = { time: t };
    }
  }
  return out;
}

export interface EquitySeries {
  equity: (LinePoint | Whitespace)[];
  drawdown: (LinePoint | Whitespace)[];
  /** how many points carry a value */
  points: number;
}

/** Equity columns -> an equity line and a drawdown area (in %, <= 0).
 *
 * With `times` (the candle times) both series are laid out on exactly those times, whitespace
 * where the curve has no value, so the two charts share logical indexes and sync bar for bar. */
export function equityToSeries(eq: Pick<Equity, "timestamp" | "equity" | "drawdown">, times?: ArrayLike<Time>): EquitySeries {
  const value = (v: Num | undefined) => (v == null || !Number.isFinite(v) ? null : v);
  if (!times) {
    const equity: (LinePoint | Whitespace)[] = [];
    const drawdown: (LinePoint | Whitespace)[] = [];
    let points = 0;
    for (let i = 0; i < eq.timestamp.length; i++) {
      const time = msToTime(eq.timestamp[i]);
      const e = value(eq.equity[i]);
      const d = value(eq.drawdown[i]);
      equity.push(e == null ? { time } : { time, value: e });
      drawdown.push(d == null ? { time } : { time, value: d * 100 });
      if (e != null) points++;
    }
    return { equity, drawdown, points };
  }
  const byTime = new Map<number, number>();
  for (let i = 0; i < eq.timestamp.length; i++) byTime.set(msToTime(eq.timestamp[i]), i);
  const equity: (LinePoint | Whitespace)[] = new Array(times.length);
  const drawdown: (LinePoint | Whitespace)[] = new Array(times.length);
  let points = 0;
  for (let k = 0; k < times.length; k++) {
    const time = times[k];
    const i = byTime.get(time);
    const e = i === undefined ? null : value(eq.equity[i]);
    const d = i === undefined ? null : value(eq.drawdown[i]);
    equity[k] = e == null ? { time } : { time, value: e };
    drawdown[k] = d == null ? { time } : { time, value: d * 100 };
    if (e != null) points++;
  }
  return { equity, drawdown, points };
}

/** Bars request window for a study: from the first fold's in-sample start to just past the
 * last OOS bar (the API's `end` is exclusive). */
export function studySpan(folds: Fold[]): { start: string; end: string } | null {
  if (!folds.length) return null;
  const start = Math.min(...folds.map((f) => Date.parse(f.is_start)));
  const end = Math.max(...folds.map((f) => Date.parse(f.oos_end)));
  return { start: new Date(start).toISOString(), end: new Date(end + 1000).toISOString() };
}
