import { useQuery } from "@tanstack/react-query";
import { api, type LeaderboardRow } from "../lib/api";
import { fmtNum, fmtPct, sortRows } from "../lib/format";
import { routeHash } from "../lib/route";
import { Empty, ErrorState, Loading } from "../components/state";

type Col = { key: keyof LeaderboardRow; label: string; fmt?: (v: never) => string; num?: boolean };

const COLS: Col[] = [
  { key: "rank", label: "#", num: true },
  { key: "strategy", label: "strategy" },
  { key: "symbol", label: "symbol" },
  { key: "timeframe", label: "tf" },
  { key: "oos_sharpe_ratio", label: "OOS Sharpe", fmt: fmtNum, num: true },
  { key: "oos_sortino_ratio", label: "Sortino", fmt: fmtNum, num: true },
  { key: "oos_total_return", label: "OOS return", fmt: fmtPct, num: true },
  { key: "oos_cagr", label: "CAGR", fmt: fmtPct, num: true },
  { key: "oos_max_drawdown", label: "Max DD", fmt: fmtPct, num: true },
  { key: "oos_trade_count", label: "trades", num: true },
  { key: "deflated_sharpe_ratio", label: "DSR", fmt: fmtNum, num: true },
  { key: "pbo", label: "PBO", fmt: fmtNum, num: true },
  { key: "wf_efficiency", label: "WFE", fmt: fmtNum, num: true },
];

export function LeaderboardView({ sort, dir }: { sort?: string; dir?: "asc" | "desc" }) {
  const q = useQuery({ queryKey: ["leaderboard"], queryFn: api.leaderboard });
  const key = (COLS.find((c) => c.key === sort)?.key ?? "rank") as keyof LeaderboardRow;
  const direction = dir ?? "asc";
  const header = (
    <h2>Leaderboard <small className="muted">ranked by out-of-sample Sharpe · click a column to sort, a row to open</small></h2>
  );
  if (q.isError) return <section data-testid="leaderboard-view">{header}<ErrorState title="Leaderboard unavailable" error={q.error} /></section>;
  if (!q.data) return <section data-testid="leaderboard-view">{header}<Loading what="leaderboard" /></section>;
  if (!q.data.rows.length)
    return <section data-testid="leaderboard-view">{header}<Empty>No studies ranked yet: materialize studies and the leaderboard asset.</Empty></section>;
  const rows = sortRows(q.data.rows, key, direction);
  const open = (id: string) => (window.location.hash = routeHash({ view: "study", id }));
  return (
    <section data-testid="leaderboard-view">
      {header}
      <table className="grid clickable" data-testid="leaderboard-table">
        <thead>
          <tr>
            {COLS.map((c) => {
              const active = c.key === key;
              const next = active && direction === "asc" ? "desc" : active ? "asc" : c.num && c.key !== "rank" ? "desc" : "asc";
              return (
                <th key={c.key} className={c.num ? "num" : undefined} aria-sort={active ? (direction === "asc" ? "ascending" : "descending") : "none"}>
                  <a href={routeHash({ view: "leaderboard", sort: c.key, dir: next })} data-testid={`sort-${c.key}`}>
                    {c.label}
                    {active ? (direction === "asc" ? " ▲" : " ▼") : ""}
                  </a>
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.study_id} data-testid="leaderboard-row" data-study-id={r.study_id} onClick={() => open(r.study_id)} tabIndex={0} onKeyDown={(e) => e.key === "Enter" && open(r.study_id)}>
              {COLS.map((c) => {
                const v = r[c.key];
                return (
                  <td key={c.key} className={c.num ? "num" : undefined}>
                    {c.fmt ? c.fmt(v as never) : v == null ? "—" : String(v)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
