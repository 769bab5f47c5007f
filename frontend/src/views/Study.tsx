import { useQuery } from "@tanstack/react-query";
import { useCallback, useMemo, useState } from "react";
import { api, reportUrl, type Fold } from "../lib/api";
import { fmtDate, fmtNum, fmtParams, fmtPct } from "../lib/format";
import { parseStudyId, routeHash, symbolSlug } from "../lib/route";
import {
  barsToCandles,
  equityToSeries,
  foldBand,
  foldsToMarkers,
  mergeMarkers,
  studySpan,
  tradesToMarkers,
} from "../lib/series";
import { StudyCharts } from "../components/charts";
import { Empty, ErrorState, Loading } from "../components/state";
import { HBars, HistoryLines } from "../components/svg";

declare global {
  interface Window {
    __maestroReadyAt?: number;
  }
}

function FoldsTable({ folds }: { folds: Fold[] }) {
  return (
    <table className="grid" data-testid="folds-table">
      <thead>
        <tr>
          <th>fold</th>
          <th>in-sample</th>
          <th>out-of-sample</th>
          <th>best params</th>
          <th className="num">IS Sharpe</th>
          <th className="num">OOS Sharpe</th>
          <th className="num">IS return</th>
          <th className="num">OOS return</th>
          <th className="num">OOS trades</th>
          <th className="num">WFE</th>
        </tr>
      </thead>
      <tbody>
        {folds.map((f) => (
          <tr key={f.fold}>
            <td>{f.fold}</td>
            <td>{fmtDate(f.is_start)} → {fmtDate(f.is_end)}</td>
            <td>{fmtDate(f.oos_start)} → {fmtDate(f.oos_end)}</td>
            <td className="params">{fmtParams(f.best_params)}</td>
            <td className="num">{fmtNum(f.is_metrics.sharpe_ratio)}</td>
            <td className="num">{fmtNum(f.oos_metrics.sharpe_ratio)}</td>
            <td className="num">{fmtPct(f.is_metrics.total_return)}</td>
            <td className="num">{fmtPct(f.oos_metrics.total_return)}</td>
            <td className="num">{fmtNum(f.oos_metrics.trade_count, 0)}</td>
            <td className="num">{fmtNum(f.wf_efficiency)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function StudyView({ id }: { id: string }) {
  const parsed = parseStudyId(id);
  const study = useQuery({ queryKey: ["study", id], queryFn: () => api.study(id), enabled: !!parsed });
  const trades = useQuery({ queryKey: ["trades", id], queryFn: () => api.trades(id), enabled: !!parsed });
  const equity = useQuery({ queryKey: ["equity", id], queryFn: () => api.equity(id), enabled: !!parsed });
  const insights = useQuery({ queryKey: ["insights", id], queryFn: () => api.insights(id), enabled: !!parsed });
  const span = study.data ? studySpan(study.data.folds) : null;
  const slug = study.data ? symbolSlug(study.data.symbol) : "";
  const tf = study.data?.timeframe ?? "";
  const bars = useQuery({
    queryKey: ["bars", slug, tf, span?.start, span?.end],
    queryFn: () => api.bars(slug, tf, span?.start, span?.end),
    enabled: !!study.data,
  });

  const candles = useMemo(() => (bars.data ? barsToCandles(bars.data) : null), [bars.data]);
  const times = useMemo(() => candles?.map((c) => c.time) ?? [], [candles]);
  const markers = useMemo(() => {
    if (!candles || !study.data || !trades.data) return null;
    return mergeMarkers(tradesToMarkers(trades.data.trades, times), foldsToMarkers(study.data.folds, times));
  }, [candles, times, study.data, trades.data]);
  const band = useMemo(() => (candles && study.data ? foldBand(times, study.data.folds) : null), [candles, times, study.data]);
  const eq = useMemo(() => (candles && equity.data ? equityToSeries(equity.data, times) : null), [candles, times, equity.data]);

  const [ready, setReady] = useState(false);
  const onDrawn = useCallback(() => {
    window.__maestroReadyAt = performance.now();
    setReady(true);
  }, []);

  if (!parsed) {
    return (
      <section data-testid="study-view">
        <ErrorState title="Invalid study id" error={`"${id}" is not STRATEGY.BASE-QUOTE.TIMEFRAME, e.g. ema_cross.BTC-USD.1h`} />
      </section>
    );
  }
  if (study.isError) {
    return (
      <section data-testid="study-view">
        <ErrorState title={`Study ${id} unavailable`} error={study.error} />
      </section>
    );
  }
  if (!study.data) return <section data-testid="study-view"><Loading what={`study ${id}`} /></section>;

  const s = study.data;
  const chartsReady = candles && markers && band && (eq || equity.isError);
  return (
    <section
      data-testid="study-view"
      data-ready={ready ? "true" : "false"}
      data-candle-count={ready && candles ? candles.length : undefined}
      data-marker-count={ready && markers ? markers.length : undefined}
      data-trade-count={trades.data?.count}
    >
      <header className="study-head">
        <h2>
          {s.strategy} · {s.symbol} · {s.timeframe}
        </h2>
        <div className="links">
          <a href={reportUrl(id)} target="_blank" rel="noreferrer" data-testid="report-link">
            Tear sheet ↗
          </a>
          <a href={routeHash({ view: "bars", symbol: slug, tf })}>Bars</a>
          <a href={routeHash({ view: "submit", study: id })}>Progress</a>
        </div>
      </header>
      <p className="muted" data-testid="strategy-version">
        strategy code version <code>{s.strategy_version ?? "unrecorded"}</code>
        {s.strategy_source && s.strategy_source !== "builtin" ? ` (${s.strategy_source})` : ""}
        {s.strategy_version && s.strategy_current_version && s.strategy_version !== s.strategy_current_version
          ? ` — the strategy's code has changed since (now ${s.strategy_current_version}): re-run the study`
          : ""}
      </p>
      <dl className="kpis">
        <div><dt>OOS Sharpe</dt><dd>{fmtNum(s.oos?.sharpe_ratio)}</dd></div>
        <div><dt>OOS return</dt><dd>{fmtPct(s.oos?.total_return)}</dd></div>
        <div><dt>OOS CAGR</dt><dd>{fmtPct(s.oos?.cagr)}</dd></div>
        <div><dt>Max DD</dt><dd>{fmtPct(s.oos?.max_drawdown)}</dd></div>
        <div><dt>Trades</dt><dd>{fmtNum(s.oos?.trade_count, 0)}</dd></div>
        <div><dt>DSR</dt><dd>{fmtNum(s.deflated_sharpe_ratio)}</dd></div>
        <div><dt>PBO</dt><dd>{fmtNum(s.pbo)}</dd></div>
        <div><dt>WFE</dt><dd>{fmtNum(s.wf_efficiency)}</dd></div>
        <div><dt>OOS span</dt><dd>{fmtDate(s.oos_start)} → {fmtDate(s.oos_end)}</dd></div>
      </dl>
      {bars.isError ? (
        <ErrorState title="Bars unavailable" error={bars.error} />
      ) : trades.isError ? (
        <ErrorState title="Trades unavailable" error={trades.error} />
      ) : !chartsReady ? (
        <Loading what="bars, trades and equity" />
      ) : candles.length === 0 ? (
        <Empty>No bars for {s.symbol} {s.timeframe} over the study's span.</Empty>
      ) : (
        <>
          {equity.isError && <ErrorState title="Equity unavailable" error={equity.error} />}
          <p className="legend">
            <span className="sw" style={{ background: "#2e7d32" }} /> long entry
            <span className="sw" style={{ background: "#c62828" }} /> short entry
            <span className="sw round" style={{ background: "#546e7a" }} /> exit (return)
            <span className="sw" style={{ background: "rgba(120,144,156,.5)" }} /> in-sample only
            <span className="sw" style={{ background: "rgba(126,87,194,.7)" }} />
            <span className="sw" style={{ background: "rgba(255,167,38,.7)" }} /> OOS folds
          </p>
          <StudyCharts candles={candles} markers={markers} band={band} equity={eq} onDrawn={onDrawn} />
        </>
      )}
      <h3>Walk-forward folds</h3>
      {s.folds.length ? <FoldsTable folds={s.folds} /> : <Empty>No folds.</Empty>}
      <div className="panels">
        <div className="panel">
          <h3>Optimization history (best so far)</h3>
          {insights.isError ? (
            <ErrorState title="Insights unavailable" error={insights.error} />
          ) : insights.data ? (
            <HistoryLines folds={insights.data.folds} />
          ) : (
            <Loading what="insights" />
          )}
        </div>
        <div className="panel">
          <h3>Parameter importances</h3>
          {insights.data ? <HBars values={insights.data.importances} /> : insights.isError ? null : <Loading what="importances" />}
        </div>
      </div>
    </section>
  );
}
