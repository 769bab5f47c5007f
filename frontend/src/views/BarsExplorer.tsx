import { useQuery } from "@tanstack/react-query";
import { useCallback, useMemo, useState } from "react";
import { api } from "../lib/api";
import { routeHash, symbolSlug } from "../lib/route";
import { barsToCandles, type HistogramPoint } from "../lib/series";
import { BarsChart } from "../components/charts";
import { Empty, ErrorState, Loading } from "../components/state";

export function BarsExplorer({ symbol, tf }: { symbol?: string; tf?: string }) {
  const health = useQuery({ queryKey: ["health"], queryFn: api.health });
  const symbols = (health.data?.symbols ?? []).map(symbolSlug);
  const timeframes = health.data?.timeframes ?? [];
  const slug = symbol ?? symbols[0];
  const timeframe = tf ?? (timeframes.includes("4h") ? "4h" : timeframes[0]);
  const bars = useQuery({
    queryKey: ["bars", slug, timeframe],
    queryFn: () => api.bars(slug!, timeframe!),
    enabled: !!slug && !!timeframe,
  });
  const candles = useMemo(() => (bars.data ? barsToCandles(bars.data) : null), [bars.data]);
  const volume = useMemo<HistogramPoint[] | undefined>(() => {
    const b = bars.data;
    if (!b || !candles) return undefined;
    return candles.map((c, i) => ({
      time: c.time,
      value: b.volume[i] ?? 0,
      color: c.close >= c.open ? "rgba(38,166,154,.45)" : "rgba(239,83,80,.45)",
    }));
  }, [bars.data, candles]);
  const [drawn, setDrawn] = useState<string>("");
  const key = `${slug}|${timeframe}|${candles?.length ?? 0}`;
  const onDrawn = useCallback(() => setDrawn(key), [key]);

  const go = (next: { symbol?: string; tf?: string }) =>
    (window.location.hash = routeHash({ view: "bars", symbol: next.symbol ?? slug, tf: next.tf ?? timeframe }));

  return (
    <section
      data-testid="bars-view"
      data-symbol={slug}
      data-timeframe={timeframe}
      data-ready={drawn === key && candles ? "true" : "false"}
      data-candle-count={drawn === key && candles ? candles.length : undefined}
    >
      <h2>Bars explorer</h2>
      {health.isError ? (
        <ErrorState title="API unavailable" error={health.error} />
      ) : !health.data ? (
        <Loading what="symbols" />
      ) : (
        <div className="toolbar">
          <label>
            symbol{" "}
            <select data-testid="symbol-select" value={slug} onChange={(e) => go({ symbol: e.target.value })}>
              {symbols.map((s) => <option key={s} value={s}>{s.replace("-", "/")}</option>)}
            </select>
          </label>
          <span className="tfs" role="group" aria-label="timeframe">
            {timeframes.map((t) => (
              <button key={t} type="button" data-testid={`tf-${t}`} className={t === timeframe ? "active" : ""} onClick={() => go({ tf: t })}>
                {t}
              </button>
            ))}
          </span>
          {bars.data && (
            <span className="muted">
              {bars.data.count.toLocaleString()} bars · {bars.data.exchange}
              {bars.data.truncated ? " · truncated to the latest bars" : ""}
            </span>
          )}
        </div>
      )}
      {bars.isError ? (
        <ErrorState title={`No bars for ${slug} ${timeframe}`} error={bars.error} />
      ) : health.data && !symbols.length ? (
        <Empty>No symbols in the lake yet: materialize market data first.</Empty>
      ) : !candles ? (
        health.data ? <Loading what={`${slug} ${timeframe} bars`} /> : null
      ) : candles.length === 0 ? (
        <Empty>No bars for {slug} {timeframe}.</Empty>
      ) : (
        <BarsChart candles={candles} volume={volume} onDrawn={onDrawn} />
      )}
    </section>
  );
}
