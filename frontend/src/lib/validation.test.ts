import { describe, expect, it } from "vitest";
import type { CrossCheck, Heatmap } from "./api";
import {
  axisCell,
  axisLabels,
  crossCheckRows,
  crossCheckStatus,
  domainWithZero,
  equityGrowth,
  fanBands,
  groupBand,
  heatColor,
  heatGrid,
  histogram,
  niceTicks,
  parseVerdicts,
  pathLines,
  toggleVerdict,
} from "./validation";

const H = 3600;
const T0 = Date.UTC(2018, 0, 1) / 1000;
const ms = (s: number) => s * 1000;

describe("fanBands", () => {
  const fan = {
    timestamp: [ms(T0), ms(T0 + H), ms(T0 + 2 * H)],
    index: [0, 1, 2],
    // deliberately out of order: the bands pair the outermost quantiles first
    quantiles: {
      "0.95": [1.1, 1.2, 1.3],
      "0.05": [0.9, 0.8, null],
      "0.5": [1, 1, 1],
      "0.25": [0.95, 0.9, 0.9],
      "0.75": [1.05, 1.1, 1.1],
    },
  };

  it("sorts the quantiles and pairs them into bands, widest first", () => {
    const b = fanBands(fan);
    expect(b.levels).toEqual([0.05, 0.25, 0.5, 0.75, 0.95]);
    expect(b.bands).toEqual([
      ["0.05", "0.95"],
      ["0.25", "0.75"],
    ]);
    expect(b.median).toBe("0.5");
  });

  it("lays each quantile on the fan's times in seconds, whitespace where a value is missing", () => {
    const b = fanBands(fan);
    expect(b.series["0.95"]).toEqual([
      { time: T0, value: 1.1 },
      { time: T0 + H, value: 1.2 },
      { time: T0 + 2 * H, value: 1.3 },
    ]);
    expect(b.series["0.05"][2]).toEqual({ time: T0 + 2 * H });
  });
});

describe("equityGrowth", () => {
  it("divides by the starting capital, the first bar's equity before its return", () => {
    const g = equityGrowth({
      timestamp: [ms(T0), ms(T0 + H), ms(T0 + 2 * H)],
      equity: [11000, null, 9900],
      returns: [0.1, null, -0.1],
    });
    expect(g.map((p) => p.time)).toEqual([T0, T0 + 2 * H]);
    expect(g[0].value).toBeCloseTo(1.1);
    expect(g[1].value).toBeCloseTo(0.99);
  });

  it("is empty without any finite value", () => {
    expect(equityGrowth({ timestamp: [ms(T0)], equity: [null], returns: [null] })).toEqual([]);
  });
});

describe("pathLines", () => {
  it("gives one line per path on the shared times, skipping missing values", () => {
    const lines = pathLines({
      count: 2,
      bars: 2,
      timestamp: [ms(T0), ms(T0 + H)],
      equity: [
        [100, 101],
        [100, null],
      ],
    });
    expect(lines).toEqual([
      [
        { time: T0, value: 100 },
        { time: T0 + H, value: 101 },
      ],
      [{ time: T0, value: 100 }],
    ]);
  });
});

describe("niceTicks", () => {
  it("steps by 1, 2 or 5 times a power of ten inside the range", () => {
    expect(niceTicks(-2.7, 0.2, 5)).toEqual([-2, -1, 0]);
    expect(niceTicks(-2.7, 0.2, 10)).toEqual([-2.5, -2, -1.5, -1, -0.5, 0]);
    expect(niceTicks(0, 100, 4)).toEqual([0, 50, 100]);
    expect(niceTicks(1, 1)).toEqual([1]);
  });
});

describe("histogram and domainWithZero", () => {
  it("counts every finite value once, the maximum in the last bin", () => {
    const bins = histogram([-1, 0, 0.5, 1, null, 3], 4);
    expect(bins.map((b) => b.count)).toEqual([1, 2, 1, 1]);
    expect(bins.reduce((s, b) => s + b.count, 0)).toBe(5);
    expect(bins[0].lo).toBe(-1);
    expect(bins[3].hi).toBe(3);
  });

  it("widens a single value into a bin of its own", () => {
    const bins = histogram([2, 2], 3);
    expect(bins.reduce((s, b) => s + b.count, 0)).toBe(2);
    expect(bins[0].lo).toBeLessThan(2);
  });

  it("keeps 0 inside the domain of positive values", () => {
    const [lo, hi] = domainWithZero([1, 2]);
    expect(lo).toBeLessThan(0);
    expect(hi).toBeGreaterThan(2);
  });
});

const heatmap: Heatmap = {
  x: { name: "slow", kind: "numeric", log: false, edges: [0, 10, 20, 30], centers: [5, 15, 25] },
  y: { name: "ma_type", kind: "categorical", categories: ["ema", "sma"] },
  values: [
    [-1, null, 2],
    [0.5, 1, null],
  ],
  counts: [
    [1, 0, 3],
    [2, 1, 0],
  ],
  chosen: [
    { fold: 0, x: 29, y: "ema" },
    { fold: 1, x: 30, y: "ema" },
    { fold: 2, x: 10, y: "sma" },
    { fold: 3, x: 12, y: "wma" },
  ],
};

describe("heatmap shaping", () => {
  it("bins values as the engine does: the last edge at or below, clamped to the grid", () => {
    expect(axisCell(heatmap.x, 0)).toBe(0);
    expect(axisCell(heatmap.x, 10)).toBe(1);
    expect(axisCell(heatmap.x, 30)).toBe(2);
    expect(axisCell(heatmap.x, 99)).toBe(2);
    expect(axisCell(heatmap.y, "sma")).toBe(1);
    expect(axisCell(heatmap.y, "wma")).toBe(-1);
  });

  it("labels numeric bins by their centres and categories by name", () => {
    expect(axisLabels(heatmap.x)).toEqual(["5", "15", "25"]);
    expect(axisLabels({ name: "k", kind: "numeric", centers: [0.123456] })).toEqual(["0.123"]);
    expect(axisLabels(heatmap.y)).toEqual(["ema", "sma"]);
  });

  it("colours every measured cell, none for empty ones, and groups the chosen points", () => {
    const g = heatGrid(heatmap);
    expect(g.cells).toHaveLength(6);
    expect(g.domain).toEqual([-1, 2]);
    const at = (r: number, c: number) => g.cells.find((x) => x.row === r && x.col === c)!;
    expect(at(0, 1).color).toBeNull();
    expect(at(0, 0).color).toBe("rgb(198, 40, 40)");
    expect(at(0, 2).color).toBe("rgb(46, 125, 50)");
    expect(at(0, 2).count).toBe(3);
    expect(g.chosen).toEqual([
      { row: 0, col: 2, folds: [0, 1] },
      { row: 1, col: 1, folds: [2] },
    ]);
  });

  it("uses white at 0 on a domain spanning 0, a blue ramp otherwise", () => {
    expect(heatColor(0, -1, 1)).toBe("rgb(255, 255, 255)");
    expect(heatColor(1, 1, 3)).toBe("rgb(227, 242, 253)");
    expect(heatColor(3, 1, 3)).toBe("rgb(21, 101, 192)");
  });
});

const check: CrossCheck = {
  study_id: "ema_cross.BTC-USD.1h",
  engine: "v1",
  tolerance: 0.05,
  passed: false,
  max_deviation: 0.08,
  unsupported: null,
  seconds: 1.5,
  folds: [
    {
      fold: 0,
      sharpe_v2: 1.2,
      sharpe_v1: 1.19,
      return_v2: 0.1,
      return_v1: 0.1,
      trades_v2: 10,
      trades_v1: 10,
      deviation: { sharpe: 0.01, total_return: 0.05, trade_count: 0 },
    },
    {
      fold: 1,
      sharpe_v2: 1,
      sharpe_v1: 0.92,
      return_v2: 0.1,
      return_v1: 0.09,
      trades_v2: 12,
      trades_v1: 11,
      deviation: { sharpe: -0.08, total_return: null, trade_count: 0.08 },
    },
  ],
};

describe("cross-check shaping", () => {
  it("judges each deviation against the tolerance, the tolerance itself within", () => {
    const rows = crossCheckRows(check);
    expect(rows[0].within).toEqual({ sharpe: true, total_return: true, trade_count: true });
    expect(rows[1].within).toEqual({ sharpe: false, total_return: null, trade_count: false });
    expect(rows[1].sharpe).toEqual([1, 0.92]);
  });

  it("names the outcome", () => {
    expect(crossCheckStatus(check)).toBe("failed");
    expect(crossCheckStatus({ ...check, passed: true })).toBe("passed");
    expect(crossCheckStatus({ ...check, passed: null })).toBe("not judged");
    expect(crossCheckStatus({ ...check, unsupported: "no short selling" })).toBe("unsupported");
  });
});

describe("groupBand", () => {
  it("colours the bars of each cpcv group alternately", () => {
    const times = [T0, T0 + H, T0 + 2 * H, T0 + 3 * H];
    const band = groupBand(times, [
      { group: 0, start_index: 0, stop_index: 2, start: ms(T0), end: ms(T0 + H) },
      { group: 1, start_index: 2, stop_index: 3, start: ms(T0 + 2 * H), end: ms(T0 + 2 * H) },
    ]);
    const colors = band.map((p) => ("color" in p ? p.color : null));
    expect(colors[0]).not.toBeNull();
    expect(colors[1]).toBe(colors[0]);
    expect(colors[2]).not.toBeNull();
    expect(colors[2]).not.toBe(colors[0]);
    expect(colors[3]).toBeNull();
  });
});

describe("verdict filter", () => {
  const known = ["robust", "fragile", "overfit", "insufficient"];

  it("reads the known verdicts of the URL, in their order", () => {
    expect(parseVerdicts("overfit,robust,bogus", known)).toEqual(["robust", "overfit"]);
    expect(parseVerdicts(undefined, known)).toEqual([]);
  });

  it("toggles a verdict in and out", () => {
    expect(toggleVerdict(["overfit"], "robust", known)).toEqual(["robust", "overfit"]);
    expect(toggleVerdict(["robust", "overfit"], "robust", known)).toEqual(["overfit"]);
  });
});
