import { describe, expect, it } from "vitest";
import type { Fold, Trade } from "./api";
import {
  barsToCandles,
  equityToSeries,
  floorIndex,
  foldBand,
  foldsToMarkers,
  mergeMarkers,
  snapTime,
  studySpan,
  tradesToMarkers,
} from "./series";

const H = 3600;
const T0 = Date.UTC(2018, 0, 1) / 1000; // 2018-01-01T00:00Z in seconds
const iso = (s: number) => new Date(s * 1000).toISOString();

const fold = (n: number, isStart: number, oosStart: number, oosEnd: number): Fold => ({
  fold: n,
  is_start: iso(isStart),
  is_end: iso(oosStart - H),
  oos_start: iso(oosStart),
  oos_end: iso(oosEnd),
  is_bars: 0,
  oos_bars: 0,
  best_params: { fast: 10 },
  best_value: 1,
  best_trial: 0,
  wf_efficiency: null,
  is_metrics: {},
  oos_metrics: {},
  trials: {},
});

const trade = (side: "long" | "short", entry: number, exit: number | null, ret: number | null): Trade => ({
  fold: 0,
  side,
  entry_time: iso(entry),
  exit_time: exit === null ? null : iso(exit),
  entry_price: 100,
  exit_price: null,
  size: 1,
  fees: 0,
  pnl: null,
  return: ret,
  status: exit === null ? "open" : "closed",
});

describe("barsToCandles", () => {
  it("converts epoch ms columns to UTC-second candles in order", () => {
    const c = barsToCandles({
      timestamp: [T0 * 1000, (T0 + H) * 1000],
      open: [1, 2],
      high: [3, 4],
      low: [0.5, 1.5],
      close: [2, 3],
    });
    expect(c).toEqual([
      { time: T0, open: 1, high: 3, low: 0.5, close: 2 },
      { time: T0 + H, open: 2, high: 4, low: 1.5, close: 3 },
    ]);
  });

  it("skips bars with a missing price", () => {
    const c = barsToCandles({
      timestamp: [0, 3_600_000],
      open: [1, null as unknown as number],
      high: [1, 1],
      low: [1, 1],
      close: [1, 1],
    });
    expect(c).toHaveLength(1);
  });
});

describe("snapTime", () => {
  const times = [T0, T0 + H, T0 + 2 * H];
  it("finds the bar holding an instant", () => {
    expect(floorIndex(times, T0 + H + 10)).toBe(1);
    expect(snapTime(times, T0 + H + 10)).toBe(T0 + H);
    expect(snapTime(times, T0 + 2 * H)).toBe(T0 + 2 * H);
  });
  it("clamps before the first bar", () => {
    expect(floorIndex(times, T0 - 1)).toBe(-1);
    expect(snapTime(times, T0 - 1)).toBe(T0);
  });
});

describe("tradesToMarkers", () => {
  it("marks long and short entries and exits, sorted by time", () => {
    const m = tradesToMarkers([
      trade("short", T0 + 5 * H, T0 + 7 * H, -0.02),
      trade("long", T0 + H, T0 + 3 * H, 0.05),
      trade("long", T0 + 8 * H, null, null),
    ]);
    expect(m.map((x) => x.time)).toEqual([T0 + H, T0 + 3 * H, T0 + 5 * H, T0 + 7 * H, T0 + 8 * H]);
    expect(m[0]).toMatchObject({ shape: "arrowUp", position: "belowBar", text: "L" });
    expect(m[1]).toMatchObject({ shape: "circle", position: "aboveBar", text: "5.0%" });
    expect(m[2]).toMatchObject({ shape: "arrowDown", position: "aboveBar", text: "S" });
    expect(m[3]).toMatchObject({ shape: "circle", position: "belowBar", text: "-2.0%" });
    expect(m).toHaveLength(5); // the open trade has no exit marker
  });

  it("snaps marker times onto bar times", () => {
    const m = tradesToMarkers([trade("long", T0 + H + 1800, T0 + 2 * H + 60, 0)], [T0, T0 + H, T0 + 2 * H]);
    expect(m.map((x) => x.time)).toEqual([T0 + H, T0 + 2 * H]);
  });
});

describe("folds", () => {
  const folds = [fold(0, T0, T0 + 4 * H, T0 + 5 * H), fold(1, T0 + 2 * H, T0 + 6 * H, T0 + 7 * H)];

  it("marks each OOS start", () => {
    const m = foldsToMarkers(folds);
    expect(m.map((x) => [x.time, x.text])).toEqual([
      [T0 + 4 * H, "F0"],
      [T0 + 6 * H, "F1"],
    ]);
  });

  it("bands in-sample history and alternates OOS fold colours", () => {
    const times = Array.from({ length: 9 }, (_, i) => T0 - H + i * H); // T0-1h .. T0+7h
    const band = foldBand(times, folds);
    expect(band).toHaveLength(9);
    expect("value" in band[0]).toBe(false); // before the study
    const colors = band.map((p) => ("color" in p ? p.color : null));
    expect(colors[1]).toBe(colors[4]); // in-sample
    expect(colors[5]).not.toBe(colors[1]); // fold 0 OOS
    expect(colors[7]).not.toBe(colors[5]); // fold 1 OOS differs from fold 0
    expect(colors[6]).toBe(colors[5]);
  });

  it("merges marker lists in time order", () => {
    const merged = mergeMarkers(foldsToMarkers(folds), tradesToMarkers([trade("long", T0 + 5 * H, null, null)]));
    expect(merged.map((x) => x.time)).toEqual([T0 + 4 * H, T0 + 5 * H, T0 + 6 * H]);
  });

  it("spans from the first IS start to just past the last OOS bar", () => {
    expect(studySpan(folds)).toEqual({ start: iso(T0), end: iso(T0 + 7 * H + 1) });
    expect(studySpan([])).toBeNull();
  });
});

describe("equityToSeries", () => {
  const eq = {
    timestamp: [(T0 + H) * 1000, (T0 + 2 * H) * 1000, (T0 + 3 * H) * 1000],
    equity: [100, 110, null],
    drawdown: [0, -0.1, -0.2],
  };

  it("builds an equity line and a drawdown area in percent", () => {
    const s = equityToSeries(eq);
    expect(s.equity).toEqual([{ time: T0 + H, value: 100 }, { time: T0 + 2 * H, value: 110 }, { time: T0 + 3 * H }]);
    expect(s.drawdown[1]).toEqual({ time: T0 + 2 * H, value: -10 });
    expect(s.points).toBe(2);
  });

  it("lays the curve out on the candle times with whitespace elsewhere", () => {
    const times = [T0, T0 + H, T0 + 2 * H, T0 + 3 * H, T0 + 4 * H];
    const s = equityToSeries(eq, times);
    expect(s.equity.map((p) => p.time)).toEqual(times);
    expect(s.equity[0]).toEqual({ time: T0 });
    expect(s.equity[2]).toEqual({ time: T0 + 2 * H, value: 110 });
    expect(s.drawdown[3]).toEqual({ time: T0 + 3 * H, value: -20 });
    expect(s.equity[4]).toEqual({ time: T0 + 4 * H });
  });
});
