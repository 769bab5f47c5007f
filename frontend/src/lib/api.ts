// Typed access to the Maestro API (/api/v2). Shapes mirror api/models.py.

export const API = "/api/v2";

export type Num = number | null;

export interface Health {
  status: "ok";
  data_dir: string;
  lake_exchange: string;
  symbols: string[];
  timeframes: string[];
  studies_published: number;
  studies_expected: number;
  studies_running: number;
  leaderboard: boolean;
}

export interface ParameterSpace {
  type: "int" | "float" | "categorical";
  low?: number | null;
  high?: number | null;
  choices?: unknown[] | null;
}

export interface StrategyInfo {
  name: string;
  description: string;
  defaults: Record<string, unknown>;
  space: Record<string, ParameterSpace>;
  warmup?: number | null;
  version?: string | null;
  source_kind?: "builtin" | "file" | "package";
  source?: string;
  /** Why the strategy cannot be loaded (file, line); null when it loads. */
  error?: string | null;
}

/** A leaderboard row: the study's keys plus one figure per column of `Meta.leaderboard_columns`. */
export interface LeaderboardRow {
  rank: number;
  study_id: string;
  strategy: string;
  symbol: string;
  timeframe: string;
  updated_at: string | null;
  [figure: string]: Num | string | null;
}

/** A column the API defines (name, label, number format): tables render these generically. */
export interface Column {
  name: string;
  label: string;
  format: "ratio" | "percent" | "count" | "text";
  /** The values a text column takes (the leaderboard filters on them). */
  choices?: string[] | null;
}

export interface StudySetting {
  name: string;
  type: "int" | "float" | "bool" | "str";
  default: unknown;
  description: string;
  low?: number | null;
  high?: number | null;
  choices?: string[] | null;
}

export interface Meta {
  leaderboard_columns: Column[];
  study_settings: StudySetting[];
}

export interface Leaderboard {
  count: number;
  rows: LeaderboardRow[];
}

export type Metrics = Record<string, Num>;

export type Scheme = "walk_forward" | "cpcv";
export type VerdictName = "robust" | "fragile" | "overfit" | "insufficient";

export interface VerdictCheck {
  name: string;
  value: Num;
  status: "pass" | "warn" | "fail" | "missing";
  reason: string;
}

/** GET /optimization/{id}/validation */
export interface Validation {
  study_id: string;
  scheme: Scheme;
  verdict: VerdictName;
  reasons: string[];
  checks: VerdictCheck[];
  thresholds: Record<string, number>;
  oos_trade_count: Num;
  deflated_sharpe_ratio: Num;
  pbo: Num;
  wf_efficiency: Num;
}

export interface Interval {
  estimate: Num;
  low: Num;
  high: Num;
  std?: Num;
}

/** Quantiles of the resampled equity (growth of 1) at evenly spaced OOS bars. */
export interface Fan {
  timestamp: number[];
  index: number[];
  quantiles: Record<string, Num[]>;
}

export interface TradeMonteCarlo {
  n_trades: number;
  n_shuffles: number;
  observed_max_drawdown?: Num;
  total_return?: Num;
  max_drawdown?: { mean: Num; q05: Num; median: Num; q95: Num; worst: Num } | null;
  probability_worse?: Num;
  error?: string | null;
}

/** GET /optimization/{id}/bootstrap */
export interface Bootstrap {
  study_id: string;
  method: string;
  block_length: Num;
  n_resamples: number | null;
  confidence: Num;
  n_obs: number | null;
  sharpe_ratio: Interval | null;
  cagr: Interval | null;
  max_drawdown: Interval | null;
  total_return: Interval | null;
  probability_of_loss: Num;
  fan: Fan | null;
  error: string | null;
  trade_monte_carlo: TradeMonteCarlo | null;
}

export interface PathMetrics {
  path: number;
  splits: number[];
  sharpe_ratio: Num;
  total_return: Num;
  cagr: Num;
  max_drawdown: Num;
  trade_count: Num;
}

export interface PathEquity {
  count: number;
  bars: number;
  timestamp: number[];
  /** One list per path, by path number. */
  equity: Num[][];
}

export interface CpcvGroup {
  group: number;
  start_index: number;
  stop_index: number;
  start: number | null;
  end: number | null;
}

/** GET /optimization/{id}/cpcv */
export interface Cpcv {
  study_id: string;
  n_groups: number;
  n_test_groups: number;
  n_splits: number;
  n_paths: number;
  purge_bars: number;
  embargo_bars: number;
  representative_path: number;
  sharpe_ratio: { mean: Num; std: Num; min: Num; max: Num; share_below_zero: Num; quantiles: Record<string, Num> };
  paths: PathMetrics[];
  groups: CpcvGroup[];
  splits: { fold: number; test_groups: number[]; paths: number[]; train_bars: number; test_bars: number }[];
  equity: PathEquity | null;
}

export interface HeatmapAxis {
  name: string;
  kind: "numeric" | "categorical";
  log?: boolean;
  edges?: number[] | null;
  centers?: number[] | null;
  categories?: unknown[] | null;
}

export interface Heatmap {
  x: HeatmapAxis;
  y: HeatmapAxis;
  /** rows: y bins, columns: x bins */
  values: Num[][];
  counts: number[][];
  chosen: { fold: number; x: unknown; y: unknown }[];
}

/** GET /optimization/{id}/plateau */
export interface Plateau {
  study_id: string;
  score: Num;
  objective: string | null;
  n_scored: number;
  folds: { fold: number; score: Num; n_neighbours?: number | null; n_trials?: number | null }[];
  importance: Record<string, number>;
  heatmap: Heatmap | null;
}

export interface CrossCheckFold {
  fold: number;
  sharpe_v2: Num;
  sharpe_v1: Num;
  return_v2: Num;
  return_v1: Num;
  trades_v2: Num;
  trades_v1: Num;
  deviation: { sharpe: Num; total_return: Num; trade_count: Num };
}

/** GET /optimization/{id}/cross-check */
export interface CrossCheck {
  study_id: string;
  engine: string;
  tolerance: Num;
  passed: boolean | null;
  max_deviation: Num;
  unsupported: string | null;
  folds: CrossCheckFold[];
  seconds: Num;
}

export interface Fold {
  fold: number;
  is_start: string;
  is_end: string;
  oos_start: string;
  oos_end: string;
  is_bars: number;
  oos_bars: number;
  best_params: Record<string, unknown>;
  best_value: Num;
  best_trial: number | null;
  wf_efficiency: Num;
  is_metrics: Metrics;
  oos_metrics: Metrics;
  trials: Record<string, number>;
}

export interface Progress {
  study_id: string;
  status: "pending" | "running" | "completed" | "failed";
  run_id?: string | null;
  fold?: number | null;
  n_folds?: number | null;
  trials_done?: number | null;
  n_trials?: number | null;
  best_value?: Num;
  error?: string | null;
  updated_at?: string | null;
}

export interface StudyDetail {
  study_id: string;
  strategy: string;
  symbol: string;
  timeframe: string;
  status: Progress["status"];
  published: boolean;
  version: string | null;
  /** Fingerprint of the strategy code that produced the results. */
  strategy_version?: string | null;
  strategy_source?: string | null;
  /** The strategy's code version now (differs when it was edited since). */
  strategy_current_version?: string | null;
  scheme?: Scheme | null;
  verdict?: VerdictName | null;
  oos: Metrics | null;
  deflated_sharpe_ratio: Num;
  pbo: Num;
  wf_efficiency: Num;
  n_folds: number | null;
  n_trials_total: number | null;
  oos_start: string | null;
  oos_end: string | null;
  folds: Fold[];
}

/** Column-wise OHLCV; timestamp = bar open, epoch ms UTC. */
export interface Bars {
  symbol: string;
  timeframe: string;
  exchange: string;
  count: number;
  truncated: boolean;
  timestamp: number[];
  open: number[];
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
}

export interface Equity {
  study_id: string;
  count: number;
  timestamp: number[];
  equity: Num[];
  returns: Num[];
  drawdown: Num[];
  fold: number[];
}

export interface Trade {
  fold: number;
  side: "long" | "short";
  entry_time: string;
  exit_time: string | null;
  entry_price: number;
  exit_price: Num;
  size: number;
  fees: number;
  pnl: Num;
  return: Num;
  status: "open" | "closed";
}

export interface Trades {
  study_id: string;
  count: number;
  trades: Trade[];
}

export interface HistoryPoint {
  number: number;
  state: string;
  value: Num;
  best_so_far: Num;
}

export interface InsightsFold {
  fold: number;
  history?: HistoryPoint[];
  importances?: Record<string, number>;
}

export interface Insights {
  study_id: string;
  folds: InsightsFold[];
  importances: Record<string, number>;
  evaluator?: string | null;
}

/** A study to run; any study setting of `Meta.study_settings` may be given too. */
export interface StudyRequest {
  strategy: string;
  symbol: string;
  timeframe: string;
  [setting: string]: unknown;
}

export interface StudySubmitted {
  study_id: string;
  run_id: string;
  partition_key: string;
  dagster_run_url: string;
  progress_url: string;
}

/** An HTTP error carrying the API's own message (FastAPI `detail`). */
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The human message of a FastAPI error body: a string detail or the list of field errors. */
export function errorMessage(status: number, body: unknown): string {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d: { loc?: unknown[]; msg?: string }) => {
        const field = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "";
        return field ? `${field}: ${d.msg ?? ""}` : (d.msg ?? "");
      })
      .join("; ");
  }
  return `HTTP ${status}`;
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(API + path, init);
  if (!res.ok) {
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, errorMessage(res.status, body));
  }
  return (await res.json()) as T;
}

export const get = <T>(path: string) => request<T>(path);

export function post<T>(path: string, body: unknown): Promise<T> {
  return request<T>(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

export const api = {
  health: () => get<Health>("/health"),
  strategies: () => get<StrategyInfo[]>("/strategies"),
  meta: () => get<Meta>("/meta"),
  leaderboard: (verdicts: string[] = []) => {
    const q = new URLSearchParams({ limit: "1000" });
    for (const v of verdicts) q.append("verdict", v);
    return get<Leaderboard>(`/leaderboard?${q}`);
  },
  study: (id: string) => get<StudyDetail>(`/optimization/${encodeURIComponent(id)}`),
  trades: (id: string) => get<Trades>(`/optimization/${encodeURIComponent(id)}/trades`),
  equity: (id: string) => get<Equity>(`/optimization/${encodeURIComponent(id)}/equity`),
  insights: (id: string) => get<Insights>(`/optimization/${encodeURIComponent(id)}/insights`),
  validation: (id: string) => get<Validation>(`/optimization/${encodeURIComponent(id)}/validation`),
  bootstrap: (id: string) => get<Bootstrap>(`/optimization/${encodeURIComponent(id)}/bootstrap`),
  cpcv: (id: string, points?: number) =>
    get<Cpcv>(`/optimization/${encodeURIComponent(id)}/cpcv${points ? `?points=${points}` : ""}`),
  plateau: (id: string) => get<Plateau>(`/optimization/${encodeURIComponent(id)}/plateau`),
  crossCheck: (id: string) => get<CrossCheck>(`/optimization/${encodeURIComponent(id)}/cross-check`),
  bars: (slug: string, timeframe: string, start?: string, end?: string) => {
    const q = new URLSearchParams({ timeframe });
    if (start) q.set("start", start);
    if (end) q.set("end", end);
    return get<Bars>(`/bars/${encodeURIComponent(slug)}?${q}`);
  },
  submit: (req: StudyRequest) => post<StudySubmitted>("/optimization", req),
};

export const reportUrl = (id: string) => `${API}/optimization/${encodeURIComponent(id)}/report`;

/** ws(s)://host/api/v2/optimization/{id}/progress[?run_id=] for the current page's origin. */
export function progressSocketUrl(loc: { protocol: string; host: string }, id: string, runId?: string) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  const q = runId ? `?run_id=${encodeURIComponent(runId)}` : "";
  return `${scheme}//${loc.host}${API}/optimization/${encodeURIComponent(id)}/progress${q}`;
}
