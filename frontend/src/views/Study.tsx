import { useQuery } from "@tanstack/react-query";
import { useCallback, useMemo, useState } from "react";
import { api, ApiError, reportUrl, type Fold } from "../lib/api";
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
import { groupBand } from "../lib/validation";
import { StudyCharts } from "../components/charts";
import { Empty, ErrorState, Loading } from "../components/state";
import { HBars, HistoryLines } from "../components/svg";
import {
  BootstrapTable,
  CrossCheckTable,
  FanChart,
  HeatmapGrid,
  PathsChart,
  SharpeDistribution,
  VerdictPanel,
} from "../components/validation";

declare global {
  interface Window {
    __maestroReadyAt?: number;
  }
}

// Bars per cpcv path asked of the API: plenty for a chart as wide as a screen.
const PATH_POINTS = 1500;

/** A 404 for an artifact the study lacks: shown as "not available" with the API's reason. */
const absent = (err: unknown) => err instanceof ApiError && err.status === 404;

function FoldsTable({ folds, cpcv }: { folds: Fold[]; cpcv: boolean }) {
  return (
    <table className="grid" data-testid="folds-table">
      <thead>
        <tr>
          <th>{cpcv ? "split" : "fold"}</th>
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
  const validation = useQuery({ queryKey: ["validation", id], queryFn: () => api.validation(id), enabled: !!parsed });
  const bootstrap = useQuery({ queryKey: ["bootstrap", id], queryFn: () => api.bootstrap(id), enabled: !!parsed });
  const plateau = useQuery({ queryKey: ["plateau", id], queryFn: () => api.plateau(id), enabled: !!parsed });
  const crossCheck = useQuery({ queryKey: ["cross-check", id], queryFn: () => api.crossCheck(id), enabled: !!parsed });
  const isCpcv = study.data?.scheme === "cpcv";
  const cpcv = useQuery({ queryKey: ["cpcv", id], queryFn: () => api.cpcv(id, PATH_POINTS), enabled: !!parsed && isCpcv });
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
  // A cpcv study's splits overlap: its band marks the groups and only trades are marked.
  const markers = useMemo(() => {
    if (!candles || !study.data || !trades.data) return null;
    const tradeMarkers = tradesToMarkers(trades.data.trades, times);
    return isCpcv ? tradeMarkers : mergeMarkers(tradeMarkers, foldsToMarkers(study.data.folds, times));
  }, [candles, times, study.data, trades.data, isCpcv]);
  const band = useMemo(() => {
    if (!candles || !study.data) return null;
    if (!isCpcv) return foldBand(times, study.data.folds);
    if (cpcv.isError) return foldBand(times, []);
    return cpcv.data ? groupBand(times, cpcv.data.groups) : null;
  }, [candles, times, study.data, isCpcv, cpcv.data, cpcv.isError]);
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
      {validation.isError ? (
        <ErrorState title={absent(validation.error) ? "Verdict not available" : "Verdict unavailable"} error={validation.error} />
      ) : validation.data ? (
        <VerdictPanel validation={validation.data} />
      ) : (
        <Loading what="verdict" />
      )}
      <dl className="kpis">
        <div><dt>Scheme</dt><dd data-testid="scheme">{isCpcv ? "cpcv" : "walk-forward"}</dd></div>
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
      <h3>Bootstrap confidence</h3>
      <div className="panels" data-testid="bootstrap-section">
        {bootstrap.isError ? (
          <ErrorState title={absent(bootstrap.error) ? "Bootstrap not available" : "Bootstrap unavailable"} error={bootstrap.error} />
        ) : !bootstrap.data ? (
          <Loading what="bootstrap" />
        ) : bootstrap.data.error ? (
          <Empty>Bootstrap not computed: {bootstrap.data.error}</Empty>
        ) : (
          <>
            <div className="panel grow">
              <div className="chart-label">
                OOS equity (growth of 1) over the bootstrap fan: 5–95 % and 25–75 % of {bootstrap.data.n_resamples} resampled
                paths, median dashed
              </div>
              <FanChart bootstrap={bootstrap.data} equity={equity.data} />
            </div>
            <div className="panel">
              <BootstrapTable bootstrap={bootstrap.data} />
            </div>
          </>
        )}
      </div>
      {isCpcv && (
        <>
          <h3>CPCV backtest paths</h3>
          <div className="panels" data-testid="cpcv-section">
            {cpcv.isError ? (
              <ErrorState title="CPCV paths unavailable" error={cpcv.error} />
            ) : !cpcv.data ? (
              <Loading what="cpcv paths" />
            ) : (
              <>
                <div className="panel grow">
                  <div className="chart-label">
                    Equity of each of the {cpcv.data.n_paths} paths ({cpcv.data.n_splits} splits, N = {cpcv.data.n_groups}, k ={" "}
                    {cpcv.data.n_test_groups}); thick: path {cpcv.data.representative_path}, the study's equity
                  </div>
                  {cpcv.data.equity ? <PathsChart cpcv={cpcv.data} /> : <Empty>Path equity not published with this version.</Empty>}
                </div>
                <div className="panel">
                  <div className="chart-label">
                    OOS Sharpe over the paths: mean {fmtNum(cpcv.data.sharpe_ratio.mean)}, std {fmtNum(cpcv.data.sharpe_ratio.std)},{" "}
                    {fmtPct(cpcv.data.sharpe_ratio.share_below_zero)} below 0
                  </div>
                  <SharpeDistribution cpcv={cpcv.data} />
                </div>
              </>
            )}
          </div>
        </>
      )}
      <h3>{isCpcv ? "CPCV splits" : "Walk-forward folds"}</h3>
      {s.folds.length ? <FoldsTable folds={s.folds} cpcv={isCpcv} /> : <Empty>No folds.</Empty>}
      <div className="panels">
        <div className="panel">
          <h3>Parameter plateau</h3>
          {plateau.isError ? (
            <ErrorState title={absent(plateau.error) ? "Plateau not available" : "Plateau unavailable"} error={plateau.error} />
          ) : !plateau.data ? (
            <Loading what="plateau" />
          ) : (
            <div data-testid="plateau-section">
              <p className="small">
                Plateau score <strong data-testid="plateau-score">{fmtNum(plateau.data.score)}</strong> (1: neighbours keep the
                best's lead, 0: a spike; median of {plateau.data.n_scored} searches) · mean {plateau.data.objective} per cell, ringed
                where a search chose
              </p>
              {plateau.data.heatmap ? <HeatmapGrid heatmap={plateau.data.heatmap} /> : <Empty>Fewer than two parameters: no heatmap.</Empty>}
            </div>
          )}
        </div>
        <div className="panel">
          <h3>Engine cross-check</h3>
          {crossCheck.isError ? (
            absent(crossCheck.error) ? (
              <div className="state empty" data-testid="cross-check-unavailable">
                Not available.
                <div className="small muted">{(crossCheck.error as Error).message}</div>
              </div>
            ) : (
              <ErrorState title="Cross-check unavailable" error={crossCheck.error} />
            )
          ) : crossCheck.data ? (
            <CrossCheckTable check={crossCheck.data} />
          ) : (
            <Loading what="cross-check" />
          )}
        </div>
      </div>
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
