// lightweight-charts wrappers: a candlestick chart (bars explorer) and the study's pair of
// time-synced charts (candles + trades + folds above, OOS equity + drawdown below).

import {
  AreaSeries,
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  HistogramSeries,
  LineSeries,
  type DeepPartial,
  type IChartApi,
  type ChartOptions,
  type LogicalRange,
} from "lightweight-charts";
import { useEffect, useRef } from "react";
import { COLORS, type Candle, type EquitySeries, type HistogramPoint, type Marker, type Whitespace } from "../lib/series";

// Both charts reserve the same price-axis width so their plot areas line up.
const AXIS_WIDTH = 80;

export const baseOptions: DeepPartial<ChartOptions> = {
  layout: {
    background: { type: ColorType.Solid, color: "#ffffff" },
    textColor: "#37474f",
    fontSize: 11,
    attributionLogo: false,
  },
  grid: { vertLines: { color: "#eceff1" }, horzLines: { color: "#eceff1" } },
  rightPriceScale: { minimumWidth: AXIS_WIDTH, borderColor: "#cfd8dc" },
  // minBarSpacing below 1 px lets fitContent show a whole multi-year history at once.
  timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#cfd8dc", minBarSpacing: 0.01 },
  crosshair: { mode: 0 },
};

// Our series modules use plain numbers for UTC seconds; lightweight-charts brands them.
export const data = (x: unknown) => x as any;

const candleOptions = {
  upColor: COLORS.up,
  downColor: COLORS.down,
  borderVisible: false,
  wickUpColor: COLORS.up,
  wickDownColor: COLORS.down,
  priceLineVisible: false,
};

/** A chart sized to its container at once (so fitContent works synchronously, unlike
 * autoSize which measures a frame later), then kept sized by a ResizeObserver. */
export function makeChart(el: HTMLDivElement, options: DeepPartial<ChartOptions> = baseOptions): [IChartApi, () => void] {
  const chart = createChart(el, { ...options, width: el.clientWidth, height: el.clientHeight });
  const observer = new ResizeObserver(() => chart.resize(el.clientWidth, el.clientHeight));
  observer.observe(el);
  return [chart, () => observer.disconnect()];
}

/** Keep two charts' visible logical ranges equal (both must hold the same times). */
export function syncCharts(a: IChartApi, b: IChartApi): () => void {
  let busy = false;
  const link = (to: IChartApi) => (range: LogicalRange | null) => {
    if (busy || range === null) return;
    busy = true;
    to.timeScale().setVisibleLogicalRange(range);
    busy = false;
  };
  const ab = link(b);
  const ba = link(a);
  a.timeScale().subscribeVisibleLogicalRangeChange(ab);
  b.timeScale().subscribeVisibleLogicalRangeChange(ba);
  return () => {
    a.timeScale().unsubscribeVisibleLogicalRangeChange(ab);
    b.timeScale().unsubscribeVisibleLogicalRangeChange(ba);
  };
}

export interface BarsChartProps {
  candles: Candle[];
  volume?: HistogramPoint[];
  height?: number;
  onDrawn?: () => void;
}

/** One candlestick chart (+ volume) of a whole history; lightweight-charts handles zoom/pan. */
export function BarsChart({ candles, volume, height = 520, onDrawn }: BarsChartProps) {
  const el = useRef<HTMLDivElement>(null);
  const chartRef = useRef<{ chart: IChartApi; candles: ReturnType<IChartApi["addSeries"]>; volume: ReturnType<IChartApi["addSeries"]> } | null>(null);

  useEffect(() => {
    const [chart, unobserve] = makeChart(el.current!);
    const c = chart.addSeries(CandlestickSeries, candleOptions);
    const v = chart.addSeries(HistogramSeries, {
      priceScaleId: "volume",
      priceFormat: { type: "volume" },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
    c.priceScale().applyOptions({ scaleMargins: { top: 0.05, bottom: 0.2 } });
    chartRef.current = { chart, candles: c, volume: v };
    return () => {
      chartRef.current = null;
      unobserve();
      chart.remove();
    };
  }, []);

  useEffect(() => {
    const ref = chartRef.current;
    if (!ref) return;
    ref.candles.setData(data(candles));
    ref.volume.setData(data(volume ?? []));
    ref.chart.timeScale().fitContent();
    // the chart paints in its own animation frame, requested by setData before this one
    const id = requestAnimationFrame(() => onDrawn?.());
    return () => cancelAnimationFrame(id);
  }, [candles, volume, onDrawn]);

  return <div className="chart" data-testid="bars-chart" style={{ height }} ref={el} />;
}

export interface StudyChartsProps {
  candles: Candle[];
  markers: Marker[];
  band: (HistogramPoint | Whitespace)[];
  equity: EquitySeries | null;
  onDrawn?: () => void;
}

/** Candles with trade and fold markers over a fold band; below, the stitched OOS equity line
 * and its drawdown (a second pane), laid out on the same times and synced bar for bar. */
export function StudyCharts({ candles, markers, band, equity, onDrawn }: StudyChartsProps) {
  const priceEl = useRef<HTMLDivElement>(null);
  const equityEl = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const [price, unobservePrice] = makeChart(priceEl.current!);
    const c = price.addSeries(CandlestickSeries, candleOptions);
    c.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.06 } });
    const b = price.addSeries(HistogramSeries, {
      priceScaleId: "folds",
      lastValueVisible: false,
      priceLineVisible: false,
    });
    price.priceScale("folds").applyOptions({ scaleMargins: { top: 0.97, bottom: 0 }, visible: false });
    c.setData(data(candles));
    b.setData(data(band));
    createSeriesMarkers(c, data(markers));

    const [eq, unobserveEquity] = makeChart(equityEl.current!, {
      ...baseOptions,
      layout: { ...baseOptions.layout, panes: { separatorColor: "#cfd8dc" } },
    });
    let unsync = () => {};
    if (equity) {
      const line = eq.addSeries(LineSeries, {
        color: COLORS.equity,
        lineWidth: 2,
        priceLineVisible: false,
        title: "equity",
      });
      const dd = eq.addSeries(
        AreaSeries,
        {
          lineColor: COLORS.down,
          topColor: COLORS.drawdown,
          bottomColor: COLORS.drawdown,
          lineWidth: 1,
          priceLineVisible: false,
          priceFormat: { type: "custom", formatter: (v: number) => `${v.toFixed(1)}%` },
          invertFilledArea: true,
          title: "drawdown",
        },
        1,
      );
      line.setData(data(equity.equity));
      dd.setData(data(equity.drawdown));
      const panes = eq.panes();
      if (panes.length > 1) panes[1].setHeight(90);
      unsync = syncCharts(price, eq);
    }
    // Both hold the same times: fitting both shows the whole study.
    price.timeScale().fitContent();
    eq.timeScale().fitContent();
    // the charts paint in their own animation frame, requested before this one
    const id = requestAnimationFrame(() => onDrawn?.());
    return () => {
      cancelAnimationFrame(id);
      unsync();
      unobservePrice();
      unobserveEquity();
      price.remove();
      eq.remove();
    };
  }, [candles, markers, band, equity, onDrawn]);

  return (
    <div className="study-charts">
      <div className="chart" data-testid="price-chart" style={{ height: 430 }} ref={priceEl} />
      <div className="chart-label">Stitched out-of-sample equity · drawdown</div>
      <div className="chart" data-testid="equity-chart" style={{ height: 260 }} ref={equityEl} />
    </div>
  );
}
