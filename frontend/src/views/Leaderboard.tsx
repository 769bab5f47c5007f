import { useQuery } from "@tanstack/react-query";
import { api, type Column, type LeaderboardRow } from "../lib/api";
import { fmtBy, sortRows } from "../lib/format";
import { routeHash } from "../lib/route";
import { Empty, ErrorState, Loading } from "../components/state";

type Col = { key: string; label: string; format: Column["format"]; num: boolean };

// The study's keys; the figure columns (their labels and formats) come from GET /meta.
const KEY_COLS: Col[] = [
  { key: "rank", label: "#", format: "count", num: true },
  { key: "strategy", label: "strategy", format: "text", num: false },
  { key: "symbol", label: "symbol", format: "text", num: false },
  { key: "timeframe", label: "tf", format: "text", num: false },
  // The fingerprint of the strategy code each row was produced with.
  { key: "strategy_version", label: "code", format: "text", num: false },
];

export function leaderboardColumns(figures: Column[]): Col[] {
  return [...KEY_COLS, ...figures.map((c) => ({ key: c.name, label: c.label, format: c.format, num: true }))];
}

export function LeaderboardView({ sort, dir }: { sort?: string; dir?: "asc" | "desc" }) {
  const q = useQuery({ queryKey: ["leaderboard"], queryFn: api.leaderboard });
  const meta = useQuery({ queryKey: ["meta"], queryFn: api.meta, staleTime: Infinity });
  const COLS = leaderboardColumns(meta.data?.leaderboard_columns ?? []);
  const key = (COLS.find((c) => c.key === sort)?.key ?? "rank") as keyof LeaderboardRow;
  const direction = dir ?? "asc";
  const header = (
    <h2>Leaderboard <small className="muted">out-of-sample figures, ranked by Sharpe · click a column to sort, a row to open</small></h2>
  );
  if (meta.isError) return <section data-testid="leaderboard-view">{header}<ErrorState title="Leaderboard unavailable" error={meta.error} /></section>;
  if (q.isError) return <section data-testid="leaderboard-view">{header}<ErrorState title="Leaderboard unavailable" error={q.error} /></section>;
  if (!q.data || !meta.data) return <section data-testid="leaderboard-view">{header}<Loading what="leaderboard" /></section>;
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
                    {fmtBy(c.format, v)}
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
