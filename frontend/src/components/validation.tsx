// A study's validation on its page: the verdict with its reasons, the bootstrap fan over the
// equity, the cpcv paths and their Sharpe distribution, the parameter heatmap and the engine
// cross-check. Data shaping lives in lib/validation.ts.

import { AreaSeries, LineSeries, LineStyle } from "lightweight-charts";
import { useEffect, useMemo, useRef } from "react";
import type { Bootstrap, Cpcv, CrossCheck, Equity, Heatmap, Validation } from "../lib/api";
import { fmtNum, fmtPct } from "../lib/format";
import { COLORS } from "../lib/series";
import {
  crossCheckRows,
  crossCheckStatus,
  domainWithZero,
  equityGrowth,
  fanBands,
  heatGrid,
  histogram,
  niceTicks,
  pathLines,
} from "../lib/validation";
import { baseOptions, data, makeChart } from "./charts";

const STATUS_ICON: Record<string, string> = { pass: "✓", warn: "!", fail: "✗", missing: "–" };

export function VerdictBadge({ verdict }: { verdict: string | null | undefined }) {
  if (!verdict) return <span className="muted">—</span>;
  return <span className={`badge badge-${verdict}`}>{verdict}</span>;
}

export function VerdictPanel({ validation }: { validation: Validation }) {
  const v = validation;
  return (
    <section className={`verdict verdict-${v.verdict}`} data-testid="verdict-panel" data-verdict={v.verdict}>
      <div className="verdict-head">
        <span className={`badge badge-${v.verdict} big`} data-testid="verdict">{v.verdict}</span>
        <span className="muted">
          {v.scheme === "cpcv" ? "combinatorial purged cross-validation" : "walk-forward"} ·{" "}
          {fmtNum(v.oos_trade_count, 0)} OOS trades
        </span>
      </div>
      <ul className="reasons" data-testid="verdict-reasons">
        {v.reasons.map((r) => (
          <li key={r}>{r}</li>
        ))}
      </ul>
      <table className="grid compact" data-testid="verdict-checks">
        <thead>
          <tr>
            <th>check</th>
            <th className="num">statistic</th>
            <th>status</th>
            <th>why</th>
          </tr>
        </thead>
        <tbody>
          {v.checks.map((c) => (
            <tr key={c.name} className={`check-${c.status}`}>
              <td>{c.name}</td>
              <td className="num">{fmtNum(c.value)}</td>
              <td>
                <span className={`status status-${c.status}`}>
                  {STATUS_ICON[c.status]} {c.status}
                </span>
              </td>
              <td className="wrap">{c.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <details>
        <summary>thresholds (engine/verdict.py)</summary>
        <code className="thresholds">
          {Object.entries(v.thresholds)
            .map(([k, x]) => `${k}=${x}`)
            .join(" · ")}
        </code>
      </details>
    </section>
  );
}

const BAND_COLORS = ["#d6e6f7", "#a9cbed"]; // opaque: the bands are stacked areas
const BACKGROUND = "#ffffff";

/** The bootstrap fan (5-95 % and 25-75 % bands, median dashed) under the study's OOS equity,
 * both as growth of 1. Bands are areas stacked from the top quantile down, each lower
 * quantile painting the colour of the band below it (the lowest paints the background). */
export function FanChart({ bootstrap, equity, height = 260 }: { bootstrap: Bootstrap; equity: Equity | undefined; height?: number }) {
  const el = useRef<HTMLDivElement>(null);
  const fan = useMemo(() => (bootstrap.fan ? fanBands(bootstrap.fan) : null), [bootstrap.fan]);
  const growth = useMemo(() => (equity ? equityGrowth(equity) : null), [equity]);
  useEffect(() => {
    const [chart, unobserve] = makeChart(el.current!, {
      ...baseOptions,
      grid: { vertLines: { visible: false }, horzLines: { visible: false } },
    });
    if (fan) {
      const area = (key: string, color: string) => {
        const s = chart.addSeries(AreaSeries, {
          topColor: color,
          bottomColor: color,
          lineVisible: false,
          priceLineVisible: false,
          lastValueVisible: false,
          crosshairMarkerVisible: false,
        });
        s.setData(data(fan.series[key]));
      };
      fan.bands.forEach(([, hi], k) => area(hi, BAND_COLORS[Math.min(k, BAND_COLORS.length - 1)]));
      [...fan.bands].reverse().forEach(([lo], r) => {
        const k = fan.bands.length - 1 - r;
        area(lo, k > 0 ? BAND_COLORS[Math.min(k - 1, BAND_COLORS.length - 1)] : BACKGROUND);
      });
      if (fan.median) {
        const m = chart.addSeries(LineSeries, {
          color: "#5c6bc0",
          lineWidth: 1,
          lineStyle: LineStyle.Dashed,
          priceLineVisible: false,
          lastValueVisible: false,
          title: "median",
        });
        m.setData(data(fan.series[fan.median]));
      }
    }
    if (growth) {
      const line = chart.addSeries(LineSeries, { color: COLORS.equity, lineWidth: 2, priceLineVisible: false, title: "OOS equity" });
      line.setData(data(growth));
    }
    chart.timeScale().fitContent();
    return () => {
      unobserve();
      chart.remove();
    };
  }, [fan, growth]);
  return <div className="chart" data-testid="fan-chart" style={{ height }} ref={el} />;
}

export function BootstrapTable({ bootstrap }: { bootstrap: Bootstrap }) {
  const level = `${Math.round((bootstrap.confidence ?? 0.95) * 100)} %`;
  const rows: [string, keyof Bootstrap, boolean][] = [
    ["Sharpe", "sharpe_ratio", false],
    ["CAGR", "cagr", true],
    ["Max drawdown", "max_drawdown", true],
    ["Total return", "total_return", true],
  ];
  const tmc = bootstrap.trade_monte_carlo;
  return (
    <div>
      <table className="grid compact" data-testid="bootstrap-table">
        <thead>
          <tr>
            <th>statistic</th>
            <th className="num">observed</th>
            <th className="num">{level} low</th>
            <th className="num">{level} high</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([label, key, pct]) => {
            const i = bootstrap[key] as Bootstrap["sharpe_ratio"];
            const f = pct ? fmtPct : fmtNum;
            return (
              <tr key={key}>
                <td>{label}</td>
                <td className="num">{f(i?.estimate)}</td>
                <td className="num">{f(i?.low)}</td>
                <td className="num">{f(i?.high)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p className="small" data-testid="probability-of-loss">
        Probability of a loss over the OOS span: <strong>{fmtPct(bootstrap.probability_of_loss)}</strong> ({bootstrap.n_resamples}{" "}
        resamples, mean block {fmtNum(bootstrap.block_length, 1)} bars)
      </p>
      {tmc && tmc.max_drawdown && (
        <p className="small" data-testid="trade-monte-carlo">
          Trade order ({tmc.n_trades} trades, {tmc.n_shuffles} orders): max drawdown {fmtPct(tmc.observed_max_drawdown)} as traded,
          median {fmtPct(tmc.max_drawdown.median)}, 5 % of orders below {fmtPct(tmc.max_drawdown.q05)}, worst{" "}
          {fmtPct(tmc.max_drawdown.worst)}
        </p>
      )}
      {tmc?.error && <p className="small muted">Trade order: {tmc.error}</p>}
    </div>
  );
}

const PATH_COLORS = ["#8e24aa", "#43a047", "#fb8c00", "#00897b", "#6d4c41", "#e53935", "#3949ab"];

/** Every cpcv path's equity; the representative path (the study's equity) drawn thick. */
export function PathsChart({ cpcv, height = 260 }: { cpcv: Cpcv; height?: number }) {
  const el = useRef<HTMLDivElement>(null);
  const lines = useMemo(() => (cpcv.equity ? pathLines(cpcv.equity) : []), [cpcv.equity]);
  useEffect(() => {
    const [chart, unobserve] = makeChart(el.current!);
    lines.forEach((points, path) => {
      const rep = path === cpcv.representative_path;
      const s = chart.addSeries(LineSeries, {
        color: rep ? COLORS.equity : PATH_COLORS[path % PATH_COLORS.length],
        lineWidth: rep ? 3 : 1,
        priceLineVisible: false,
        lastValueVisible: rep,
        title: rep ? `path ${path} (study equity)` : "",
      });
      s.setData(data(points));
    });
    chart.timeScale().fitContent();
    return () => {
      unobserve();
      chart.remove();
    };
  }, [lines, cpcv.representative_path]);
  return <div className="chart" data-testid="cpcv-paths-chart" data-paths={lines.length} style={{ height }} ref={el} />;
}

// Below this many paths a histogram says nothing the dots do not.
const HISTOGRAM_MIN_PATHS = 8;

/** The paths' OOS Sharpe: a dot per path (the representative one larger), the 5-95 % and
 * 25-75 % quantile box with the median, 0 marked, and a histogram when there are many. */
export function SharpeDistribution({ cpcv, width = 460 }: { cpcv: Cpcv; width?: number }) {
  const values = cpcv.paths.map((p) => p.sharpe_ratio);
  const q = cpcv.sharpe_ratio.quantiles;
  const [lo, hi] = domainWithZero([...values, ...Object.values(q)]);
  const withHistogram = values.length >= HISTOGRAM_MIN_PATHS;
  const bins = withHistogram ? histogram(values, Math.min(20, Math.ceil(Math.sqrt(values.length)) + 3), lo, hi) : [];
  const pad = { l: 14, r: 14, t: 14, b: 34 };
  const histH = withHistogram ? 80 : 0;
  const boxY = pad.t + histH + 22;
  const axisY = boxY + 30;
  const height = axisY + pad.b;
  const x = (v: number) => pad.l + ((v - lo) / (hi - lo)) * (width - pad.l - pad.r);
  const maxCount = Math.max(1, ...bins.map((b) => b.count));
  const qv = (k: string) => q[k] ?? null;
  const [q05, q25, q50, q75, q95] = ["0.05", "0.25", "0.5", "0.75", "0.95"].map(qv);
  return (
    <svg width={width} height={height} role="img" aria-label="OOS Sharpe over the cpcv paths" data-testid="cpcv-distribution" data-paths={values.length}>
      {bins.map((b, i) => {
        const h = (b.count / maxCount) * histH;
        return (
          <g key={i}>
            <rect x={x(b.lo) + 1} y={pad.t + histH - h} width={Math.max(1, x(b.hi) - x(b.lo) - 2)} height={h} fill="#d1c4e9">
              <title>{`${b.count} path(s) with Sharpe ${b.lo.toFixed(2)} to ${b.hi.toFixed(2)}`}</title>
            </rect>
            {b.count > 0 && (
              <text x={(x(b.lo) + x(b.hi)) / 2} y={pad.t + histH - h - 2} fontSize={9} textAnchor="middle" fill="#546e7a">{b.count}</text>
            )}
          </g>
        );
      })}
      <line x1={x(0)} x2={x(0)} y1={pad.t} y2={axisY} stroke="#c62828" strokeDasharray="3 3" />
      {q05 != null && q95 != null && <line x1={x(q05)} x2={x(q95)} y1={boxY} y2={boxY} stroke="#455a64" />}
      {q25 != null && q75 != null && (
        <rect x={x(q25)} y={boxY - 8} width={Math.max(1, x(q75) - x(q25))} height={16} fill="#ede7f6" stroke="#455a64" />
      )}
      {q50 != null && <line x1={x(q50)} x2={x(q50)} y1={boxY - 8} y2={boxY + 8} stroke="#263238" strokeWidth={2} />}
      {cpcv.paths.map((p, i) =>
        p.sharpe_ratio == null ? null : (
          <circle
            key={p.path}
            cx={x(p.sharpe_ratio)}
            cy={boxY + 16 + (i % 2) * 4}
            r={p.path === cpcv.representative_path ? 5 : 3.5}
            fill={p.path === cpcv.representative_path ? COLORS.equity : "#7e57c2"}
            stroke="#fff"
          >
            <title>{`path ${p.path}: Sharpe ${p.sharpe_ratio.toFixed(2)}`}</title>
          </circle>
        ),
      )}
      <line x1={pad.l} x2={width - pad.r} y1={axisY} y2={axisY} stroke="#b0bec5" />
      {niceTicks(lo, hi, 6).map((t) => (
        <g key={t}>
          <line x1={x(t)} x2={x(t)} y1={axisY} y2={axisY + 4} stroke="#b0bec5" />
          <text x={x(t)} y={axisY + 15} fontSize={10} textAnchor="middle">{t}</text>
        </g>
      ))}
      <text x={width - pad.r} y={height - 4} fontSize={10} textAnchor="end" fill="#546e7a">
        OOS Sharpe of {values.length} paths · box 25–75 %, whiskers 5–95 %
      </text>
    </svg>
  );
}

/** The mean objective over the two most important parameters: one coloured cell per bin
 * (grey where no trial fell), a ring with the searches' numbers where they chose. */
export function HeatmapGrid({ heatmap, width = 560 }: { heatmap: Heatmap; width?: number }) {
  const g = useMemo(() => heatGrid(heatmap), [heatmap]);
  const pad = { l: 70, r: 10, t: 10, b: 44 };
  const cols = g.xLabels.length || 1;
  const rows = g.yLabels.length || 1;
  const cw = (width - pad.l - pad.r) / cols;
  const ch = Math.min(34, Math.max(16, cw * 0.7));
  const height = pad.t + rows * ch + pad.b;
  const cx = (j: number) => pad.l + j * cw;
  // row 0 (the lowest bin) at the bottom, as on a plot
  const cy = (i: number) => pad.t + (rows - 1 - i) * ch;
  const filled = g.cells.filter((c) => c.value != null).length;
  return (
    <svg width={width} height={height} role="img" aria-label="objective heatmap" data-testid="plateau-heatmap" data-cells={filled}>
      {g.cells.map((c) => (
        <rect key={`${c.row}:${c.col}`} x={cx(c.col)} y={cy(c.row)} width={cw - 1} height={ch - 1} fill={c.color ?? "#eceff1"}>
          <title>{c.value == null ? "no trial" : `${heatmap.y.name}=${g.yLabels[c.row]}, ${heatmap.x.name}=${g.xLabels[c.col]}: ${c.value.toFixed(2)} (${c.count} trials)`}</title>
        </rect>
      ))}
      {g.chosen.map((c) => (
        <g key={`${c.row}:${c.col}`} data-testid="heatmap-chosen">
          <circle cx={cx(c.col) + cw / 2} cy={cy(c.row) + ch / 2} r={Math.min(cw, ch) / 2 - 2} fill="none" stroke="#263238" strokeWidth={2} />
          <text x={cx(c.col) + cw / 2} y={cy(c.row) + ch / 2 + 3} fontSize={9} textAnchor="middle" fill="#263238">
            {c.folds.join(",")}
          </text>
        </g>
      ))}
      {g.yLabels.map((l, i) => (
        <text key={i} x={pad.l - 4} y={cy(i) + ch / 2 + 3} fontSize={10} textAnchor="end">{l}</text>
      ))}
      {g.xLabels.map((l, j) =>
        cols <= 14 || j % Math.ceil(cols / 14) === 0 ? (
          <text key={j} x={cx(j) + cw / 2} y={pad.t + rows * ch + 12} fontSize={10} textAnchor="middle">{l}</text>
        ) : null,
      )}
      <text x={pad.l + (width - pad.l - pad.r) / 2} y={height - 6} fontSize={11} textAnchor="middle" fill="#37474f">{heatmap.x.name}</text>
      <text x={12} y={pad.t + (rows * ch) / 2} fontSize={11} textAnchor="middle" fill="#37474f" transform={`rotate(-90 12 ${pad.t + (rows * ch) / 2})`}>
        {heatmap.y.name}
      </text>
      {g.domain && (
        <text x={width - pad.r} y={height - 6} fontSize={10} textAnchor="end" fill="#546e7a">
          {g.domain[0].toFixed(2)} … {g.domain[1].toFixed(2)}
        </text>
      )}
    </svg>
  );
}

export function CrossCheckTable({ check }: { check: CrossCheck }) {
  const status = crossCheckStatus(check);
  const rows = crossCheckRows(check);
  const dev = (v: number | null, ok: boolean | null) => <td className={`num ${ok === false ? "bad" : ""}`}>{fmtPct(v)}</td>;
  return (
    <div data-testid="cross-check" data-status={status}>
      <p className="small">
        <span className={`status status-${status === "passed" ? "pass" : status === "failed" ? "fail" : "warn"}`}>{status}</span> against engine{" "}
        <code>{check.engine}</code>: largest deviation {fmtPct(check.max_deviation)}, tolerance {fmtPct(check.tolerance)}
        {check.seconds != null ? ` · ${fmtNum(check.seconds, 1)} s` : ""}
      </p>
      {check.unsupported ? (
        <p className="small" data-testid="cross-check-unsupported">{check.unsupported}</p>
      ) : (
        <table className="grid compact" data-testid="cross-check-table">
          <thead>
            <tr>
              <th>fold</th>
              <th className="num">Sharpe v2 / v1</th>
              <th className="num">return v2 / v1</th>
              <th className="num">trades v2 / v1</th>
              <th className="num">Δ Sharpe</th>
              <th className="num">Δ return</th>
              <th className="num">Δ trades</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.fold}>
                <td>{r.fold}</td>
                <td className="num">{fmtNum(r.sharpe[0])} / {fmtNum(r.sharpe[1])}</td>
                <td className="num">{fmtPct(r.totalReturn[0])} / {fmtPct(r.totalReturn[1])}</td>
                <td className="num">{fmtNum(r.trades[0], 0)} / {fmtNum(r.trades[1], 0)}</td>
                {dev(r.deviation.sharpe, r.within.sharpe)}
                {dev(r.deviation.total_return, r.within.total_return)}
                {dev(r.deviation.trade_count, r.within.trade_count)}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
